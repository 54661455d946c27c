"""Optimizers: first steps on the seed against hand formulas; many steps against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.core import ops
from handgrad.core.network import Architecture
from handgrad.train.fused import FusedStep
from handgrad.train.optim import Optimizer, Schedule
from tests.test_seed import B1, B2, W1, W2, X, Y, hand_worked

SEED_ARCH = Architecture((2, 3, 3), ops.Activation("relu"), "softmax", "in_out", "cross_entropy",
                         "mean")
HAND = hand_worked()["backward"]
THETA = {"W1": np.array(W1, float), "b1": np.array(B1, float),
         "W2": np.array(W2, float), "b2": np.array(B2, float)}
GRAD = {name: np.array(HAND[f"d{name}"], float) for name in THETA}


def _one_seed_step(optimizer: Optimizer) -> dict[str, np.ndarray]:
    fused = FusedStep(SEED_ARCH, THETA, max_batch=1)
    ys = ops.smooth_labels(np.array([Y], float), 0.3, "uniform")
    optimizer.step(fused, np.array([X], float), ys)
    return fused.params


@pytest.mark.parametrize(
    ("optimizer", "expected"),
    [
        (Optimizer("sgd", 0.1), lambda t, g: t - 0.1 * g),  # the homework's own rule
        (Optimizer("sgd", 0.1, weight_decay=0.01), lambda t, g: t - 0.1 * (g + 0.01 * t)),
        (Optimizer("momentum", 0.1, momentum=0.9), lambda t, g: t - 0.1 * g),  # v = g at first
        (Optimizer("nesterov", 0.1, momentum=0.9), lambda t, g: t - 0.1 * 1.9 * g),
        # Adam's first step: m̂ = g, v̂ = g², so θ − η g / (|g| + ε)
        (Optimizer("adam", 0.1, eps=1e-8), lambda t, g: t - 0.1 * g / (np.abs(g) + 1e-8)),
    ],
    ids=["sgd", "sgd+decay", "momentum", "nesterov", "adam"],
)
def test_first_step_on_the_seed_matches_hand_formulas(optimizer, expected):
    new = _one_seed_step(optimizer)
    for name, theta in THETA.items():
        np.testing.assert_allclose(new[name], expected(theta, GRAD[name]), rtol=1e-12, atol=1e-12)


def test_sgd_step_is_the_hand_worked_update():
    new = _one_seed_step(Optimizer("sgd", 0.1))
    for name, value in hand_worked()["update"].items():
        if name != "loss":
            np.testing.assert_allclose(new[name], np.array(value), rtol=1e-12)


def _torch_run(name: str, kwargs: dict, steps: int, dtype, make=FusedStep):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    layers = (5, 7, 6, 4)
    params = {}
    for layer in range(1, 4):
        params[f"W{layer}"] = rng.normal(0, 0.5, (layers[layer - 1], layers[layer])).astype(dtype)
        params[f"b{layer}"] = rng.normal(0, 0.1, layers[layer]).astype(dtype)
    x = rng.normal(size=(steps, 8, 5)).astype(dtype)
    labels = rng.integers(0, 4, (steps, 8))
    tanh = ops.Activation("tanh")
    arch = Architecture(layers, tanh, "softmax", "in_out", "cross_entropy", "mean")
    fused = make(arch, params, 8)
    opt = Optimizer(name, **kwargs)
    ours = []
    for k in range(steps):
        ys = ops.smooth_labels(np.eye(4, dtype=dtype)[labels[k]], dtype(0.1), "uniform")
        ours.append(opt.step(fused, x[k], ys.astype(dtype)))

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tparams = [torch.tensor(params[f"{kind}{layer}"], dtype=tdtype, requires_grad=True)
               for layer in range(1, 4) for kind in ("W", "b")]
    torch_kwargs = {"lr": kwargs["learning_rate"], "weight_decay": kwargs.get("weight_decay", 0)}
    if name == "adam":
        topt = torch.optim.Adam(tparams, **torch_kwargs)
    else:
        momentum = 0.0 if name == "sgd" else kwargs.get("momentum", 0.9)
        topt = torch.optim.SGD(tparams, momentum=momentum, nesterov=name == "nesterov",
                               **torch_kwargs)
    theirs = []
    for k in range(steps):
        topt.zero_grad()
        a = torch.tensor(x[k])
        for layer in range(3):
            a = a @ tparams[2 * layer] + tparams[2 * layer + 1]
            if layer < 2:
                a = torch.tanh(a)
        loss = torch.nn.functional.cross_entropy(a, torch.tensor(labels[k]), label_smoothing=0.1)
        loss.backward()
        topt.step()
        theirs.append(loss.item())
    final = [p.detach().numpy() for p in tparams]
    return fused, ours, theirs, final


OPTIMIZER_CASES = [  # every rule, with and without weight decay (shared by the backends' tests)
    ("sgd", {"learning_rate": 0.2}),
    ("sgd", {"learning_rate": 0.2, "weight_decay": 0.05}),
    ("momentum", {"learning_rate": 0.1, "momentum": 0.9}),
    ("nesterov", {"learning_rate": 0.1, "momentum": 0.8, "weight_decay": 0.01}),
    ("adam", {"learning_rate": 0.01}),
    ("adam", {"learning_rate": 0.01, "weight_decay": 0.1}),
]


def check_against_torch_optim(name: str, kwargs: dict, make=FusedStep, steps: int = 25) -> None:
    """25 float64 steps of `make`'s step object with the rule against torch.optim's: the losses
    and every parameter (the check every step object's tests run)."""
    step, ours, theirs, final = _torch_run(name, kwargs, steps, np.float64, make)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    for layer in range(1, 4):
        np.testing.assert_allclose(step.params[f"W{layer}"], final[2 * layer - 2], rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(step.params[f"b{layer}"], final[2 * layer - 1], rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZER_CASES)
def test_optimizers_match_torch_step_for_step(name, kwargs):
    check_against_torch_optim(name, kwargs)


def test_adam_in_float32_tracks_torch():
    fused, ours, theirs, final = _torch_run("adam", {"learning_rate": 0.01}, 10, np.float32)
    assert fused.params["W1"].dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(fused.params["W3"], final[4], rtol=1e-3, atol=1e-5)


def test_schedules():
    assert Schedule("constant").learning_rate(0.1, 50, 100) == 0.1
    step = Schedule("step", step_size=10, gamma=0.5)
    assert [step.learning_rate(1.0, e, 100) for e in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    cosine = Schedule("cosine")
    assert cosine.learning_rate(0.2, 0, 10) == pytest.approx(0.2)
    assert cosine.learning_rate(0.2, 5, 10) == pytest.approx(0.1)
    assert cosine.learning_rate(0.2, 10, 10) == pytest.approx(0.0, abs=1e-15)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer"):
        Optimizer("rmsprop")  # type: ignore[arg-type]
