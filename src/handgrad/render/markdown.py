"""The worked solution as Markdown with `$…$` / `$$…$$` math (renders on GitHub and Jupyter)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from handgrad.precision import Precision
from handgrad.render.numbers import format_number, format_shape, latex_precise, number_grid
from handgrad.render.terminal import CHECK_LEGEND, describe_network
from handgrad.solution import Quantity, Solution
from handgrad.verify import passes

FLOAT64 = Precision()
_ELIDED = {"⋮": r"\vdots", "⋯": r"\cdots", "⋱": r"\ddots"}


def latex_number(text: str) -> str:
    """'1.5e-05' as 1.5 \\times 10^{-5}; other entries unchanged."""
    if text in _ELIDED:
        return _ELIDED[text]
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def latex_value(value: Any, digits: int, precision: Precision = FLOAT64) -> str:
    """A number, or a bmatrix (vectors as columns); exact and N-digit values in full."""
    if not precision.is_float64:
        return latex_precise(value, digits, precision)
    if np.ndim(value) == 0:
        return latex_number(format_number(value, digits))
    rows = number_grid(value, digits)
    body = r" \\ ".join(" & ".join(latex_number(entry) for entry in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def _quantity(number: int, q: Quantity, digits: int, precision: Precision) -> list[str]:
    relation = r"\leftarrow" if q.relation == "←" else "="
    lines = [
        f"**{number}.** ${q.symbol.latex}$ · shape {format_shape(q.shape)}",
        "",
        "$$",
        f"{q.symbol.latex} {relation} {q.formula.latex} = "
        + latex_value(q.value, digits, precision),
        "$$",
        "",
    ]
    if q.note:
        lines += [f"> {q.note}", ""]
    return lines


def render_markdown(solution: Solution, digits: int = 6) -> str:
    """The whole worked solution as one Markdown document."""
    problem = solution.problem
    out = [
        f"# Worked solution: {html.escape(problem.name)}",
        "",
        describe_network(solution),
        "",
        "**Conventions**",
        "",
    ]
    out += [f"- {c}" for c in solution.conventions]
    out += ["", "## Given", ""]
    shown = (lambda a: a) if problem.batched else (lambda a: a[0])
    given = [
        ("X" if problem.batched else "x", shown(problem.x)),
        ("Y" if problem.batched else "y", shown(problem.y)),
        *((f"{n[0]}_{{{n[1:]}}}", v) for n, v in problem.params.items()),
    ]
    out += ["$$", r",\quad ".join(f"{n} = {latex_value(v, digits)}" for n, v in given), "$$", ""]
    titles = {
        "forward": "Forward pass",
        "backward": "Backward pass",
        "update": f"Update: θ ← θ − η ∂L/∂θ with η = {problem.spec.optimizer.learning_rate:g}",
    }
    numbered = list(enumerate(solution.quantities, start=1))
    for section, title in titles.items():
        out += [f"## {title}", ""]
        for number, q in numbered:
            if q.section == section:
                out += _quantity(number, q, digits, solution.precision)
    out += ["## Loss", ""]
    if len(solution.history) == 2:
        before, after = solution.history
        out += [
            f"Before the step $L = {format_number(before, digits)}$, after it "
            f"$L = {format_number(after, digits)}$.",
            "",
        ]
    else:
        out += ["| step | L |", "|---:|---:|"]
        out += [
            f"| {'start' if i == 0 else i} | {format_number(v, digits)} |"
            for i, v in enumerate(solution.history)
        ]
        out.append("")
    for kink in solution.kinks:
        index = ", ".join(map(str, kink.index))
        out += [
            f"> **Kink:** `{kink.key}[{index}] = 0` exactly; the derivative does not exist "
            f"there, so {kink.convention} is used.",
            "",
        ]
    out += [
        "## Gradient check",
        "",
        "| gradient | "
        + " | ".join(c.method.replace("_", " ") for c in solution.checks)
        + " | entries |",
        "|---|" + "---:|" * (len(solution.checks) + 1),
    ]
    first = solution.checks[0]
    for name in first.errors:
        cells = [
            f"{c.errors[name]:.1e} {'✓' if passes(c.method, c.errors[name]) else '✗'}"
            for c in solution.checks
        ]
        done, total = first.checked[name]
        out.append(f"| `{name}` | " + " | ".join(cells) + f" | {done}/{total} |")
    out += ["", f"_{CHECK_LEGEND}._", ""]
    return "\n".join(out)
