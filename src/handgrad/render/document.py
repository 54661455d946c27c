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
from handgrad.render.numbers import (
    Chain,
    Matrix,
    chain_latex,
    format_number,
    latex_precise,
    number_grid,
)
from handgrad.render.terminal import CHECK_LEGEND, describe_network, describe_problem
from handgrad.solution import Quantity, Solution

if TYPE_CHECKING:
    from handgrad.problem import Problem

FLOAT64 = Precision()
# The page every document is laid out for: A4, 11 pt type, 2 cm margins (latex.PREAMBLE). Wide
# formulas are broken and figures sized to fit it, so that text on the page stays readable.
LINE_WIDTH_PT = 483.7  # 210 mm less two margins, in TeX points
TEXT_HEIGHT_PT = 731.2  # 297 mm less two margins
SMALLEST_TEXT_PT = 7.0  # no text on the page smaller than this (a figure's labels included)
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
    chain: Chain = ()  # the same formula, to break where a page is too narrow for it


@dataclass(frozen=True)
class MathItems:
    """Several short formulas side by side (wrapped as the page needs)."""

    items: tuple[str, ...]
    chains: tuple[Chain, ...] = ()  # the same formulas, to break where a page is too narrow


@dataclass(frozen=True)
class Figure:
    """A picture: SVG for pages, PNG for PDF and Markdown, with the file name LaTeX includes.

    `width` is the share of the line it takes on a page (1: the whole line), chosen so that it
    fits the page with its text readable.
    """

    svg: str
    png: bytes
    name: str
    caption: str
    width: float = 1.0


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
    return chain_latex(value_chain(value, digits, precision))


def value_chain(value: Any, digits: int, precision: Precision = FLOAT64) -> Chain:
    """A value as a chain: one term, or a closed form ≈ its decimals for an exact one."""
    if not precision.is_float64:
        return latex_precise(value, digits, precision)
    if np.ndim(value) == 0:
        return (("", latex_number(format_number(value, digits))),)
    grid = number_grid(value, digits, max_columns=LATEX_MAX_COLUMNS)
    rows = tuple(tuple(latex_number(entry) for entry in row) for row in grid)
    return (("", Matrix(rows, _column_numbers(grid, np.shape(value)))),)


def _column_numbers(grid: list[list[str]], shape: tuple[int, ...]) -> tuple[int | None, ...]:
    """The 1-based column numbers a grid shows, None where it elides (⋯)."""
    total = shape[1] if len(shape) == 2 else 1
    first = grid[0]
    if "⋯" not in first:
        return tuple(range(1, len(first) + 1))
    cut = first.index("⋯")
    after = len(first) - cut - 1
    return (*range(1, cut + 1), None, *range(total - after + 1, total + 1))


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
            + latex_value(q.value, digits, precision),
            _equals(
                (("", q.symbol.latex), (relation, q.formula.latex)),
                value_chain(q.value, digits, precision),
            ),
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
    chains = tuple(_equals((("", n),), value_chain(v, digits)) for n, v in given)
    return MathItems(tuple(chain_latex(chain) for chain in chains), chains)


def _equals(head: Chain, value: Chain) -> Chain:
    """`head = value`: the value's first term takes the equals sign."""
    (_, first), *rest = value
    return (*head, ("=", first), *rest)


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
