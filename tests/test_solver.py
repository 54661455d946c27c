"""solver.py: the solve and check entry points on the edges a user can reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handgrad.errors import HandgradError
from handgrad.precision import Precision
from handgrad.problem import load_problem
from handgrad.solution import CheckReport
from handgrad.solver import check_problem, solve


def test_every_parameter_frozen_in_another_order_solves(tmp_path: Path) -> None:
    # issue 10, item 1: a StopIteration traceback when the frozen list's order differed
    document = load_problem("homework3").to_dict()
    document["optimizer"]["frozen"] = ["b1", "W1", "W2", "b2"]
    problem = load_problem(document)
    solution = solve(problem)
    for name, value in problem.params.items():
        np.testing.assert_array_equal(solution.update[name], value)
    assert solution.history[0] == solution.history[1]
    (tmp_path / "frozen.toml").write_text(_toml(document), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "handgrad", "solve", "frozen.toml"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "frozen" in result.stdout


def _toml(document: dict) -> str:
    from handgrad.generate import toml_text

    return toml_text(document)


def test_a_check_report_of_exact_checks_has_their_tolerances() -> None:
    # issue 10, item 6: to_dict indexed TOLERANCES[method], a KeyError for float64_vs_exact
    problem = load_problem("homework3")
    exact = solve(problem, Precision("exact"))
    report = CheckReport(problem, exact.checks, {}, exact.kinks)
    as_dict = report.to_dict()
    assert as_dict["tolerances"]["float64_vs_exact"] == 1e-10
    assert as_dict["tolerances"]["finite_differences"] == 1e-5
    assert as_dict["passed"] is True


def test_a_check_carries_its_verdict() -> None:
    report = check_problem(load_problem("homework3"))
    assert report.passed
    for check in report.checks:
        assert check.tolerance > 0
        assert all(check.passes(name) for name in check.errors)


def test_divergence_names_the_first_step_whose_loss_overflows() -> None:
    """ŷ = w + b with x = 1: w and b both step by η(ŷ − 2), so the error ŷ − 2 is multiplied by
    1 − 2η = −9 each step and L = ½·81ᵏ after step k: finite up to k = 161 (81¹⁶¹ ≈ 1.7e307),
    infinite from k = 162 (81¹⁶² ≈ 1.4e309)."""
    document = {
        "network": {"layers": [1, 1], "output": "identity"},
        "params": {"W1": [[1.0]], "b1": [0.0]},
        "data": {"x": [1.0], "y": [2.0]},
        "loss": {"kind": "squared_error"},
        "optimizer": {"learning_rate": 5, "steps": 1000},
    }
    with pytest.raises(HandgradError, match=r"diverged at step 162 \(L = inf\)"):
        solve(load_problem(document))
