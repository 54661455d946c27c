"""The derivation: every step verified by sympy across architectures, and a wrong formula caught."""

from __future__ import annotations

import collections
import functools
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import handgrad
from handgrad.core import ops
from handgrad.derive import steps
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


def _unchecked(document: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Derivation:
    """The derivation's text without sympy's verdicts, which the tests of the notes do not read."""
    monkeypatch.setattr(
        steps, "check_backward", lambda problem: collections.defaultdict(lambda: None)
    )
    return derive(handgrad.load_problem(document))


# How the recursion note's products read in NumPy: one instance's δ as a vector, a batch's Δ as
# one row per instance.
PRODUCTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "δℓ = (Wℓ₊₁ δℓ₊₁)": lambda W, d: W @ d,
    "δℓ = (Wℓ₊₁ᵀ δℓ₊₁)": lambda W, d: W.T @ d,
    "Δℓ = ∂L/∂Hℓ = (Δℓ₊₁ Wℓ₊₁)": lambda W, d: d @ W,
    "Δℓ = ∂L/∂Hℓ = (Δℓ₊₁ Wℓ₊₁ᵀ)": lambda W, d: d @ W.T,
}


def _stated(note: str, start: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    found = [
        product for text, product in PRODUCTS.items() if text.startswith(start) and text in note
    ]
    assert len(found) == 1, note
    return found[0]


@pytest.mark.parametrize(
    ("layout", "batch"), [("in_out", False), ("out_in", False), ("in_out", True), ("out_in", True)]
)
def test_the_recursion_note_carries_delta_back_through_W_the_layout_s_way(
    layout: str, batch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """δℓ from δℓ₊₁ as the note states it, evaluated in NumPy, against central differences of a
    loss written here: h = Wᵀa + b (in_out) needs Wℓ₊₁ δℓ₊₁, h = Wa + b (out_in) Wℓ₊₁ᵀ δℓ₊₁."""
    derivation = _unchecked(_problem([2, 3, 2, 2], layout=layout, batch=batch), monkeypatch)
    notes = [step.note for step in derivation.steps if "recursion" in step.note]
    assert len(notes) == 1
    note = notes[0]
    # a hidden layer of 3 units into one of 2: W is 3×2 (in_out) or 2×3 (out_in), so the wrong
    # way round does not even multiply; any smooth L of the next pre-activation serves
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(3, 2) if layout == "in_out" else (2, 3))
    rows, c = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))

    def next_h(h: np.ndarray) -> np.ndarray:  # (rows, 2), a = tanh(h) row by row
        return np.tanh(h) @ (weight if layout == "in_out" else weight.T)

    def loss(h: np.ndarray) -> float:
        return float(np.sum(c * np.sin(next_h(h))))

    step = 1e-6
    numeric = np.zeros_like(rows)
    for index in np.ndindex(*rows.shape):
        bump = np.zeros_like(rows)
        bump[index] = step
        numeric[index] = (loss(rows + bump) - loss(rows - bump)) / (2 * step)
    delta_next = c * np.cos(next_h(rows))  # ∂L/∂hℓ₊₁, one row per instance
    f_prime = 1 - np.tanh(rows) ** 2
    one = _stated(note, "δℓ")
    per_row = np.array([one(weight, d) for d in delta_next]) * f_prime
    np.testing.assert_allclose(per_row, numeric, atol=1e-8)
    if batch:
        stacked = _stated(note, "Δℓ")(weight, delta_next) * f_prime
        np.testing.assert_allclose(stacked, numeric, atol=1e-8)
    else:
        assert "Δℓ" not in note


@pytest.mark.parametrize("layout", ["in_out", "out_in"])
def test_the_dW_note_names_the_part_of_W_that_h_j_reads(
    layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hⱼ = Σᵢ W[i, j] xᵢ + bⱼ (in_out) reads column j; hⱼ = Σᵢ W[j, i] xᵢ + bⱼ (out_in) row j."""
    derivation = _unchecked(_problem([3, 2, 2], layout=layout), monkeypatch)
    note = next(step.note for step in derivation.steps if step.quantity == "∂L/∂W1")
    parts = [part for part in ("column", "row") if f"only through its own {part}" in note]
    assert len(parts) == 1, note
    rng = np.random.default_rng(5)
    weight, x, j = rng.normal(size=(3, 2) if layout == "in_out" else (2, 3)), rng.normal(size=3), 1

    def h(w: np.ndarray) -> np.ndarray:
        return w.T @ x if layout == "in_out" else w @ x

    others = np.ones_like(weight)  # every entry but the stated part of W is moved
    if parts[0] == "column":
        others[:, j] = 0
    else:
        others[j, :] = 0
    moved = weight + others * rng.normal(size=weight.shape)
    assert h(moved)[j] == pytest.approx(h(weight)[j], abs=1e-12)


@pytest.mark.parametrize(
    ("activation", "index_form"),
    [
        ("relu", "∂L/∂h1ᵢ = ∂L/∂a1ᵢ · 1[h1ᵢ > 0]"),
        ("leaky_relu", "∂L/∂h1ᵢ = ∂L/∂a1ᵢ · (1[h1ᵢ > 0] + α·1[h1ᵢ ≤ 0])"),
        ("sigmoid", "∂L/∂h1ᵢ = ∂L/∂a1ᵢ · a1ᵢ(1 − a1ᵢ)"),
        ("tanh", "∂L/∂h1ᵢ = ∂L/∂a1ᵢ · (1 − a1ᵢ²)"),
        ("identity", "∂L/∂h1ᵢ = ∂L/∂a1ᵢ · 1"),
    ],
)
def test_the_activation_step_reads_entry_by_entry(
    activation: str, index_form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single entries are multiplied, so no elementwise ⊙ shows in an index form."""
    derivation = _unchecked(_problem([2, 2, 2], activation=activation), monkeypatch)
    step = next(step for step in derivation.steps if step.quantity == "∂L/∂h1")
    assert step.index_form == index_form


@pytest.mark.parametrize(
    ("output", "index_form"),
    [
        ("sigmoid", "∂ŷᵢ/∂zⱼ = δᵢⱼ ŷᵢ(1 − ŷᵢ)"),
        ("identity", "∂ŷᵢ/∂zⱼ = δᵢⱼ"),
    ],
)
def test_the_output_jacobian_reads_entry_by_entry(
    output: str, index_form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _problem([2, 2], output=output, loss={"kind": "squared_error"})
    step = next(s for s in _unchecked(document, monkeypatch).steps if s.quantity == "∂ŷ/∂z")
    assert step.index_form == index_form
