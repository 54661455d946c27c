"""Number types for the one implementation of the formulas: float64, exact (sympy), N digits.

A problem's numbers are converted once, here; the formulas in `core` then run unchanged on NumPy
object arrays of the new type (see `core.backend`). Decimals are read as the exact rationals
they spell (0.3 is 3/10, not the nearest double). sympy and mpmath are imported only here, and
only when asked for, so `handgrad solve` without --exact/--digits never loads them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from handgrad.core.network import Architecture

FLOAT64_DIGITS = 17  # more than this needs mpmath
MAX_DIGITS = 1000
GUARD_DIGITS = 10  # extra working digits so that N shown digits are all correct
EXACT_MAX_PARAMETERS = 600
EXACT_MAX_STEPS = 3
SIMPLIFY_MAX_OPS = 200  # larger expressions are shown as computed
# exact values (core.exact) larger than this, as trees, are not rewritten (the seed's are ≤ 55)
SIMPLIFY_MAX_SIZE = 60


@dataclass(frozen=True)
class Precision:
    """How the numbers of a solve are represented."""

    kind: Literal["float64", "exact", "digits"] = "float64"
    digits: int = FLOAT64_DIGITS  # significant digits, for kind "digits"

    @classmethod
    def choose(cls, exact: bool, digits: int) -> Precision:
        """--exact wins; --digits above float64's 17 selects N-digit arithmetic."""
        if exact:
            return cls("exact")
        if digits > FLOAT64_DIGITS:
            return cls("digits", digits)
        return cls()

    @property
    def is_float64(self) -> bool:
        return self.kind == "float64"

    @property
    def label(self) -> str:
        return {"float64": "float64", "exact": "exact", "digits": f"{self.digits} digits"}[
            self.kind
        ]

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """mpmath's working precision for the whole computation (N + guard digits)."""
        if self.kind != "digits":
            yield
            return
        import mpmath

        with mpmath.workdps(self.digits + GUARD_DIGITS):
            yield

    def number(self, value: float) -> Any:
        """One number of the problem in this type; decimals are read as written."""
        if self.kind == "exact":
            from handgrad.core.exact import Exact

            return Exact.of(float(value))
        if self.kind == "digits":
            import mpmath

            return mpmath.mpf(repr(float(value)))
        return value

    def architecture(self, arch: Architecture) -> Architecture:
        """The architecture with its activation's constants (α, ReLU′(0)) in this type: a float
        α would differ from an exact or 50-digit one in the 17th digit."""
        hidden = arch.hidden
        return replace(
            arch,
            hidden=replace(
                hidden,
                leaky_slope=self.number(hidden.leaky_slope),
                relu_grad_at_zero=self.number(hidden.relu_grad_at_zero),
            ),
        )

    def array(self, values: np.ndarray) -> np.ndarray:
        """An array of the problem's numbers in this type (an object array unless float64)."""
        if self.is_float64:
            return values
        converted = np.frompyfunc(self.number, 1, 1)(values)
        return np.asarray(converted, dtype=object)

    def closed_form(self, value: Any) -> Any:
        """An exact result simplified to something a person would write; others unchanged."""
        if self.kind != "exact":
            return value
        simplify = np.frompyfunc(_simplest, 1, 1)
        if isinstance(value, np.ndarray):
            return np.asarray(simplify(value), dtype=object)
        return _simplest(value)


def _simplest(expression: Any) -> Any:
    """The shortest of a few cheap rewritings: as computed, over a common denominator, and term by
    term. Not sympy.simplify: on exp(-1949/5000)-like terms it runs for minutes. An exact value
    too large to write out (core.exact.SYMPY_MAX_SIZE) stays as it is."""
    import sympy

    from handgrad.core.exact import SYMPY_MAX_SIZE, Exact

    if isinstance(expression, Exact):
        if expression.rational is None and expression.size > SYMPY_MAX_SIZE:
            return expression
        if expression.size > SIMPLIFY_MAX_SIZE:  # as computed: its rewritings cost seconds
            return expression.to_sympy()
        expression = expression.to_sympy()
    expression = sympy.sympify(expression)
    if expression.is_Rational or sympy.count_ops(expression) > SIMPLIFY_MAX_OPS:
        return expression
    # not sympy.cancel: it expands exp(-1949/5000) as a polynomial of degree 1949 in exp(1/5000)
    candidates = [expression, sympy.together(expression)]
    if isinstance(expression, sympy.Add):
        candidates.append(sympy.Add(*(sympy.together(term) for term in expression.args)))
    return min(candidates, key=_written_length)


def _written_length(expression: Any) -> int:
    """Length as written, with negative exponents counted dear: e³/(1 + e³) beats 1/(e⁻³ + 1)."""
    text = str(expression)
    return len(text) + 12 * text.count("exp(-")


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def exact_text(expression: Any) -> str:
    """A sympy expression as one line of text: e³/(1 + e³ + e⁴), ln(2), 3/10."""
    text = str(expression)
    text = re.sub(r"exp\((-?\d+)\)", lambda m: "e" + m.group(1).translate(_SUPERSCRIPTS), text)
    text = re.sub(r"\bE\b", "e", text)
    text = re.sub(r"\blog\(", "ln(", text)
    return text.replace("**", "^").replace("*", "·")


def exact_latex(expression: Any) -> str:
    import sympy

    from handgrad.core.exact import Exact

    if isinstance(expression, Exact):  # too large to write out: its decimal, and why
        words = expression.untold.replace("--", "-{}-")  # two hyphens, not TeX's en dash
        return rf"\text{{({words})}}"
    return str(sympy.latex(expression))


def digits_text(value: Any, digits: int) -> str:
    """An mpmath number to `digits` significant digits; zero is 0."""
    import mpmath

    if value == 0:
        return "0"
    return str(mpmath.nstr(value, digits, strip_zeros=False))
