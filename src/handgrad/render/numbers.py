"""Numbers and arrays as text, shared by the terminal and Markdown renderers."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from handgrad.precision import Precision, digits_text, exact_latex, exact_text

LONG_EXACT = 240  # an exact form longer than this is left to the JSON
ELLIPSIS_AFTER = 12  # rows or columns beyond this are summarised as first 5 … last 5
KEEP = 5


def format_number(value: Any, digits: int) -> str:
    """`value` to `digits` significant digits; a zero (negative zero included) prints as 0."""
    number = float(value)
    if number == 0.0:
        return "0"
    if not math.isfinite(number):
        return str(number)
    return f"{number:.{digits}g}"


def _kept(n: int, keep: int = KEEP, limit: int = ELLIPSIS_AFTER) -> list[int | None]:
    """Indices to show along an axis of length n; None marks the elided middle."""
    if n <= limit:
        return list(range(n))
    return [*range(keep), None, *range(n - keep, n)]


def number_grid(
    value: Any, digits: int, max_width: int | None = None, max_columns: int = ELLIPSIS_AFTER
) -> list[list[str]]:
    """A 2-D grid of formatted entries (a vector becomes one column); elisions are '⋯', '⋮'.

    Rows beyond 12 are elided to the first and last 5; columns are elided as far as needed
    for the aligned rows to fit `max_width` characters and `max_columns` columns.
    """
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return [[format_number(array, digits)]]
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    columns = array.shape[1]
    options = [(columns, columns)] + [(2 * k + 1, k) for k in range(KEEP, 0, -1)]
    grid: list[list[str]] = []
    for limit, keep in options:
        if limit > max_columns and keep != 1:
            continue
        grid = _grid(array, digits, _kept(columns, keep, limit))
        if max_width is None or len(aligned_rows(grid)[0]) <= max_width:
            break
    return grid


def _grid(array: np.ndarray, digits: int, columns: list[int | None]) -> list[list[str]]:
    grid = []
    for i in _kept(array.shape[0]):
        row = []
        for j in columns:
            if i is None:
                row.append("⋮" if j is not None else "⋱")
            elif j is None:
                row.append("⋯")
            else:
                row.append(format_number(array[i, j], digits))
        grid.append(row)
    return grid


def aligned_rows(grid: list[list[str]]) -> list[str]:
    """Rows of equal width, each column aligned on its decimal point, columns two spaces apart."""
    columns = list(zip(*grid, strict=True))
    widths = []
    for column in columns:
        heads = [_split(entry)[0] for entry in column]
        tails = [_split(entry)[1] for entry in column]
        widths.append((max(map(len, heads)), max(map(len, tails))))
    rows = []
    for row in grid:
        cells = []
        for entry, (head_width, tail_width) in zip(row, widths, strict=True):
            head, tail = _split(entry)
            cells.append(head.rjust(head_width) + tail.ljust(tail_width))
        rows.append("  ".join(cells))
    width = max(len(row.rstrip()) for row in rows)
    return [row.rstrip().ljust(width) for row in rows]


def _split(entry: str) -> tuple[str, str]:
    """An entry cut before its decimal point (or exponent), for alignment."""
    for mark in (".", "e"):
        if mark in entry:
            at = entry.index(mark)
            return entry[:at], entry[at:]
    return entry, ""


def _index_text(index: tuple[int, ...]) -> str:
    return f"[{', '.join(map(str, index))}]" if index else ""


def precise_entries(value: Any, digits: int, precision: Precision) -> list[tuple[str, str]]:
    """(index, text) for every entry of an exact or N-digit value: closed form ≈ decimal."""
    array = np.asarray(value, dtype=object)
    entries = []
    for index in np.ndindex(array.shape):
        entry = array[index]
        if precision.kind == "digits":
            text = digits_text(entry, precision.digits)
        else:
            decimal = format_number(entry, digits)
            if hasattr(entry, "untold"):  # core.exact.Exact: too large to have been written
                entries.append((_index_text(index), f"≈ {decimal}  ({entry.untold})"))
                continue
            exact = exact_text(entry)
            if getattr(entry, "is_Integer", False):
                text = exact
            elif len(exact) > LONG_EXACT:
                text = f"≈ {decimal}  {long_exact_note(len(exact))}"
            else:
                text = f"{exact}  ≈ {decimal}"
        entries.append((_index_text(index), text))
    return entries


@dataclass(frozen=True)
class Matrix:
    """A matrix (a vector as a column) of LaTeX entries, kept apart so that a page too narrow
    for it can show it a few columns at a time. `columns` numbers them from 1; None marks the
    elided middle (⋯)."""

    rows: tuple[tuple[str, ...], ...]
    columns: tuple[int | None, ...]

    @property
    def latex(self) -> str:
        return bmatrix(self.rows)


Term = str | Matrix
# A formula as a chain `a = b ≈ c`: (relation, term) pairs, the first relation empty. A writer
# that cannot fit a chain on one line breaks it before a relation, and a matrix by columns.
Chain = tuple[tuple[str, Term], ...]


def chain_latex(chain: Chain) -> str:
    """The chain on one line."""
    return " ".join(
        f"{relation} {term if isinstance(term, str) else term.latex}".strip()
        for relation, term in chain
    )


def _matrix(cells: list[list[str]]) -> Matrix:
    return Matrix(tuple(map(tuple, cells)), tuple(range(1, len(cells[0]) + 1)))


def latex_precise(value: Any, digits: int, precision: Precision) -> Chain:
    """An exact value as a matrix of closed forms ≈ one of decimals; an N-digit one as digits."""
    array = np.asarray(value, dtype=object)
    grid = array.reshape(-1, 1) if array.ndim == 1 else array
    if precision.kind == "digits":
        cells = [[digits_text(v, precision.digits) for v in row] for row in np.atleast_2d(grid)]
        return (("", _matrix(cells) if array.ndim else cells[0][0]),)
    decimal = [[format_number(v, digits) for v in row] for row in np.atleast_2d(grid)]
    untold = [v for v in array.ravel() if hasattr(v, "untold")]  # core.exact: too large
    if untold:
        shown = _matrix(decimal) if array.ndim else decimal[0][0]
        largest = max(untold, key=lambda v: v.size)
        return (("", shown), ("", rf"\quad \text{{({text_latex(largest.untold)})}}"))
    exact = [[exact_latex(v) for v in row] for row in np.atleast_2d(grid)]
    if any(len(cell) > LONG_EXACT for row in exact for cell in row):
        longest = max(len(cell) for row in exact for cell in row)
        shown = _matrix(decimal) if array.ndim else decimal[0][0]
        return (("", shown), ("", rf"\quad \text{{{text_latex(long_exact_note(longest))}}}"))
    if array.ndim == 0:
        if exact[0][0] == decimal[0][0]:
            return (("", exact[0][0]),)
        return (("", exact[0][0]), (r"\approx", decimal[0][0]))
    if exact == decimal:  # integers: the decimals would only repeat them
        return (("", _matrix(exact)),)
    return (("", _matrix(exact)), (r"\approx", _matrix(decimal)))


def text_latex(text: str) -> str:
    """Plain words for LaTeX's \\text{}: TeX makes -- an en dash, and a command a reader copies
    from the page must keep its two hyphens."""
    return text.replace("--", "-{}-")


def long_exact_note(characters: int) -> str:
    """Where an exact form too long to show is: the reader may have no JSON at hand."""
    return f"(exact form: {characters:,} characters; handgrad solve --exact --format json)"


def bmatrix(cells: Iterable[Iterable[str]]) -> str:
    body = r" \\ ".join(" & ".join(row) for row in cells)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def json_value(value: Any, precision: Precision) -> Any:
    """Nested lists: floats at full float64 precision (−0.0 as 0.0), exact forms as sympy
    strings, N-digit numbers as strings of N significant digits."""
    if precision.kind == "exact":
        return np.vectorize(str, otypes=[object])(np.asarray(value, dtype=object)).tolist()
    if precision.kind == "digits":
        as_text = np.vectorize(lambda v: digits_text(v, precision.digits), otypes=[object])
        return as_text(np.asarray(value, dtype=object)).tolist()
    return (np.asarray(value, dtype=float) + 0.0).tolist()  # adding 0.0 turns −0.0 into 0.0
