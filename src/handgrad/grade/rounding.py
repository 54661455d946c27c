"""Rounding carried through a formula: how far a result moves when its written inputs move
within their rounding (the spread), and whether a value is another one rounded.

A value written with K decimals stands for anything within ½·10⁻ᴷ of it; what the inputs give
is then a value plus a spread, the first-order bound Σ |f(input ± δ) − f(input)| over every
entry of every input the student wrote (an input judged correct moves only as far as the true
value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from handgrad.grade.formulas import Formula
from handgrad.grade.keys import Key
from handgrad.grade.tolerance import Tolerance

SECOND_ORDER = 0.02  # the first-order spread is widened by 2% for the terms it leaves out
MAX_SPREAD_WORK = 5_000  # formula evaluations (in steps of descent) one spread may cost


class Move(NamedTuple):
    """How far a given value may stand from what the student really had, entry by entry (row
    form): ± `step` for a value of their own, or exactly `step` (to the true value) for one
    judged correct, which the student either had right or rounded."""

    step: np.ndarray
    both_ways: bool


def spread_of(formula: Formula, values: Mapping[Key, np.ndarray], reads: Iterable[Key],
              moves: Mapping[Key, Move], tolerance: Tolerance) -> np.ndarray:
    """How far `formula(values)` can move, entry by entry, when each input the student
    wrote moves within its rounding (`moves`): Σ over input entries of the largest |change|
    (row form; zeros when nothing moves, when the tolerance allows no rounding, when the
    formula is not finite, or when the moves would cost more than `MAX_SPREAD_WORK`
    evaluations)."""
    base = np.asarray(formula(values), float)
    total = np.zeros(base.shape)
    if not tolerance.rounds or not np.all(np.isfinite(base)):
        return total
    work: list[tuple[Key, np.ndarray, tuple[int, ...], tuple[float, ...]]] = []
    for key in dict.fromkeys(reads):
        move = moves.get(key)
        if move is None or key not in values:
            continue
        value = np.asarray(values[key], float)
        step = np.broadcast_to(move.step, value.shape)
        # full-precision values move by 10⁻¹⁶: nothing to carry, and nothing to pay for
        moving = np.abs(step) > 1e-12 * np.maximum(1.0, np.abs(value))
        signs = (1.0, -1.0) if move.both_ways else (1.0,)
        work += [(key, value, tuple(int(i) for i in index), tuple(s * step[tuple(index)]
                  for s in signs)) for index in np.argwhere(moving)]
    evaluations = sum(len(shifts) for *_, shifts in work)
    if evaluations * getattr(formula, "cost", 1) > MAX_SPREAD_WORK:
        return total
    for key, value, index, shifts in work:
        worst = np.zeros(base.shape)
        for shift in shifts:
            moved = value.copy()
            moved[index] += shift
            change = np.abs(np.asarray(formula({**values, key: moved}), float) - base)
            # a move off the formula's domain (a probability below 0) says nothing
            worst = np.where(np.isfinite(change), np.maximum(worst, change), worst)
        total += worst
    return total * (1 + SECOND_ORDER)


def rounded_from(given: np.ndarray, value: np.ndarray) -> bool:
    """Whether `given` is `value` rounded to 1–6 decimals or significant digits."""
    value = np.asarray(value, float)
    for places in range(1, 7):
        if np.allclose(given, np.round(value, places), rtol=1e-9, atol=1e-12):
            return True
        with np.errstate(divide="ignore"):
            magnitude = np.where(value == 0, 0, np.floor(np.log10(np.abs(value))))
        significant = np.round(value / 10**magnitude, places - 1) * 10**magnitude
        if np.allclose(given, significant, rtol=1e-9, atol=1e-12):
            return True
    return False
