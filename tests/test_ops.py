"""The paired formulas in core.ops: fused against unfused, stability, conventions, the xp seam."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import handgrad
from handgrad.core import network, ops

logits = arrays(
    np.float64, st.tuples(st.integers(1, 4), st.integers(2, 6)), elements=st.floats(-30, 30)
)


@given(
    logits,
    st.floats(0, 1),
    st.sampled_from(["uniform", "others"]),
    st.sampled_from(["mean", "sum"]),
)
def test_fused_softmax_cross_entropy_equals_the_chain_rule(
    z: np.ndarray, eps: float, convention: ops.Smoothing, reduction: ops.Reduction
) -> None:
    """ŷ − yˢ equals the softmax Jacobian applied to −yˢ/ŷ whenever Σ yˢ = 1."""
    y = np.eye(z.shape[1])[np.arange(z.shape[0]) % z.shape[1]]
    ys = ops.smooth_labels(y, eps, convention)
    np.testing.assert_allclose(ys.sum(axis=1), 1.0, rtol=1e-12)
    _, _, cache = ops.cross_entropy_forward(z, ys, reduction)
    fused = ops.softmax_cross_entropy_backward(cache)
    unfused = ops.output_backward(ops.cross_entropy_backward(cache), cache.yhat, "softmax")
    np.testing.assert_allclose(fused, unfused, rtol=1e-9, atol=1e-12)


def test_fused_form_needs_targets_that_sum_to_one() -> None:
    """With Σ yˢ ≠ 1 the collapse to ŷ − yˢ is wrong: the loader must refuse such targets."""
    z = np.array([[0.0, -3.0, 1.0]])
    ys = np.array([[1.0, 1.0, 0.0]])
    _, _, cache = ops.cross_entropy_forward(z, ys, "mean")
    fused = ops.softmax_cross_entropy_backward(cache)
    unfused = ops.output_backward(ops.cross_entropy_backward(cache), cache.yhat, "softmax")
    assert not np.allclose(fused, unfused)


def test_smoothing_conventions_by_hand() -> None:
    y = np.array([[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(ops.smooth_labels(y, 0.2, "uniform"), [[0.05, 0.85, 0.05, 0.05]])
    np.testing.assert_allclose(ops.smooth_labels(y, 0.3, "others"), [[0.1, 0.7, 0.1, 0.1]])


def test_log_softmax_is_finite_for_huge_logits() -> None:
    z = np.array([[1e4, -1e4, 0.0], [-2e5, -2e5 + 1.0, -2e5]])
    log_p = ops.log_softmax(z)
    assert np.all(np.isfinite(log_p))
    np.testing.assert_allclose(log_p[0], [0.0, -2e4, -1e4])
    # the second row is softmax([0, 1, 0]) shifted: 1 − ln(2 + e) for the middle entry
    assert log_p[1, 1] == pytest.approx(1 - math.log(2 + math.e) - 0.0 + 0.0, rel=1e-12)


def test_sigmoid_saturates_without_overflow() -> None:
    h = np.array([[-1e4, -40.0, 0.0, 40.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = ops.sigmoid(h)
    np.testing.assert_allclose(
        s,
        [[0.0, math.exp(-40) / (1 + math.exp(-40)), 0.5, 1 / (1 + math.exp(-40)), 1.0]],
        rtol=1e-15,
    )


def test_relu_derivative_uses_the_convention_at_zero() -> None:
    h = np.array([[-1.0, 0.0, 2.0]])
    _, cache = ops.activation_forward(h, ops.Activation("relu", relu_grad_at_zero=0.5))
    d = ops.activation_derivative(cache, ops.Activation("relu", relu_grad_at_zero=0.5))
    np.testing.assert_array_equal(d, [[0.0, 0.5, 1.0]])
    leaky = ops.Activation("leaky_relu", leaky_slope=0.1)
    a, cache = ops.activation_forward(h, leaky)
    np.testing.assert_allclose(a, [[-0.1, 0.0, 2.0]])
    np.testing.assert_allclose(ops.activation_derivative(cache, leaky), [[0.1, 0.1, 1.0]])


def test_extreme_logits_give_finite_correct_answers() -> None:
    """Logits near ±1e4: the loss is the margin, the gradient ŷ − yˢ is exact 0/1 arithmetic."""
    problem = handgrad.load_problem(
        {
            "network": {"layers": [1, 2], "output": "softmax"},
            "params": {"W1": [[1e4, -1e4]], "b1": [0, 0]},
            "data": {"x": [1.0], "label": 1},
            "loss": {"label_smoothing": 0.0},
            "optimizer": {"learning_rate": 1e-5},
        }
    )
    solution = handgrad.solve(problem)
    assert solution.forward["loss"] == pytest.approx(2e4)  # −ln ŷ₂ = z₁ − z₂
    np.testing.assert_allclose(solution.backward["dz"], [1.0, -1.0])
    np.testing.assert_allclose(solution.backward["dW1"], [[1.0, -1.0]])
    assert all(np.all(np.isfinite(v)) for v in solution.update.values())


@pytest.mark.parametrize("eps", [0.0, 1.0])
def test_smoothing_extremes(eps: float) -> None:
    """ε = 0 is plain cross-entropy; ε = 1 makes yˢ uniform whatever the label."""
    problem = handgrad.load_problem(
        {
            "network": {"layers": [2, 3]},
            "params": {"W1": [[1, 0, -1], [0, 2, 0]], "b1": [0, 0, 0]},
            "data": {"x": [1.0, 0.5], "y": [0, 0, 1]},
            "loss": {"label_smoothing": eps},
            "optimizer": {"learning_rate": 0.1},
        }
    )
    solution = handgrad.solve(problem)
    z = np.array([1.0, 1.0, -1.0])
    p = np.exp(z) / np.exp(z).sum()
    target = np.array([0, 0, 1.0]) if eps == 0 else np.full(3, 1 / 3)
    np.testing.assert_allclose(solution.forward["ys"], target)
    assert solution.forward["loss"] == pytest.approx(-(target * np.log(p)).sum(), rel=1e-12)
    np.testing.assert_allclose(solution.backward["dz"], p - target, rtol=1e-12)


def test_formulas_run_unchanged_on_mpmath_numbers() -> None:
    """The xp seam: the same forward/backward code on 40-digit mpmath numbers agrees with
    float64 to float64 rounding, and a hand value at 40 digits (ŷ₁ of the seed) matches."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    problem = handgrad.load_problem()
    arch = problem.architecture
    to_mp = np.frompyfunc(mpmath.mpf, 1, 1)
    params = {k: to_mp(v) for k, v in problem.params.items()}
    x, y = to_mp(problem.x), to_mp(problem.y)
    ys = ops.smooth_labels(y, mpmath.mpf(3) / 10, "uniform")
    fwd = network.forward(params, x, ys, arch)
    bwd = network.backward(fwd, arch)
    reference = handgrad.solve(problem)
    for name in ("dW1", "db1", "dW2", "db2"):
        np.testing.assert_allclose(
            bwd.grads[name].astype(float), reference.backward[name], rtol=1e-14, atol=1e-15
        )
    e = mpmath.e
    assert abs(fwd.yhat[0, 0] - 1 / (1 + e**-3 + e)) < mpmath.mpf(10) ** -38
