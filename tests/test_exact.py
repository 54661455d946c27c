"""core.exact: exact numbers that fold rationals and keep the rest as shared expressions.

Checked by independent means: Fraction arithmetic for rationals, sympy's own construction and
evaluation (evalf at 60 digits) for everything else.
"""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

import handgrad
from handgrad.core.exact import SYMPY_MAX_SIZE, Exact
from handgrad.precision import Precision
from handgrad.solver import solve

sympy = pytest.importorskip("sympy")
mpmath = pytest.importorskip("mpmath")


def test_rationals_fold_exactly_as_decimals_read() -> None:
    value = Exact.of(0.3) * 10 - Exact.of(1) / 3 + Exact.of(Fraction(1, 3))
    assert value.rational == 3 and value.is_Integer and value.size == 1
    assert Exact.of(0.1).rational == Fraction(1, 10)  # the decimal written, not the double
    assert (Exact.of(2) ** -2).rational == Fraction(1, 4)
    assert str(Exact.of(-0.25)) == "-1/4"
    with pytest.raises(ZeroDivisionError):
        Exact.of(1) / 0


def _random_pair(rng: random.Random, depth: int) -> tuple[Exact, object]:
    """The same random expression built as an Exact and directly in sympy."""
    if depth == 0:
        number = Fraction(rng.randint(-40, 40), rng.randint(1, 9))
        return Exact.of(number), sympy.Rational(number.numerator, number.denominator)
    a, sa = _random_pair(rng, depth - 1)
    b, sb = _random_pair(rng, depth - 1)
    choice = rng.randrange(6)
    if choice == 0:
        return a + b, sa + sb
    if choice == 1:
        return a * b, sa * sb
    if choice == 2:
        return a - b, sa - sb
    if choice == 3:
        return a.tanh(), sympy.tanh(sa)
    if choice == 4:
        small = a * Exact.of(Fraction(1, 50))
        return small.exp(), sympy.exp(sa * sympy.Rational(1, 50))
    positive = a * a + 1
    return positive.log() / b if b.rational != 0 else positive.log(), (
        sympy.log(sa * sa + 1) / sb if sb != 0 else sympy.log(sa * sa + 1)
    )


@pytest.mark.parametrize("seed", range(40))
def test_values_and_closed_forms_equal_sympys_own(seed: int) -> None:
    exact, direct = _random_pair(random.Random(seed), 4)
    truth = sympy.N(direct, 60)
    with mpmath.workdps(60):
        error = abs(mpmath.mpf(str(truth)) - exact.value)
        assert error <= mpmath.mpf(10) ** -45 * max(1, abs(mpmath.mpf(str(truth))))
    if exact.size <= SYMPY_MAX_SIZE:
        assert exact.to_sympy() == direct  # built as sympy builds it: the same canonical form
        read_back = sympy.N(sympy.sympify(str(exact)) - direct, 60)
        assert abs(read_back) < sympy.Float(10) ** -45


def test_comparisons_read_values_and_rationals_compare_exactly() -> None:
    third = Exact.of(Fraction(1, 3))
    assert third > Exact.of(0.333) and third < Exact.of(0.334)
    e = Exact.of(1).exp()
    assert 2 < e < 3 and -e < 0 and abs(-e) == abs(e)
    masks = np.asarray([e - 2, Exact.of(0), -e], dtype=object) > 0
    assert masks.tolist() == [True, False, False]


def test_a_six_layer_tanh_network_solves_exactly_in_its_limits_and_writes_what_it_can() -> None:
    """6 weight layers of 8 units, a batch of 4, 2 steps: every value exact (the decimals agree
    with --digits 50 to 45 digits) and the closed forms too long to print said so."""
    x = [[round(0.1 * (i - j), 1) for j in range(8)] for i in range(4)]
    problem = handgrad.load_problem({
        "network": {"layers": [8] * 7, "activation": "tanh", "layout": "out_in"},
        "data": {"x": x, "label": [0, 3, 5, 7]},
        "loss": {"label_smoothing": 0.1, "smoothing": "others"},
        "optimizer": {"learning_rate": 0.1, "steps": 2},
    })
    exact = solve(problem, Precision("exact"))
    digits = solve(problem, Precision("digits", 50))
    with mpmath.workdps(60):
        for name, value in exact.backward.items():
            ours = np.asarray(value, dtype=object).ravel()
            theirs = np.asarray(digits.backward[name], dtype=object).ravel()
            for a, b in zip(ours, theirs, strict=True):
                got = a.value if isinstance(a, Exact) else mpmath.mpf(str(sympy.N(a, 60)))
                assert abs(got - b) <= mpmath.mpf(10) ** -45 * max(1, abs(b))
    assert all(check.passed for check in exact.checks)
    untold = [v for v in np.asarray(exact.backward["dW1"], dtype=object).ravel()
              if isinstance(v, Exact)]
    assert untold and all("closed form of" in v.untold for v in untold)
