"""The Python API: loading, the problem as understood, seeded parameters, the Solution's views."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import handgrad
from handgrad.problem import initial_params


def test_load_problem_from_a_dict_fills_the_defaults() -> None:
    problem = handgrad.load_problem(
        {
            "network": {"layers": [2, 2]},
            "params": {"W1": [[1, 0], [0, 1]], "b1": [0, 0]},
            "data": {"x": [1, 2], "label": 1},
            "optimizer": {"learning_rate": 0.5},
        }
    )
    understood = problem.to_dict()
    assert understood["network"]["activation"] == "relu"
    assert understood["network"]["layout"] == "in_out"
    assert understood["loss"] == {
        "kind": "cross_entropy",
        "label_smoothing": 0.0,
        "smoothing": "uniform",
        "reduction": "mean",
    }
    assert understood["optimizer"] == {"learning_rate": 0.5, "steps": 1, "frozen": []}
    assert understood["data"] == {"x": [1.0, 2.0], "label": 1}  # labels stay as given
    np.testing.assert_array_equal(problem.y, [[0.0, 1.0]])  # and mean one-hot targets


@pytest.mark.parametrize("name", ["homework3", "deep_batch", "regression"])
def test_the_problem_as_understood_reloads_to_the_same_solution(name: str) -> None:
    """Problem.to_dict() is a problem document: it loads back, as JSON, to the same problem."""
    problem = handgrad.load_problem(handgrad.default_problem_path().with_name(f"{name}.toml"))
    understood = json.loads(json.dumps(problem.to_dict()))
    again = handgrad.load_problem(understood)
    assert again.to_dict() == problem.to_dict()
    solved, solved_again = (json.loads(handgrad.solve(p).to_json()) for p in (problem, again))
    for part in ("forward", "backward", "update", "history"):
        assert solved_again[part] == solved[part], part


def test_json_numbers_round_trip_at_full_precision() -> None:
    solution = handgrad.solve(handgrad.load_problem())
    data = json.loads(solution.to_json())
    assert data["forward"]["loss"] == solution.forward["loss"]  # bit for bit
    assert data["backward"]["dW2"] == solution.backward["dW2"].tolist()
    assert data["history"] == list(solution.history)
    # the engine's ∂L/∂h1 has a −0.0 (a ReLU mask times a negative number); JSON writes 0.0
    assert math.copysign(1.0, solution.backward["dh1"][0]) == -1.0
    assert data["backward"]["dh1"][0] == 0.0
    assert math.copysign(1.0, data["backward"]["dh1"][0]) == 1.0


def test_seeded_parameters_follow_the_documented_scheme() -> None:
    problem = handgrad.load_problem(
        {
            "network": {"layers": [400, 300, 10], "seed": 3},
            "data": {"x": [0.0] * 400, "label": 0},
            "optimizer": {"learning_rate": 0.1},
        }
    )
    assert problem.params_initialised
    params = problem.params
    # He into the ReLU hidden layer, Glorot into the output layer; biases zero
    assert np.std(params["W1"]) == pytest.approx(math.sqrt(2 / 400), rel=0.03)
    assert np.std(params["W2"]) == pytest.approx(math.sqrt(2 / 310), rel=0.05)
    assert not np.any(params["b1"]) and not np.any(params["b2"])
    again = initial_params(problem.architecture, 3)
    for name, value in params.items():
        np.testing.assert_array_equal(again[name], value)  # same seed, same numbers
    other = initial_params(problem.architecture, 4)
    assert not np.array_equal(other["W1"], params["W1"])


def test_solution_shows_itself_in_jupyter() -> None:
    solution = handgrad.solve(handgrad.load_problem())
    markdown = solution._repr_markdown_()
    assert markdown.startswith("# Worked solution: Homework 3, Problem 2")
    assert r"\frac{\partial L}{\partial W_{1}}" in markdown
    assert solution.to_markdown(digits=3) != solution.to_markdown(digits=8)


def test_batch_rows_and_gradient_shapes() -> None:
    problem = handgrad.load_problem(handgrad.default_problem_path().with_name("deep_batch.toml"))
    solution = handgrad.solve(problem)
    assert solution.forward["h1"].shape == (3, 4)
    assert solution.forward["losses"].shape == (3,)
    assert solution.forward["loss"] == pytest.approx(np.mean(solution.forward["losses"]))
    for name, value in problem.params.items():
        assert solution.backward[f"d{name}"].shape == value.shape
    assert len(solution.history) == 3  # before, after step 1, after step 2
    assert solution.update["loss"] == solution.history[-1]


def test_a_kink_is_flagged_with_its_convention() -> None:
    problem = handgrad.load_problem(
        {
            "network": {"layers": [1, 2, 2], "relu_grad_at_zero": 0.5},
            "params": {"W1": [[1, 1]], "b1": [-1, 0], "W2": [[1, 0], [0, 1]], "b2": [0, 0]},
            "data": {"x": [1.0], "label": 0},
            "optimizer": {"learning_rate": 0.1},
        }
    )
    solution = handgrad.solve(problem)
    (kink,) = solution.kinks
    assert (kink.key, kink.index) == ("h1", (0,))
    assert kink.convention == "ReLU′(0) = 0.5"
    # the convention is what the backward pass used: ∂L/∂h1[0] = 0.5 · ∂L/∂a1[0]
    assert solution.backward["dh1"][0] == pytest.approx(0.5 * solution.backward["da1"][0])


def test_the_playgrounds_answer_carries_f_prime_of_each_hidden_layer() -> None:
    """The page's tooltip shows f′(h) at a unit (∂L/∂h = ∂L/∂a ⊙ f′(h)); the server sends it,
    from the core's activation table. Worked here from the solution's h and a, by hand."""
    pytest.importorskip("fastapi")
    from handgrad.serve.api import interactive_problem, solve_payload

    document = {"network": {"layers": [2, 3, 2], "activation": "sigmoid", "seed": 4},
                "data": {"x": [[0.5, -1.0], [2.0, 0.25]], "label": [0, 1]},
                "optimizer": {"learning_rate": 0.1}}
    answer = solve_payload(interactive_problem(document))
    values = {q["key"]: q["value"] for q in answer["quantities"] if q["section"] == "forward"}
    a = np.asarray(values["a1"])
    assert a.shape == (2, 3)  # one row per instance, as the page reads h1
    sigmoid = answer["derivatives"]["h1"]
    assert (sigmoid["name"], sigmoid["name_latex"]) == ("σ′", r"\sigma'")
    np.testing.assert_allclose(sigmoid["value"], a * (1 - a), rtol=1e-12)

    document["network"]["activation"] = "relu"
    answer = solve_payload(interactive_problem(document))
    h = np.asarray(next(q["value"] for q in answer["quantities"] if q["key"] == "h1"))
    relu = answer["derivatives"]["h1"]
    assert relu["name"] == "ReLU′"
    assert relu["value"] == np.where(h > 0, 1.0, 0.0).tolist()
    flat = {**document, "network": {"layers": [2, 2], "seed": 4}}
    assert solve_payload(interactive_problem(flat))["derivatives"] == {}  # no hidden layer
