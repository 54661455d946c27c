"""Every gradient of random problems against central finite differences and PyTorch autograd."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given

import handgrad
from handgrad.verify import max_relative_error, torch_gradients
from tests.strategies import problems


def _away_from_kinks(solution: handgrad.Solution) -> bool:
    """Finite differences straddle a ReLU kink when a pre-activation is within a step of 0."""
    if solution.problem.architecture.hidden.name not in ("relu", "leaky_relu"):
        return True
    hidden = [v for k, v in solution.forward.items() if k.startswith("h")]
    return all(np.min(np.abs(h)) > 1e-3 for h in hidden)


@given(problems())
def test_gradients_agree_with_finite_differences(document: dict[str, Any]) -> None:
    solution = handgrad.solve(handgrad.load_problem(document))
    assume(_away_from_kinks(solution))
    (check,) = solution.checks
    assert set(check.errors) == {f"d{name}" for name in solution.problem.params}
    for name, error in check.errors.items():
        assert error < 1e-5, f"{name}: relative error {error:.2e}"


@given(problems())
def test_gradients_agree_with_torch_autograd(document: dict[str, Any]) -> None:
    pytest.importorskip("torch")
    problem = handgrad.load_problem(document)
    solution = handgrad.solve(problem)
    torch_loss, torch_grads = torch_gradients(problem)
    assert solution.forward["loss"] == pytest.approx(torch_loss, rel=1e-10, abs=1e-12)
    for name, reference in torch_grads.items():
        ours = solution.backward[name]
        assert ours.shape == reference.shape
        assert max_relative_error(reference, ours) < 1e-9, name


@given(problems(max_depth=2, max_width=3))
def test_several_steps_match_updates_made_with_torch_gradients(document: dict[str, Any]) -> None:
    """Three gradient steps: the loss history and the parameters agree with steps θ − η g
    written here on torch tensors, g from PyTorch autograd at each step's parameters.
    (torch.optim.SGD itself is compared in test_optim.py, for the training optimizers.)"""
    torch = pytest.importorskip("torch")
    document["optimizer"]["steps"] = 3
    problem = handgrad.load_problem(document)
    solution = handgrad.solve(problem)
    history = []
    current = problem
    for _ in range(3):
        loss, grads = torch_gradients(current)
        history.append(loss)
        params = {
            name: torch.tensor(value)
            - problem.spec.optimizer.learning_rate * torch.tensor(grads[f"d{name}"])
            for name, value in current.params.items()
        }
        document["params"] = {name: value.tolist() for name, value in params.items()}
        current = handgrad.load_problem(document)
    history.append(torch_gradients(current)[0])
    np.testing.assert_allclose(solution.history, history, rtol=1e-9, atol=1e-12)
    for name, value in current.params.items():
        np.testing.assert_allclose(solution.update[name], value, rtol=1e-9, atol=1e-12)


def test_frozen_parameters_stay_put() -> None:
    document = handgrad.load_problem().to_dict()
    document["optimizer"]["frozen"] = ["b1", "b2"]
    solution = handgrad.solve(handgrad.load_problem(document))
    np.testing.assert_array_equal(solution.update["b1"], [-3, -2, -3])
    np.testing.assert_array_equal(solution.update["b2"], [4, 5, 5])
    assert not np.array_equal(solution.update["W2"], solution.problem.params["W2"])
