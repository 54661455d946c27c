"""Exact (sympy) and N-digit (mpmath) answers: the same formulas, other number types."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import handgrad
from handgrad.precision import Precision
from tests.strategies import problems

sympy = pytest.importorskip("sympy")
mpmath = pytest.importorskip("mpmath")


def test_seed_closed_forms_are_what_a_student_writes() -> None:
    solution = handgrad.solve(handgrad.load_problem(), Precision("exact"))
    e = sympy.E
    denominator = 1 + e**3 + e**4
    expected = [e**3 / denominator, 1 / denominator, e**4 / denominator]
    for got, want in zip(solution.forward["yhat"], expected, strict=True):
        assert sympy.simplify(got - want) == 0
    assert (
        sympy.simplify(solution.forward["loss"] - (sympy.log(denominator) - sympy.Rational(14, 5)))
        == 0
    )
    assert list(solution.forward["ys"]) == [
        sympy.Rational(4, 5),
        sympy.Rational(1, 10),
        sympy.Rational(1, 10),
    ]
    # W2[1, 0] after the step, by hand: −2 − η·a₂·(ŷ₁ − 4/5) = −2 − (1/5)(ŷ₁ − 4/5)
    hand = -2 - sympy.Rational(1, 5) * (expected[0] - sympy.Rational(4, 5))
    assert sympy.simplify(solution.update["W2"][1, 0] - hand) == 0


def test_seed_at_50_digits_matches_a_hand_value() -> None:
    solution = handgrad.solve(handgrad.load_problem(), Precision("digits", 50))
    with mpmath.workdps(60):
        hand = 1 / (1 + mpmath.e**-3 + mpmath.e)
        assert abs(solution.forward["yhat"][0] - hand) < mpmath.mpf(10) ** -55
        loss = mpmath.log(1 + mpmath.e**3 + mpmath.e**4) - mpmath.mpf(14) / 5
        assert abs(solution.forward["loss"] - loss) < mpmath.mpf(10) ** -55


@settings(max_examples=12, deadline=None)
@given(problems(max_depth=2, max_width=3))
def test_exact_digits_and_float64_agree(document: dict[str, Any]) -> None:
    problem = handgrad.load_problem(document)
    reference = handgrad.solve(problem)
    precisions = [Precision("digits", 40)]
    if problem.architecture.hidden.name in ("relu", "leaky_relu", "identity"):
        # exact work through tanh or sigmoid hidden layers takes sympy tens of seconds
        precisions.append(Precision("exact"))
    for precision in precisions:
        solution = handgrad.solve(problem, precision)
        for section in ("forward", "backward", "update"):
            for name, value in getattr(reference, section).items():
                got = np.asarray(getattr(solution, section)[name], dtype=object)
                as_float = np.vectorize(float)(got) if got.size else got.astype(float)
                np.testing.assert_allclose(
                    as_float,
                    value,
                    rtol=1e-11,
                    atol=1e-13,
                    err_msg=f"{precision.label} {section}.{name}",
                )


def test_json_carries_n_digit_strings_and_exact_forms() -> None:
    def run(*options: str) -> dict[str, Any]:
        output = subprocess.run(
            [sys.executable, "-m", "handgrad", "solve", "-f", "json", *options],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(output)

    digits = run("--digits", "30")
    assert digits["precision"] == {"kind": "digits", "digits": 30}
    first = digits["forward"]["yhat"][0]
    assert first == "0.265387928772241930333773070138"
    assert len(first.replace("0.", "", 1)) == 30
    exact = run("--exact")
    assert exact["precision"] == {"kind": "exact"}
    assert (
        sympy.simplify(
            sympy.sympify(exact["forward"]["yhat"][0]) - sympy.E**3 / (1 + sympy.E**3 + sympy.E**4)
        )
        == 0
    )
    assert exact["checks"]["float64_vs_exact"]["dW2"] < 1e-12


def test_exact_mode_refuses_problems_too_large_to_do_by_hand(tmp_path: Any) -> None:
    document = handgrad.load_problem().to_dict()
    document["optimizer"]["steps"] = 50
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    for force, said in ((), "hand-sized"), (("--force",), "hand-sized"):
        run = subprocess.run(
            [sys.executable, "-m", "handgrad", "solve", str(path), "--exact", *force],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 2
        assert said in run.stderr and "Traceback" not in run.stderr
