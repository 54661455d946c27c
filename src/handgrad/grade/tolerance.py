"""How close a given value must be: the tolerance, and the decimals each written value shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from handgrad.grade.keys import Key

Decimals = int | Literal["auto"] | None

EXACT = 30  # the decimals of a fraction such as "4/5": exact, a half unit of 5·10⁻³¹


@dataclass(frozen=True)
class Tolerance:
    """How close a given value must be to count as right.

    `rtol`: |given − true| ≤ rtol·|true| + rtol·10⁻³·max(1, max |true|) entry by entry, plus,
    with `decimals`, the half unit of the value's rounding carried through the formulas:
    `decimals` "auto" (the default) reads the decimals each value shows; K: every value is
    taken as rounded to K decimals, and the relative part is dropped (±½ in the K-th decimal
    and what the inputs' rounding carries); None: no rounding allowance at all, `rtol` alone.
    """

    rtol: float = 1e-3
    decimals: Decimals = "auto"

    def __post_init__(self) -> None:
        if not (self.decimals is None or self.decimals == "auto" or (
                isinstance(self.decimals, int) and 0 <= self.decimals <= EXACT)):
            raise ValueError(f"decimals must be 'auto', None or 0 to {EXACT}, "
                             f"not {self.decimals!r}")

    @property
    def rounds(self) -> bool:
        """Whether given values carry a rounding allowance (auto or K decimals)."""
        return self.decimals is not None

    def half_unit(self, written: int | None) -> float:
        """δ, the half unit of a value written with `written` decimals (None: exact)."""
        places = self.decimals if isinstance(self.decimals, int) else written
        if self.decimals is None or places is None:
            return 0.0
        return 0.5 * 10.0 ** (-places)

    def close(self, given: np.ndarray, reference: np.ndarray, allowance: Any = 0.0) -> bool:
        """Whether `given` is within the tolerance (plus `allowance`, the rounding spread
        entry by entry) of `reference`."""
        g, r = np.asarray(given, float), np.asarray(reference, float)
        if g.shape != r.shape or not np.all(np.isfinite(r)):
            return False
        allowed = np.asarray(allowance, float) * (1 + 1e-9) + 1e-12
        if not isinstance(self.decimals, int):  # a fixed K drops the relative part
            scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
            allowed = allowed + self.rtol * np.abs(r) + self.rtol * 1e-3 * scale
        return bool(np.all(np.abs(g - r) <= allowed))

    def describe(self, shown_decimals: int | None = None) -> str:
        """The tolerance in words, as the report shows it; `shown_decimals`, what most values
        of the answer show (auto)."""
        if isinstance(self.decimals, int):
            return f"answers rounded to {self.decimals} decimals (±½ in the last place)"
        if self.decimals is None:
            return f"relative tolerance {self.rtol:g}"
        carried = "±½ in the last decimal shown, carried through the formulas"
        if shown_decimals is None:
            return f"rounding as written ({carried}), relative tolerance {self.rtol:g}"
        if shown_decimals >= 10:
            return f"relative tolerance {self.rtol:g} (values written at full precision)"
        return (f"rounding as written (most values show {shown_decimals} decimals; {carried}),"
                f" relative tolerance {self.rtol:g}")


def written_decimals(number: Any) -> int:
    """How many decimals a written number shows: 2 for 0.27 or "0.270" (text keeps its
    zeros), 0 for 3 or 2.0, 5 for 1e-05, `EXACT` for a fraction "4/5".

    A float read from TOML or JSON has lost its trailing zeros (0.70 reads as 0.7); its
    shortest repr is what was written otherwise, so `repr` recovers the rest.
    """
    if isinstance(number, int):  # bool too: never reaches here, parse_number refuses it
        return 0
    if isinstance(number, str):
        text = number.strip().lower()
        if "/" in text:
            return EXACT
    elif isinstance(number, float):
        text = repr(number).lower()
        if "." in text.partition("e")[0]:
            mantissa, mark, exponent = text.partition("e")
            text = mantissa.rstrip("0") + mark + exponent
    else:
        return 0
    mantissa, _, exponent = text.partition("e")
    fraction = mantissa.partition(".")[2]
    try:
        places = len(fraction) - int(exponent or 0)
    except ValueError:
        return 0
    return max(0, min(places, EXACT))


def answer_decimals(written: Mapping[Key, int]) -> int | None:
    """The decimals the answer is written to: the most common count among its values that are
    not whole numbers (the larger on a tie), or None when every value is a whole number."""
    counts = Counter(places for places in written.values() if places > 0)
    if not counts:
        return None
    return max(counts, key=lambda places: (counts[places], places))


def half_units(tolerance: Tolerance, written: Mapping[Key, int]) -> dict[Key, float]:
    """δ for each given value: ½·10⁻ᴷ for the decimals K it is taken to be rounded to.

    Auto: a value's own decimals, but never fewer than one below what the answer is written to
    (a vector whose entries all lost their trailing zero, 0.7 for 0.70, is still a 2-decimal
    value; one written much coarser than the rest is rounding, and may be named as such);
    whole numbers take the answer's decimals (2 for 2.00), or are exact in an answer of whole
    numbers only.
    """
    typical = answer_decimals(written)
    halves: dict[Key, float] = {}
    for key, places in written.items():
        if places == 0:
            assumed = typical
        else:
            assumed = places if typical is None else max(places, typical - 1)
        halves[key] = tolerance.half_unit(assumed)
    return halves
