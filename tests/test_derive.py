"""The derivation: every step verified by sympy across architectures, and a wrong formula caught."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import handgrad
from handgrad.core import ops
from handgrad.derive.steps import Derivation, derive
from handgrad.derive.symbolic import check_backward

pytest.importorskip("sympy")
pytest.importorskip("mpmath")


def _problem(layers: list[int], **network: Any) -> dict[str, Any]:
    loss = network.pop("loss", {})
    batch = network.pop("batch", False)
    x = [[0.5] * layers[0], [-1.0] * layers[0]] if batch else [0.5] * layers[0]
    label = [0, 1] if batch else 1
    document: dict[str, Any] = {
        "network": {"layers": layers, **network},
        "data": {"x": x, "label": label},
        "loss": loss,
        "optimizer": {"learning_rate": 0.1},
    }
    if loss.get("kind") == "squared_error":
        document["data"] = {"x": x, "y": [[0.2] * layers[-1]] * 2 if batch else [0.2] * layers[-1]}
    return document


CASES = {
    "depth1-softmax": _problem([2, 3]),
    "relu-seed-like": _problem([2, 3, 3], loss={"label_smoothing": 0.3}),
    "leaky-out_in": _problem([2, 2, 3], activation="leaky_relu", layout="out_in"),
    "sigmoid-others": _problem(
        [2, 2, 2], activation="sigmoid", loss={"label_smoothing": 0.2, "smoothing": "others"}
    ),
    "tanh-squared-sigmoid": _problem(
        [2, 2, 2], activation="tanh", output="sigmoid", loss={"kind": "squared_error"}
    ),
    "identity-squared-identity": _problem(
        [2, 2, 1],
        activation="identity",
        output="identity",
        loss={"kind": "squared_error", "reduction": "sum"},
    ),
    "depth3-relu": _problem([2, 2, 2, 2, 2]),
    "batch-mean": _problem([2, 2, 2], batch=True),
}


@functools.cache
def _derived(name: str) -> Derivation:
    return derive(handgrad.load_problem(CASES[name]))


@pytest.mark.parametrize("name", list(CASES))
def test_every_step_is_verified(name: str) -> None:
    derivation = _derived(name)
    assert derivation.verified
    checked = [step for step in derivation.steps if step.verified is not None]
    assert len(checked) >= 5 and all(step.verified for step in checked)


def test_a_wrong_formula_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break ∂L/∂W (forget the input factor's transpose-sum): the check must say no."""
    real = ops.linear_backward

    def wrong(dh: Any, cache: ops.LinearCache, layout: ops.Layout) -> Any:
        dx, dW, db = real(dh, cache, layout)
        return dx, dW * 2, db

    monkeypatch.setattr(ops, "linear_backward", wrong)
    verdict = check_backward(handgrad.load_problem(CASES["relu-seed-like"]))
    assert verdict["dW1"] is False and verdict["dW2"] is False
    assert verdict["dz"] is True


def test_derivation_of_the_seed_states_the_collapse_and_the_convention() -> None:
    derivation = derive(handgrad.load_problem())
    text = " ".join(f"{s.index_form} {s.matrix_form} {s.note}" for s in derivation.steps)
    assert "ŷⱼ − yˢⱼ" in text and "Σᵢ yˢᵢ = (1 − ε) Σᵢ yᵢ + ε = 1" in text
    assert "ŷᵢ(δᵢⱼ − ŷⱼ)" in text
    assert "∂L/∂W2 = a1 (∂L/∂z)ᵀ" in text and "∂L/∂W1 = x (∂L/∂h1)ᵀ" in text
    assert "ReLU′(0) = 0" in text


def test_derive_json_lists_the_steps() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "derive", "-f", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(run.stdout)
    assert data["verified"] is True
    keys = {"quantity", "index_form", "matrix_form", "latex", "verified"}
    assert all(keys <= set(step) for step in data["steps"])
    assert any(step["quantity"] == "∂L/∂z" for step in data["steps"])


def test_recursion_is_stated_for_deep_networks() -> None:
    derivation = _derived("depth3-relu")
    notes = " ".join(step.note for step in derivation.steps)
    assert "δℓ = (Wℓ₊₁ δℓ₊₁) ⊙ f′(hℓ)" in notes
    assert np.all([step.verified is not False for step in derivation.steps])
