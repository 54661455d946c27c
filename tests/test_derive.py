"""The derivation: every step verified by sympy across architectures, and a wrong formula caught."""

from __future__ import annotations

import collections
import functools
import json
import re
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import handgrad
from handgrad import words
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


def _unchecked(document: dict[str, Any] | str, monkeypatch: pytest.MonkeyPatch) -> Derivation:
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


# ----------------------------------------------------------- the derivation in Problem 1's symbols

SIZE_SYMBOLS = re.compile(r"[dqB]|n[₀-₉]*")
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _result_shape(step: steps.Step) -> str:
    return step.shape.split(" → ")[-1]


def _shapes(derivation: Derivation) -> dict[str, str]:
    return {step.quantity: _result_shape(step) for step in derivation.steps if step.shape}


def test_the_seed_s_shapes_are_in_d_n_q(monkeypatch: pytest.MonkeyPatch) -> None:
    """Problem 1 asks for a d-n-q network: W2 is n × q in the course's layout, never "3×3"."""
    derivation = _unchecked("homework3", monkeypatch)
    shapes = _shapes(derivation)
    assert shapes["∂L/∂W2"] == "n × q" and shapes["∂L/∂W1"] == "d × n"
    assert shapes["∂L/∂b2"] == "q" and shapes["∂L/∂b1"] == "n"
    assert shapes["∂L/∂z"] == "q" and shapes["∂L/∂a1"] == "n" and shapes["∂L/∂h1"] == "n"
    assert shapes["∂ŷ/∂z"] == "q × q"
    by_name = {step.quantity: step for step in derivation.steps}
    assert by_name["∂L/∂W2"].shape == "a1: n, ∂L/∂z: q → n × q"
    assert (
        by_name["∂L/∂W2"].shape_latex
        == r"a_{1}\colon n,\ \partial L/\partial z\colon q \to n \times q"
    )
    assert by_name["∂L/∂a1"].shape == "W2: n × q, ∂L/∂z: q → n"
    assert not any(char.isdigit() for step in derivation.steps for char in _result_shape(step))


def test_shapes_follow_the_out_in_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = _shapes(_unchecked(_problem([2, 3, 3], layout="out_in"), monkeypatch))
    assert shapes["∂L/∂W2"] == "q × n" and shapes["∂L/∂W1"] == "n × d"
    assert shapes["∂L/∂b2"] == "q"


def test_deeper_networks_number_the_hidden_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    derivation = _unchecked(_problem([2, 3, 4, 2, 3]), monkeypatch)
    shapes = _shapes(derivation)
    assert shapes["∂L/∂W1"] == "d × n₁" and shapes["∂L/∂W2"] == "n₁ × n₂"
    assert shapes["∂L/∂W3"] == "n₂ × n₃" and shapes["∂L/∂W4"] == "n₃ × q"
    assert shapes["∂L/∂a2"] == "n₂" and shapes["∂L/∂b3"] == "n₃"
    step = next(s for s in derivation.steps if s.quantity == "∂L/∂W2")
    assert step.shape_latex.endswith(r"n_{1} \times n_{2}")
    assert "n " not in _result_shape(step) + " "  # no bare n once there are several


def test_a_batch_s_rows_are_B(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are instances: ∂L/∂Z is B × q; ∂L/∂W sums the rows, so it keeps W's shape."""
    derivation = _unchecked(_problem([2, 3, 3], batch=True), monkeypatch)
    by_name = {step.quantity: step for step in derivation.steps}
    assert _result_shape(by_name["∂L/∂Z"]) == "B × q"
    assert _result_shape(by_name["∂L/∂H1"]) == "B × n"
    assert by_name["∂L/∂W2"].shape == "A1: B × n, ∂L/∂Z: B × q → n × q"
    assert by_name["∂L/∂W1"].shape == "X: B × d, ∂L/∂H1: B × n → d × n"
    assert _result_shape(by_name["∂L/∂b1"]) == "n"
    # the sum over the rows names the row b of each factor
    assert by_name["∂L/∂W1"].index_form == "∂L/∂W1[i, j] = Σᵦ X[b, i] · ∂L/∂H1[b, j]"
    assert by_name["∂L/∂b2"].index_form == "∂L/∂b2ⱼ = Σᵦ ∂L/∂Z[b, j]"


@pytest.mark.parametrize("name", list(CASES))
def test_the_symbolic_shapes_give_the_instance_s_shapes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each result shape, with the instance's sizes put in for d, n…, q, B, is the shape of the
    array the solver records (an independent look at the sizes: the problem's own numbers)."""
    problem = handgrad.load_problem(CASES[name])
    derivation = _unchecked(CASES[name], monkeypatch)
    layers = problem.architecture.layers
    hidden = layers[1:-1]
    sizes = {"d": layers[0], "q": layers[-1], "B": problem.batch_size}
    if len(hidden) == 1:
        sizes["n"] = hidden[0]
    else:
        sizes.update({"n" + str(k).translate(SUBSCRIPT): n for k, n in enumerate(hidden, 1)})
    recorded = {
        q.symbol.text: q.value
        for q in handgrad.solve(problem).quantities
        if q.section == "backward"
    }
    compared = 0
    for step in derivation.steps:
        if step.quantity not in recorded:
            continue
        dims = [sizes[symbol] for symbol in _result_shape(step).split(" × ")]
        assert tuple(dims) == np.shape(recorded[step.quantity]), step.quantity
        assert all(SIZE_SYMBOLS.fullmatch(part) for part in _result_shape(step).split(" × "))
        compared += 1
    assert compared >= 3 * problem.architecture.depth


def test_the_instance_s_sizes_are_given_once_as_an_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from handgrad.render.derivation import render_derivation_markdown, render_derivation_text

    seed = _unchecked("homework3", monkeypatch)
    sizes = words.as_text(seed.sizes)
    assert "d inputs, n hidden units, q outputs" in sizes
    assert "(here d = 2, n = 3, q = 3)" in sizes
    assert seed.to_dict()["sizes"] == sizes
    markdown = render_derivation_markdown(seed)
    assert markdown.count("$d = 2$") == 1 and "$n = 3$" in markdown
    assert render_derivation_text(seed, width=300).count("here d = 2, n = 3, q = 3") == 1
    deep = words.as_text(_unchecked(_problem([2, 3, 4, 2, 3], batch=True), monkeypatch).sizes)
    assert "n₁, n₂ and n₃ units in hidden layers 1 to 3" in deep
    assert "(here d = 2, n₁ = 3, n₂ = 4, n₃ = 2, q = 3, B = 2)" in deep
    latex = [
        part.latex
        for part in words.sizes_convention(handgrad.load_problem(_problem([2, 3, 4, 3])))
        if not isinstance(part, str)
    ]
    assert "n_{1} = 3" in latex and "n_{2} = 4" in latex


def _collapse_note(derivation: Derivation) -> str:
    return next(step.note for step in derivation.steps if step.quantity in ("∂L/∂z", "∂L/∂Z"))


def test_the_collapse_note_gives_each_smoothing_convention_s_own_sum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uniform: Σ yˢ = (1 − ε) Σ y + ε for any distribution; others: (1 − ε) + ε (q − 1)/(q − 1)
    for the one-hot targets it is made for."""
    uniform = _collapse_note(
        _unchecked(_problem([2, 3, 3], loss={"label_smoothing": 0.3}), monkeypatch)
    )
    others = _collapse_note(
        _unchecked(
            _problem([2, 3, 3], loss={"label_smoothing": 0.3, "smoothing": "others"}),
            monkeypatch,
        )
    )
    assert "Σᵢ yˢᵢ = (1 − ε) Σᵢ yᵢ + ε = 1 for any distribution y" in uniform
    assert "(1 − y" not in uniform and "either" not in uniform
    assert (
        "Σᵢ yˢᵢ = (1 − ε) Σᵢ yᵢ + ε Σᵢ (1 − yᵢ)/(q − 1) = (1 − ε) + ε (q − 1)/(q − 1) = 1"
        " for a one-hot y" in others
    )
    assert "(1 − ε) Σᵢ yᵢ + ε = 1" not in others and "either" not in others
    # the sums as stated, evaluated here from the conventions' definitions
    rng = np.random.default_rng(7)
    eps, q = 0.3, 5
    for y in (np.eye(q)[2], rng.dirichlet(np.ones(q))):
        assert np.sum((1 - eps) * y + eps / q) == pytest.approx(1)
        assert np.sum((1 - eps) * y + eps * (1 - y) / (q - 1)) == pytest.approx(1)


def test_each_formula_shows_once_in_a_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """Markdown: the index form as typeset math, then the matrix form; no plain-text copy."""
    from handgrad.render.derivation import render_derivation_markdown, render_derivation_text

    derivation = _unchecked("homework3", monkeypatch)
    markdown = render_derivation_markdown(derivation)
    assert "∂L/∂W2[i, j] = a1ᵢ · ∂L/∂zⱼ" not in markdown
    index = r"\frac{\partial L}{\partial W_{2}[i,j]} = a_{1,i}\,\frac{\partial L}{\partial z_j}"
    matrix = r"\frac{\partial L}{\partial W_{2}} = a_{1} \left(\frac{\partial L}{\partial z}\right)"
    assert f"$$\n{index}\n$$\n\n$$\n{matrix}" in markdown
    for step in derivation.steps:
        assert step.index_form not in markdown, step.index_form
        assert markdown.count(f"$$\n{step.index_latex}\n$$") == 1, step.index_latex
    # the terminal keeps Unicode: the index form's line, then the matrix form's
    text = render_derivation_text(derivation, width=300)
    assert text.index("∂L/∂W2[i, j] = a1ᵢ · ∂L/∂zⱼ") < text.index("∂L/∂W2 = a1 (∂L/∂z)ᵀ")
    assert text.count("x → h1 → a1 → z → ŷ → L") == 1


@pytest.mark.parametrize(
    ("activation", "index_latex"),
    [
        ("relu", r"\mathbf{1}[h_{1,i} > 0]"),
        ("sigmoid", r"a_{1,i}(1 - a_{1,i})"),
        ("tanh", r"(1 - a_{1,i}^2)"),
    ],
)
def test_the_activation_step_s_index_form_is_typeset_entry_by_entry(
    activation: str, index_latex: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    derivation = _unchecked(_problem([2, 2, 2], activation=activation), monkeypatch)
    step = next(step for step in derivation.steps if step.quantity == "∂L/∂h1")
    head = r"\frac{\partial L}{\partial h_{1,i}} = \frac{\partial L}{\partial a_{1,i}} \cdot "
    assert step.index_latex == head + index_latex
    assert r"\odot" not in step.index_latex and r"\odot" in step.latex


def test_a_nonzero_relu_derivative_at_zero_shows_in_the_index_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    derivation = _unchecked(_problem([2, 2, 2], relu_grad_at_zero=0.5), monkeypatch)
    step = next(step for step in derivation.steps if step.quantity == "∂L/∂h1")
    assert step.index_form == "∂L/∂h1ᵢ = ∂L/∂a1ᵢ · (1[h1ᵢ > 0] + 0.5·1[h1ᵢ = 0])"


SIX_LAYERS = _problem([3, 3, 3, 3, 3, 3, 3], activation="tanh", layout="out_in", batch=True)


def test_a_correct_six_layer_network_is_verified_and_a_tiny_error_at_depth_6_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check compares to 30 digits: ∂L/∂a off by one part in 10²⁵ in the δ recursion is
    caught in every layer it reaches, while ∂L/∂z and the last layer's ∂L/∂W stay ✓."""
    problem = handgrad.load_problem(SIX_LAYERS)
    assert all(check_backward(problem).values())
    real = ops.linear_backward

    def slightly_wrong(dh: Any, cache: ops.LinearCache, layout: ops.Layout) -> Any:
        dx, dW, db = real(dh, cache, layout)
        return dx * (1 + Fraction(1, 10**25)), dW, db

    monkeypatch.setattr(ops, "linear_backward", slightly_wrong)
    verdict = check_backward(problem)
    assert verdict["dz"] and verdict["dW6"] and verdict["db6"]
    assert not any(verdict[f"dW{layer}"] for layer in range(1, 6))
    assert not any(verdict[f"da{layer}"] for layer in range(1, 6))


def test_a_wrong_activation_derivative_is_caught_at_depth_6(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tanh′ = 1 − a² written as 1 − a (a classic slip): every hidden layer's ∂L/∂h is ✗."""
    real = ops.activation_derivative

    def wrong(cache: ops.ActivationCache, act: Any) -> Any:
        return 1 - cache.a if act.name == "tanh" else real(cache, act)

    monkeypatch.setattr(ops, "activation_derivative", wrong)
    verdict = check_backward(handgrad.load_problem(SIX_LAYERS))
    assert verdict["dz"] and verdict["da5"]
    assert not any(verdict[f"dh{layer}"] for layer in range(1, 6))
    assert not verdict["dW1"]
