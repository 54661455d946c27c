"""The training fast path equals the reference path (core.network) to float rounding."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from handgrad.core import network, ops
from handgrad.core.network import Architecture
from handgrad.problem import initial_params
from handgrad.train.fused import FusedStep

ACTIVATIONS = [
    ops.Activation("relu"),
    ops.Activation("relu", relu_grad_at_zero=0.5),
    ops.Activation("leaky_relu", leaky_slope=0.1),
    ops.Activation("sigmoid"),
    ops.Activation("tanh"),
    ops.Activation("identity"),
]
HEADS = [("softmax", "cross_entropy"), ("softmax", "squared_error"),
         ("sigmoid", "squared_error"), ("identity", "squared_error")]


def _problem(layers, act, head, reduction, batch, seed=0):
    arch = Architecture(layers, act, head[0], "in_out", head[1], reduction)
    rng = np.random.default_rng(seed)
    params = initial_params(arch, seed)
    params = {k: v + rng.normal(0, 0.1, v.shape) for k, v in params.items()}  # biases ≠ 0
    x = rng.normal(size=(batch, layers[0]))
    x[0, 0] = 0.0
    labels = rng.integers(0, layers[-1], batch)
    y = np.eye(layers[-1])[labels]
    target = ops.smooth_labels(y, 0.1, "uniform") if head[1] == "cross_entropy" else y
    return arch, params, x, target


@pytest.mark.parametrize(
    ("act", "head", "reduction", "layers"),
    list(itertools.product(ACTIVATIONS, HEADS, ["mean", "sum"], [(3, 4), (3, 5, 4), (4, 6, 5, 3)])),
)
def test_fused_step_equals_reference_float64(act, head, reduction, layers):
    arch, params, x, target = _problem(layers, act, head, reduction, batch=7)
    reference_fwd = network.forward(params, x, target, arch)
    reference = network.backward(reference_fwd, arch).grads
    fused = FusedStep(arch, params, max_batch=10)
    for given in (x, fused.with_ones(x)):  # plain rows, and rows already carrying their ones
        loss = fused.run(given, target)
        assert loss == pytest.approx(float(reference_fwd.loss), rel=1e-12, abs=1e-14)
        for name, expected in reference.items():
            np.testing.assert_allclose(fused.grads[name], expected, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(fused.yhat, reference_fwd.yhat, rtol=1e-12, atol=1e-15)


def relu_kink_problem() -> tuple[Architecture, dict[str, np.ndarray], np.ndarray, np.ndarray,
                                 dict[str, np.ndarray]]:
    """A 1-2-2 ReLU net whose second hidden pre-activation is exactly 0 (ReLU′(0) = 1 set),
    with the reference gradients: (arch, params, x, target, reference)."""
    act = ops.Activation("relu", relu_grad_at_zero=1.0)
    arch = Architecture((1, 2, 2), act, "softmax", "in_out", "cross_entropy", "mean")
    params = {"W1": np.array([[1.0, 0.0]]), "b1": np.zeros(2),
              "W2": np.array([[1.0, 2.0], [3.0, -1.0]]), "b2": np.zeros(2)}
    x, target = np.array([[2.0]]), np.array([[0.0, 1.0]])
    reference = network.backward(network.forward(params, x, target, arch), arch).grads
    return arch, params, x, target, reference


def check_relu_kink(make_step: Callable[..., Any]) -> None:
    """A pre-activation of exactly 0 takes ReLU′(0) from the settings, as the reference does:
    the check every step object's tests run, `make_step(arch, params, max_batch)`."""
    arch, params, x, target, reference = relu_kink_problem()
    step = make_step(arch, params, 1)
    step.run(x, target)
    assert reference["db1"][1] != 0  # the kink is really exercised
    np.testing.assert_allclose(step.grads["db1"], reference["db1"], rtol=1e-14)


def test_relu_at_exact_zero_uses_the_convention():
    check_relu_kink(FusedStep)


def check_batches_of_other_sizes(make_step: Callable[..., Any], layers=(6, 9, 8),
                                 act=ACTIVATIONS[0]) -> None:
    """A step made for 40 rows takes batches of 40, 1, 17 and 40 again (its buffers' first rows;
    nothing stale is left) with logits far apart (the row maxima matter): loss, gradients and ŷ
    against the reference path each time, and a 41-row batch refused. The check every step
    object's tests run, `make_step(arch, params, max_batch)`."""
    arch, params, x, target = _problem(layers, act, HEADS[0], "mean", batch=40)
    x *= 20
    step = make_step(arch, params, 40)
    for rows in (slice(0, 40), slice(0, 1), slice(3, 20), slice(0, 40)):
        fwd = network.forward(params, x[rows], target[rows], arch)
        expected = network.backward(fwd, arch).grads
        assert step.run(x[rows], target[rows]) == pytest.approx(float(fwd.loss), rel=1e-12)
        for name, value in expected.items():
            np.testing.assert_allclose(step.grads[name], value, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(step.yhat, fwd.yhat, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="1 to 40"):
        step.run(np.zeros((41, layers[0])), np.zeros((41, layers[-1])))


def test_batches_of_different_sizes_reuse_the_buffers():
    check_batches_of_other_sizes(FusedStep)


@pytest.mark.parametrize("batch", [1, 300])  # both softmax paths: row reductions, argmax
def test_large_batches_take_the_same_values(batch):
    arch, params, x, target = _problem((6, 9, 8), ACTIVATIONS[0], HEADS[0], "sum", batch=batch)
    x *= 20  # logits far apart: the row maxima matter
    fwd = network.forward(params, x, target, arch)
    expected = network.backward(fwd, arch).grads
    fused = FusedStep(arch, params, max_batch=batch)
    assert fused.run(x, target) == pytest.approx(float(fwd.loss), rel=1e-12)
    for name, value in expected.items():
        np.testing.assert_allclose(fused.grads[name], value, rtol=1e-10, atol=1e-12)


def test_grad_scale_multiplies_every_gradient_but_not_the_loss():
    arch, params, x, target = _problem((4, 8, 3), ACTIVATIONS[4], HEADS[0], "mean", batch=5)
    fused = FusedStep(arch, params, max_batch=5)
    loss = fused.run(x, target)
    plain = {k: v.copy() for k, v in fused.grads.items()}
    assert fused.run(x, target, grad_scale=0.25) == loss
    for name, value in plain.items():
        np.testing.assert_allclose(fused.grads[name], 0.25 * value, rtol=1e-13)


def test_float32_step_agrees_with_float64_reference():
    arch, params, x, target = _problem((20, 32, 10), ACTIVATIONS[0], HEADS[0], "mean", batch=16)
    fwd = network.forward(params, x, target, arch)
    reference = network.backward(fwd, arch).grads
    fused = FusedStep(arch, {k: v.astype(np.float32) for k, v in params.items()}, max_batch=16)
    loss = fused.run(x.astype(np.float32), target.astype(np.float32))
    assert fused.grads["dW1"].dtype == np.float32
    assert loss == pytest.approx(float(fwd.loss), rel=1e-5)
    for name, value in reference.items():
        np.testing.assert_allclose(fused.grads[name], value, rtol=2e-4, atol=2e-6)


def test_params_are_views_of_the_stacked_matrices():
    arch, params, _, _ = _problem((3, 4, 2), ACTIVATIONS[0], HEADS[0], "mean", batch=2)
    fused = FusedStep(arch, params, max_batch=2)
    fused.weights[0][-1, 0] = 42.0  # the bias row of layer 1
    assert fused.params["b1"][0] == 42.0
    np.testing.assert_array_equal(fused.params["W2"], params["W2"])
