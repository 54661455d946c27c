"""core.network: the step loop (`descend`), the target rule and what an Architecture refuses.

The reference here is the seed homework's network written out in plain NumPy in the test
(ReLU hidden layer, softmax, cross-entropy with uniform label smoothing, in_out layout).
"""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.core import network, ops
from handgrad.core.activations import ACTIVATIONS, OUTPUTS, Activation
from handgrad.problem import load_problem

X = np.array([[0.0, 2.0]])
Y = np.array([[1.0, 0.0, 0.0]])
EPS, ETA = 0.3, 0.1
SEED = {
    "W1": np.array([[-5.0, 2, 2], [-5, 2, -1]]),
    "b1": np.array([-3.0, -2, -3]),
    "W2": np.array([[3.0, -4, 1], [-2, -4, -2], [-4, -2, 3]]),
    "b2": np.array([4.0, 5, 5]),
}


def _by_hand(p: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """L and the gradients of the seed's network, written out here."""
    x, ys = X[0], (1 - EPS) * Y[0] + EPS / 3
    h = p["W1"].T @ x + p["b1"]
    a = np.maximum(h, 0)
    z = p["W2"].T @ a + p["b2"]
    yhat = np.exp(z) / np.exp(z).sum()
    dz = yhat - ys
    dh = (p["W2"] @ dz) * (h > 0)
    grads = {"W1": np.outer(x, dh), "b1": dh, "W2": np.outer(a, dz), "b2": dz}
    return float(-(ys * np.log(yhat)).sum()), grads


def test_descend_is_gradient_descent_step_by_step() -> None:
    arch = load_problem("homework3").architecture
    target = network.target_for(Y, "cross_entropy", EPS, "uniform")
    run = network.descend(SEED, X, target, arch, ETA, steps=3)
    params, losses = dict(SEED), []
    for _ in range(3):
        loss, grads = _by_hand(params)
        losses.append(loss)
        params = {k: v - ETA * grads[k] for k, v in params.items()}
    losses.append(_by_hand(params)[0])
    np.testing.assert_allclose(np.array(run.losses, dtype=float), losses, rtol=1e-12)
    for name, value in params.items():
        np.testing.assert_allclose(run.params[name], value, rtol=1e-12, atol=1e-14)
    first = _by_hand(SEED)[1]
    np.testing.assert_allclose(run.first_backward.grads["dW1"], first["W1"], atol=1e-14)
    assert run.first_forward.loss == pytest.approx(losses[0], rel=1e-12)


def test_descend_leaves_frozen_parameters_and_its_input_alone() -> None:
    arch = load_problem("homework3").architecture
    target = network.target_for(Y, "cross_entropy", EPS, "uniform")
    before = {k: v.copy() for k, v in SEED.items()}
    run = network.descend(SEED, X, target, arch, ETA, steps=2, frozen=("W1", "b2"))
    for name in ("W1", "b2"):
        np.testing.assert_array_equal(run.params[name], SEED[name])
    assert not np.allclose(run.params["W2"], SEED["W2"])
    for name, value in before.items():
        np.testing.assert_array_equal(SEED[name], value)  # new parameters, never mutated


def test_target_rule_smooths_only_for_cross_entropy() -> None:
    np.testing.assert_allclose(
        network.target_for(Y, "cross_entropy", EPS, "uniform"), [[0.8, 0.1, 0.1]]
    )
    np.testing.assert_allclose(
        network.target_for(Y, "cross_entropy", EPS, "others"), [[0.7, 0.15, 0.15]]
    )
    np.testing.assert_array_equal(network.target_for(Y, "squared_error", EPS, "uniform"), Y)
    np.testing.assert_allclose(load_problem("homework3").target, [[0.8, 0.1, 0.1]])


def _arch(**changes: object) -> network.Architecture:
    settings: dict[str, object] = {
        "layers": (2, 3, 3), "hidden": Activation("relu"), "output": "softmax",
        "layout": "in_out", "loss": "cross_entropy", "reduction": "mean",
    }
    settings.update(changes)
    return network.Architecture(**settings)  # type: ignore[arg-type]


def test_cross_entropy_without_softmax_is_refused_by_the_core() -> None:
    # backward would silently use the squared-error gradient for it (issue 10, item 7)
    with pytest.raises(ValueError, match="cross_entropy needs the softmax output"):
        _arch(output="sigmoid")
    with pytest.raises(ValueError, match="cross_entropy needs the softmax output"):
        _arch(output="identity")
    assert _arch(output="sigmoid", loss="squared_error").output == "sigmoid"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"layers": (2,)}, "layers"),
        ({"layers": (2, 0, 3)}, "layers"),
        ({"layers": (2, True, 3)}, "layers"),
        ({"output": "tanh"}, "unknown output"),
        ({"loss": "hinge"}, "unknown loss"),
        ({"layout": "rows"}, "unknown layout"),
        ({"reduction": "max"}, "unknown reduction"),
    ],
)
def test_architectures_the_formulas_cannot_mean_are_refused(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        _arch(**changes)


def test_unknown_activation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        Activation("swish")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation_in_the_table_is_its_own_derivative_pair(name: str) -> None:
    """The table's derivative against central differences of the table's forward formula."""
    act = Activation(name, leaky_slope=0.1)  # type: ignore[arg-type]
    h = np.array([[-2.3, -0.7, 0.4, 1.9]])
    a, cache = ops.activation_forward(h, act)
    step = 1e-6
    numeric = (ops.activation_forward(h + step, act)[0] - ops.activation_forward(h - step, act)[0])
    np.testing.assert_allclose(ops.activation_derivative(cache, act), numeric / (2 * step),
                               rtol=1e-7)
    expected = {"relu": np.maximum(h, 0), "leaky_relu": np.where(h > 0, h, 0.1 * h),
                "sigmoid": 1 / (1 + np.exp(-h)), "tanh": np.tanh(h), "identity": h}[name]
    np.testing.assert_allclose(a, expected, rtol=1e-14)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_each_output_backward_is_the_transpose_jacobian_product(name: str) -> None:
    z = np.array([[0.3, -1.2, 2.0]])
    dyhat = np.array([[0.5, -0.25, 1.5]])
    yhat = ops.output_forward(z, name)
    step = 1e-6
    jacobian = np.empty((3, 3))
    for j in range(3):
        shift = np.zeros_like(z)
        shift[0, j] = step
        upper, lower = ops.output_forward(z + shift, name), ops.output_forward(z - shift, name)
        jacobian[:, j] = (upper - lower)[0] / (2 * step)
    np.testing.assert_allclose(
        ops.output_backward(dyhat, yhat, name)[0], jacobian.T @ dyhat[0], rtol=1e-7
    )
