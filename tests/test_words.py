"""words.py: the formulas' words come from the core's table, and an activation added to the
table is understood everywhere a problem is read, solved, worded and checked."""

from __future__ import annotations

import numpy as np
import pytest

from handgrad.core import activations
from handgrad.core.activations import ACTIVATIONS, ActivationRule
from handgrad.problem import load_problem
from handgrad.solver import solve
from handgrad.words import Wording, conventions


@pytest.fixture
def softplus(monkeypatch):
    """softplus(h) = ln(1 + eʰ), softplus′(h) = σ(h): registered in the table alone."""
    rule = ActivationRule(
        "softplus",
        lambda xp, h, act: xp.log(1 + xp.exp(h)),
        lambda xp, h, a, act: activations.sigmoid(xp, h),
        "softplus", r"\operatorname{softplus}", "softplus",
        "σ({h})", r"\sigma({h})", "softplus′(h) = σ(h)",
        piecewise_linear=False, he_initialised=False,
    )
    monkeypatch.setitem(ACTIVATIONS, "softplus", rule)
    return rule


def test_an_activation_added_to_the_table_is_read_solved_worded_and_checked(softplus) -> None:
    document = load_problem("homework3").to_dict()
    document["network"]["activation"] = "softplus"
    problem = load_problem(document)
    solution = solve(problem)
    assert solution.checks[0].passed  # finite differences agree with the table's derivative
    h1 = np.array([-13.0, 2.0, -5.0])  # the seed's pre-activations, worked by hand
    np.testing.assert_allclose(solution.forward["a1"], np.log1p(np.exp(h1)), rtol=1e-9)
    a1 = next(q for q in solution.quantities if q.key == "a1")
    assert a1.formula.text == "softplus(h1)"
    dh1 = next(q for q in solution.quantities if q.key == "dh1")
    assert dh1.formula.text == "∂L/∂a1 ⊙ σ(h1)" and dh1.note == "softplus′(h) = σ(h)"


def test_the_seeds_words() -> None:
    problem = load_problem("homework3")
    solution = solve(problem)
    said = conventions(problem)
    assert said[0].startswith("layout in_out: h = Wᵀx + b")
    assert "ReLU′(0) = 0 (the subgradient used at a kink)" in said
    by_key = {q.key: q for q in solution.quantities}
    assert by_key["h1"].formula.text == "W1ᵀx + b1"
    assert by_key["a1"].formula.latex == r"\operatorname{ReLU}\left(h_{1}\right)"
    assert by_key["dz"].formula.text == "ŷ − yˢ"
    assert by_key["dh1"].formula.text == "∂L/∂a1 ⊙ 1[h1 > 0]"
    assert by_key["W1"].relation == "←"
    assert [q.key for q in Wording(problem).update(dict(problem.params), 1.0)] == [
        "W1", "b1", "W2", "b2", "loss"
    ]


def test_squared_error_through_sigmoid_words_the_jacobian_step() -> None:
    solution = solve(load_problem("regression"))
    dz = next(q for q in solution.quantities if q.key == "dz")
    assert dz.formula.text == "∂L/∂ŷ ⊙ ŷ ⊙ (1 − ŷ)"


def test_layer_symbols_name_the_sizes_as_problem_1_does() -> None:
    from handgrad.words import layer_symbols

    assert [s.text for s in layer_symbols([2, 3])] == ["d", "q"]
    assert [s.text for s in layer_symbols([2, 3, 3])] == ["d", "n", "q"]
    deep = layer_symbols([2] * 13)  # eleven hidden layers: two-digit subscripts
    assert [s.text for s in deep[1:3]] == ["n₁", "n₂"] and deep[-2].text == "n₁₁"
    assert deep[-2].latex == "n_{11}" and deep[-1].latex == "q"


def test_the_activation_derivative_carries_the_problem_s_relu_convention() -> None:
    problem = load_problem(
        {
            "network": {"layers": [2, 2, 2], "relu_grad_at_zero": 1},
            "data": {"x": [1, 0], "label": 0},
            "optimizer": {"learning_rate": 0.1},
        }
    )
    from handgrad.notation import Math

    derivative = Wording(problem).activation_derivative(Math("a", "a"), Math("h", "h"))
    assert derivative.text == "(1[h > 0] + 1·1[h = 0])"
    assert derivative.latex == r"(\mathbf{1}[h > 0] + 1\,\mathbf{1}[h = 0])"
