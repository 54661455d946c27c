"""`check`: the independent references, and a report that fails when they disagree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import handgrad
from handgrad.solver import check_problem
from handgrad.verify import jax_gradients, max_relative_error
from tests.strategies import problems

KINKED = {
    "network": {"layers": [1, 2, 2], "relu_grad_at_zero": 1.0},
    "params": {"W1": [[1, 1]], "b1": [-1, 0], "W2": [[1, 0], [0, 1]], "b2": [0, 0]},
    "data": {"x": [1.0], "label": 0},
    "optimizer": {"learning_rate": 0.1},
}


def test_seed_passes_every_available_check() -> None:
    pytest.importorskip("torch")
    report = check_problem(handgrad.load_problem())
    assert report.passed
    methods = [c.method for c in report.checks]
    assert methods[:2] == ["finite_differences", "torch"]
    assert report.to_dict()["passed"] is True


def test_a_convention_other_than_pytorchs_at_a_kink_is_reported() -> None:
    """ReLU′(0) = 1 at an exact kink: finite differences and torch (ReLU′(0) = 0) both disagree."""
    pytest.importorskip("torch")
    report = check_problem(handgrad.load_problem(KINKED))
    assert not report.passed
    failing = {(method, name) for method, name, _ in report.failures()}
    assert ("torch", "dW1") in failing and ("torch", "db1") in failing
    assert len(report.kinks) == 1


@settings(max_examples=15)
@given(problems(max_depth=3, max_width=4))
def test_gradients_agree_with_jax(document: dict[str, Any]) -> None:
    pytest.importorskip("jax")
    problem = handgrad.load_problem(document)
    solution = handgrad.solve(problem)
    loss, grads = jax_gradients(problem)
    assert solution.forward["loss"] == pytest.approx(loss, rel=1e-10, abs=1e-12)
    for name, reference in grads.items():
        assert max_relative_error(reference, solution.backward[name]) < 1e-9, name


def test_check_command_exits_1_on_disagreement(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "kinked.json"
    path.write_text(json.dumps(KINKED), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "FAILED" in run.stdout and "kink" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_large_inputs_and_exactly_zero_gradients_are_not_a_failure() -> None:
    """All logits equal for every row: every true gradient is 0, and what remains is rounding
    noise at the scale of inputs in the hundreds (this used to be reported as FAILED)."""
    pytest.importorskip("torch")
    problem = handgrad.load_problem(
        {
            "network": {"layers": [2, 3, 3]},
            "params": {
                "W1": [[1, -1, 0.5], [0.5, 1, -1]],
                "b1": [0, 0, 0],
                "W2": [[1, 1, 1], [-2, -2, -2], [0.5, 0.5, 0.5]],
                "b2": [0, 0, 0],
            },
            "data": {"x": [[100, 200]] * 3, "label": [0, 1, 2]},
            "optimizer": {"learning_rate": 0.1},
        }
    )
    report = check_problem(problem)
    assert report.passed, report.failures()
