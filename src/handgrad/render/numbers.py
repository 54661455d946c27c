"""Numbers and arrays as text, shared by the terminal and Markdown renderers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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


def format_shape(shape: tuple[int, ...]) -> str:
    """'3' for a vector, '2×3' for a matrix, 'scalar' for a number."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


def _kept(n: int) -> list[int | None]:
    """Indices to show along an axis of length n; None marks the elided middle."""
    if n <= ELLIPSIS_AFTER:
        return list(range(n))
    return [*range(KEEP), None, *range(n - KEEP, n)]


def number_grid(value: Any, digits: int) -> list[list[str]]:
    """A 2-D grid of formatted entries (a vector becomes one column); elisions are '⋯', '⋮'."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return [[format_number(array, digits)]]
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    grid = []
    for i in _kept(array.shape[0]):
        row = []
        for j in _kept(array.shape[1]):
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
