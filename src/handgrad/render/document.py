"""A worked solution as a neutral document: headings, paragraphs, display math, notes, tables.

The Markdown, LaTeX and HTML writers each turn these few block types into their own syntax, so
the structure of a worked solution is written once, here. Text is Unicode in the course's
notation; math is LaTeX (`$…$` inline, display blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from handgrad import words
from handgrad.notation import format_shape
from handgrad.precision import Precision
from handgrad.render.numbers import format_number, latex_precise, number_grid
from handgrad.render.terminal import CHECK_LEGEND, describe_network, describe_problem
from handgrad.solution import Quantity, Solution

if TYPE_CHECKING:
    from handgrad.problem import Problem

FLOAT64 = Precision()
LATEX_MAX_COLUMNS = 9  # amsmath's bmatrix holds 10 columns; elide beyond 4 + ⋯ + 4
_ELIDED = {"⋮": r"\vdots", "⋯": r"\cdots", "⋱": r"\ddots"}


@dataclass(frozen=True)
class InlineMath:
    latex: str


@dataclass(frozen=True)
class Bold:
    text: str


Inline = str | InlineMath | Bold


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 for the title, 2 for sections


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class DisplayMath:
    latex: str


@dataclass(frozen=True)
class MathItems:
    """Several short formulas side by side (wrapped as the page needs)."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """A picture: SVG for pages, PNG for PDF and Markdown, with the file name LaTeX includes."""

    svg: str
    png: bytes
    name: str
    caption: str


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-align these columns


Block = Heading | Paragraph | Bullets | DisplayMath | MathItems | Figure | Note | Table


def latex_number(text: str) -> str:
    """'1.5e-05' as 1.5 \\times 10^{-5}; elision marks as \\cdots etc.; others unchanged."""
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
    rows = number_grid(value, digits, max_columns=LATEX_MAX_COLUMNS)
    body = r" \\ ".join(" & ".join(latex_number(entry) for entry in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def _quantity(number: int, q: Quantity, digits: int, precision: Precision) -> list[Block]:
    relation = r"\leftarrow" if q.relation == "←" else "="
    blocks: list[Block] = [
        Paragraph(
            (
                Bold(f"{number}."),
                " ",
                InlineMath(q.symbol.latex),
                f" · shape {format_shape(q.shape)}",
            )
        ),
        DisplayMath(
            f"{q.symbol.latex} {relation} {q.formula.latex} = "
            + latex_value(q.value, digits, precision)
        ),
    ]
    if q.note:
        blocks.append(Note(q.note))
    return blocks


def given_values(problem: Problem, digits: int) -> MathItems:
    """x, y and every parameter, side by side."""
    shown = (lambda a: a) if problem.batched else (lambda a: a[0])
    given = [
        ("X" if problem.batched else "x", shown(problem.x)),
        ("Y" if problem.batched else "y", shown(problem.y)),
        *((f"{n[0]}_{{{n[1:]}}}", v) for n, v in problem.params.items()),
    ]
    return MathItems(tuple(f"{n} = {latex_value(v, digits)}" for n, v in given))


def problem_blocks(problem: Problem, digits: int = 6) -> list[Block]:
    """A problem as set to a student: the network, its conventions and the given values."""

    return [
        Paragraph((describe_problem(problem),)),
        Bullets(tuple(words.conventions(problem))),
        given_values(problem, digits),
    ]


def solution_document(solution: Solution, digits: int = 6) -> list[Block]:
    """Every part of the worked solution, in order, as blocks."""
    problem = solution.problem
    blocks: list[Block] = [
        Heading(f"Worked solution: {problem.name}", 1),
        Paragraph((describe_network(solution),)),
        Paragraph((Bold("Conventions"),)),
        Bullets(tuple(solution.conventions)),
        Heading("Given", 2),
        given_values(problem, digits),
    ]
    opt = problem.spec.optimizer
    repeat = f", applied {opt.steps} times" if opt.steps > 1 else ""
    titles = {
        "forward": "Forward pass",
        "backward": "Backward pass",
        "update": f"Update: θ ← θ − η ∂L/∂θ with η = {opt.learning_rate:g}{repeat}",
    }
    numbered = list(enumerate(solution.quantities, start=1))
    for section, title in titles.items():
        blocks.append(Heading(title, 2))
        for number, q in numbered:
            if q.section == section:
                blocks += _quantity(number, q, digits, solution.precision)
    blocks.append(Heading("Loss", 2))
    history = [format_number(v, digits) for v in solution.history]
    if len(history) == 2:
        blocks.append(
            Paragraph(
                (
                    "Before the step ",
                    InlineMath(f"L = {history[0]}"),
                    ", after it ",
                    InlineMath(f"L = {history[1]}"),
                    ".",
                )
            )
        )
    else:
        rows = tuple(("start" if i == 0 else str(i), v) for i, v in enumerate(history))
        blocks.append(Table(("step", "L"), rows, (True, True)))
    for kink in solution.kinks:
        index = ", ".join(map(str, kink.index))
        blocks.append(
            Note(
                f"Kink: {kink.key}[{index}] = 0 exactly; the derivative does not "
                f"exist there, so {kink.convention} is used."
            )
        )
    blocks.append(Heading("Gradient check", 2))
    first = solution.checks[0]
    check_rows: list[tuple[str, ...]] = []
    for name in first.errors:
        cells = [
            f"{c.errors[name]:.1e} {'✓' if c.passes(name) else '✗'}"
            for c in solution.checks
        ]
        done, total = first.checked[name]
        check_rows.append((name, *cells, f"{done}/{total}"))
    header = ("gradient", *(c.method.replace("_", " ") for c in solution.checks), "entries")
    blocks.append(Table(header, tuple(check_rows), (False, *(True,) * (len(header) - 1))))
    blocks.append(Paragraph((CHECK_LEGEND + ".",)))
    return blocks
