"""verify.py: the finite-difference check is right both ways, at every scale (issue 11, item 12).

The losses here are written in the test; their gradients are worked by hand in each docstring.
"""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.verify import TOLERANCES, finite_difference_check


def _quadratic(w: float, x: float = 1.0):
    """L = ½(w·x)², ∂L/∂w = w·x²."""

    def loss(p):
        return 0.5 * float(p["w"][0] * x) ** 2

    return loss, {"w": np.array([w])}, {"dw": np.array([w * x * x])}


@pytest.mark.parametrize("w", [1.0, 3.0e4, 4.5e9])  # L = 0.5, 4.5e8, about 1e19
def test_a_right_gradient_passes_at_any_scale_of_the_loss(w: float) -> None:
    loss, params, grads = _quadratic(w)
    check = finite_difference_check(loss, params, grads)
    assert check.passed, check.errors


@pytest.mark.parametrize("w", [1.0, 3.0e4, 4.5e9])
def test_a_doubled_gradient_fails_at_any_scale_of_the_loss(w: float) -> None:
    # the old floor grew with |L|: at L ≈ 1e19 it was 1e15 and a doubled 4.5e9 passed
    loss, params, grads = _quadratic(w)
    check = finite_difference_check(loss, params, {"dw": 2 * grads["dw"]})
    assert not check.passed
    assert check.errors["dw"] > 0.1


def test_a_saturated_sigmoid_with_huge_weights_passes() -> None:
    """L = ½(σ(w·x + b) − 0.5)² with w = 1e100, x = 0.3: σ is 1 to the last bit, so
    ∂L/∂w = (σ − 0.5)·σ(1 − σ)·x = 0 and ∂L/∂b = 0. A step of 1e-6 does not move w at all
    (1e100 + 1e-6 == 1e100); the step scales with the weight instead."""

    def loss(p):
        h = p["w"][0] * 0.3 + p["b"][0]
        return 0.5 * (1.0 / (1.0 + np.exp(-h)) - 0.5) ** 2

    params = {"w": np.array([1e100]), "b": np.array([0.0])}
    with np.errstate(over="ignore"):
        check = finite_difference_check(loss, params, {"dw": np.zeros(1), "db": np.zeros(1)})
    assert check.passed, check.errors


def test_a_wrong_gradient_of_a_large_network_fails() -> None:
    """A linear layer with weights of 1e6: L = ½‖W x‖², ∂L/∂W = (W x) xᵀ; the check must see a
    sign flipped in one entry among many."""
    rng = np.random.default_rng(1)
    W = rng.normal(0, 1e6, (4, 3))
    x = rng.normal(0, 1, 3)

    def loss(p):
        return 0.5 * float(np.sum((p["W"] @ x) ** 2))

    right = np.outer(W @ x, x)
    assert finite_difference_check(loss, {"W": W}, {"dW": right}).passed
    wrong = right.copy()
    wrong[2, 1] = -wrong[2, 1]
    failed = finite_difference_check(loss, {"W": W}, {"dW": wrong})
    assert not failed.passed
    assert failed.errors["dW"] > 100 * TOLERANCES["finite_differences"]
