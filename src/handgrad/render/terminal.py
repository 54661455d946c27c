"""The worked solution for a terminal (rich): tables of formula, shape and value per quantity."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from handgrad.notation import format_shape
from handgrad.precision import Precision
from handgrad.render.numbers import (
    aligned_rows,
    format_number,
    number_grid,
    precise_entries,
)
from handgrad.solution import Quantity, Solution
from handgrad.text import shown

CHECK_LEGEND = (
    "relative error = max |reference − ours| / max(max |reference|, max |ours|, floor) over a "
    "gradient's entries. Finite differences: central, forward pass only, step "
    "s = 1e-6·max(1, |θ|); floor = what rounding of L explains, "
    "10·ε·max(1, |L|)·max(1, max |x|)/2s, over the tolerance. PyTorch and JAX: "
    "floor = 1e-6·max(1, |L|)·max(1, max |x|)"
)
TITLE_LIMIT = 200  # characters of a user-written title shown
FORMULA_MIN_WIDTH = 18  # the formula column may wrap down to this to leave room for values


def _titled_table(title: str, style: box.Box, show_lines: bool = False) -> Table:
    """A table with its title on the left, as every table of a worked solution has."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=style,
        show_lines=show_lines,
        header_style="dim",
    )


def matrix_text(value: Any, digits: int, max_width: int | None = None) -> str:
    """An array as bracketed, aligned lines (⎡ ⎤), columns elided to fit `max_width`."""
    if np.ndim(value) == 0:
        return format_number(value, digits)
    inner = None if max_width is None else max_width - 4  # the brackets and their spaces
    rows = aligned_rows(number_grid(value, digits, inner))
    if len(rows) == 1:
        return f"[ {rows[0]} ]"
    lines = []
    for i, row in enumerate(rows):
        left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == len(rows) - 1 else ("⎢", "⎥")
        lines.append(f"{left} {row} {right}")
    return "\n".join(lines)


def describe_network(solution: Solution) -> str:
    """One line: 2 → 3 → 3, ReLU hidden layer, softmax output, cross-entropy (ε = 0.3), η = 0.1."""
    return describe_problem(solution.problem)


def describe_problem(problem: Any) -> str:
    """describe_network for a Problem."""
    arch, loss, opt = problem.architecture, problem.spec.loss, problem.spec.optimizer
    hidden_count = arch.depth - 1
    parts = [" → ".join(map(str, arch.layers))]
    if hidden_count:
        plural = "s" if hidden_count > 1 else ""
        parts.append(f"{arch.hidden.rule.label} hidden layer{plural}")
    parts.append(f"{arch.output} output")
    if arch.loss == "cross_entropy":
        parts.append(f"cross-entropy, ε = {loss.label_smoothing:g}")
    else:
        parts.append("squared error")
    parts.append(f"η = {opt.learning_rate:g}")
    if opt.steps > 1:
        parts.append(f"{opt.steps} steps")
    if problem.batched:
        parts.append(f"batch of {problem.batch_size}")
    return " · ".join(parts)


def value_text(value: Any, digits: int, precision: Precision, max_width: int) -> str:
    """A value as bracketed aligned numbers (float64) or one entry per line (exact, N digits)."""
    if precision.is_float64:
        return matrix_text(value, digits, max_width)
    return "\n".join(
        f"{index} {text}".strip() for index, text in precise_entries(value, digits, precision)
    )


def _value_budget(width: int, *fixed: int) -> int:
    """Columns left for values: the table's width less the fixed columns and the borders."""
    return max(24, width - sum(fixed) - 3 * (len(fixed) + 1) - 1)


def _quantity_table(
    title: str, quantities: list[Quantity], digits: int, precision: Precision, width: int
) -> Table:
    table = _titled_table(title, box.ROUNDED, show_lines=True)
    table.add_column("quantity", style="bold cyan", no_wrap=True)
    table.add_column("formula")
    table.add_column("shape", justify="right", style="dim", no_wrap=True)
    table.add_column("value", no_wrap=precision.is_float64, overflow="fold")
    symbol_width = max(len("quantity"), *(len(q.symbol.text) + 2 for q in quantities))
    formula_width = min(FORMULA_MIN_WIDTH, max(len(q.formula.text) + 2 for q in quantities))
    shape_width = max(len(format_shape(q.shape)) for q in quantities)
    budget = _value_budget(width, symbol_width, formula_width, max(shape_width, 5))
    for q in quantities:
        mark = " *" if q.note else ""
        table.add_row(
            Text(q.symbol.text + mark),
            Text(f"{q.relation} {q.formula.text}"),
            format_shape(q.shape),
            Text(value_text(q.value, digits, precision, budget)),
        )
    return table


def _notes(quantities: list[Quantity]) -> list[RenderableType]:
    noted = [q for q in quantities if q.note]
    return [Text.assemble(("* ", "dim"), (q.symbol.text, "cyan"), ": ", q.note) for q in noted]


def _given_table(solution: Solution, digits: int, width: int) -> Table:
    problem = solution.problem
    table = _titled_table("Given", box.ROUNDED, show_lines=True)
    table.add_column("quantity", style="bold cyan", no_wrap=True)
    table.add_column("shape", justify="right", style="dim", no_wrap=True)
    table.add_column("value", no_wrap=True)
    shown = (lambda a: a) if problem.batched else (lambda a: a[0])
    rows = [
        ("X" if problem.batched else "x", shown(problem.x)),
        ("Y" if problem.batched else "y", shown(problem.y)),
        *problem.params.items(),
    ]
    budget = _value_budget(
        width, len("quantity"), max(5, *(len(format_shape(v.shape)) for _, v in rows))
    )
    for name, value in rows:
        table.add_row(name, format_shape(value.shape), Text(matrix_text(value, digits, budget)))
    return table


def _history(solution: Solution, digits: int) -> RenderableType:
    history = solution.history
    if len(history) == 2:
        change = history[1] - history[0]
        return Text.assemble(
            ("Loss ", "bold"),
            f"before the step {format_number(history[0], digits)} → after ",
            (format_number(history[1], digits), "bold"),
            f"  (change {format_number(change, digits)})",
        )
    table = _titled_table("Loss after each step", box.SIMPLE_HEAD, show_lines=False)
    table.add_column("step", justify="right")
    table.add_column("L", justify="right")
    steps = list(range(len(history)))
    if len(steps) > 16:
        steps = [*steps[:8], -1, *steps[-5:]]
    for step in steps:
        if step < 0:
            table.add_row("⋮", "⋮")
        else:
            table.add_row("start" if step == 0 else str(step), format_number(history[step], digits))
    return table


def _checks(solution: Solution) -> Table:
    table = _titled_table("Gradient check", box.SIMPLE_HEAD, show_lines=False)
    table.add_column("gradient", style="cyan")
    for check in solution.checks:
        table.add_column(check.method.replace("_", " "), justify="right")
    table.add_column("entries", justify="right", style="dim")
    first = solution.checks[0]
    for name in first.errors:
        cells = []
        for check in solution.checks:
            error = check.errors[name]
            ok = "✓" if check.passes(name) else "✗"
            cells.append(f"{error:.1e} {ok}")
        done, total = first.checked[name]
        table.add_row(name, *cells, f"{done}/{total}" if done < total else str(total))
    return table


def _kinks(solution: Solution) -> list[RenderableType]:
    out: list[RenderableType] = []
    for kink in solution.kinks:
        index = ", ".join(map(str, kink.index))
        name = kink.key.upper() if solution.problem.batched else kink.key
        out.append(
            Text.assemble(
                ("⚠ ", "yellow"),
                f"{name}[{index}] = 0 exactly: the activation has no "
                f"derivative there; used {kink.convention}. Finite differences straddle the kink "
                "there, so they can disagree with any convention for the gradients it feeds.",
            )
        )
        out.append(Text())
    return out


def _update_title(solution: Solution) -> str:
    opt = solution.problem.spec.optimizer
    repeat = f", applied {opt.steps} times" if opt.steps > 1 else ""
    return f"Update: θ ← θ − η ∂L/∂θ with η = {opt.learning_rate:g}{repeat}"


def solution_renderable(solution: Solution, digits: int = 6, width: int = 100) -> Group:
    """Everything `handgrad solve` prints, as one rich renderable."""
    heading = Text.assemble(
        ("Worked solution: ", "bold"),
        (shown(solution.problem.name, TITLE_LIMIT), "bold"),
        "\n",
        describe_network(solution),
    )
    conventions = Text("\n".join(f"• {c}" for c in solution.conventions))
    parts: list[RenderableType] = [
        Panel(heading, box=box.HEAVY, expand=False),
        Text("Conventions", style="bold"),
        conventions,
        Text(),
        _given_table(solution, digits, width),
    ]
    for section, title in (
        ("forward", "Forward pass"),
        ("backward", "Backward pass"),
        ("update", _update_title(solution)),
    ):
        quantities = [q for q in solution.quantities if q.section == section]
        parts += [
            Text(),
            _quantity_table(title, quantities, digits, solution.precision, width),
            *_notes(quantities),
        ]
    parts += [
        Text(),
        _history(solution, digits),
        Text(),
        *_kinks(solution),
        _checks(solution),
        Text(CHECK_LEGEND, style="dim"),
    ]
    return Group(*parts)


def render_text(solution: Solution, digits: int = 6, width: int = 100) -> str:
    """The terminal rendering as plain text (no colour), e.g. for --output FILE."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False
    )
    console.print(solution_renderable(solution, digits, width))
    return buffer.getvalue()
