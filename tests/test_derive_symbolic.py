"""The derivation check's random points: never at (or near) a kink of a piecewise-linear
activation, checked here with exact fractions, and a correct engine passes where the old
0.1 grid put a hidden pre-activation exactly at 0."""

from __future__ import annotations

import functools
import random
from fractions import Fraction
from typing import Any

import pytest

import handgrad
from handgrad.derive import symbolic
from handgrad.derive.symbolic import check_backward

pytest.importorskip("sympy")
pytest.importorskip("mpmath")

SEEDS = 300  # the old grid put some h exactly at 0 for seeds 166, 201, 240, ... of "relu"


def _problem(layers: list[int], batch: bool = False, **network: Any) -> handgrad.Problem:
    x = [[0.5] * layers[0], [-1.0] * layers[0]] if batch else [0.5] * layers[0]
    return handgrad.load_problem(
        {
            "network": {"layers": layers, **network},
            "data": {"x": x, "label": [0, 1] if batch else 1},
            "loss": {"label_smoothing": 0.3},
            "optimizer": {"learning_rate": 0.1},
        }
    )


PROBLEMS = {
    "relu": _problem([2, 3, 3]),
    "leaky-out_in-deep-batch": _problem(
        [2, 3, 3, 2], batch=True, activation="leaky_relu", layout="out_in"
    ),
    "identity-deep": _problem([3, 2, 2, 2], activation="identity"),
}


def _exact(value: float) -> Fraction:
    """A drawn number as the decimal it prints as, which is how the check reads it."""
    return Fraction(repr(value))


def _hidden_pre_activations(document: dict[str, Any]) -> list[Fraction]:
    """Every hᵢ of every hidden layer and row, in exact fractions: h = Wᵀa + b (in_out) or
    Wa + b (out_in), a = ReLU(h), LeakyReLU(h) or h."""
    network, params = document["network"], document["params"]
    layers, in_out = network["layers"], network["layout"] == "in_out"
    slope = _exact(network.get("leaky_slope", 0.0))
    activate = {
        "relu": lambda h: max(h, Fraction(0)),
        "leaky_relu": lambda h: h if h > 0 else slope * h,
        "identity": lambda h: h,
    }[network["activation"]]
    x = document["data"]["x"]
    found = []
    for row in x if isinstance(x[0], list) else [x]:
        a = [_exact(v) for v in row]
        for layer in range(1, len(layers) - 1):
            W = [[_exact(v) for v in line] for line in params[f"W{layer}"]]
            b = [_exact(v) for v in params[f"b{layer}"]]
            h = [
                sum((W[i][j] if in_out else W[j][i]) * a[i] for i in range(len(a))) + b[j]
                for j in range(layers[layer])
            ]
            found += h
            a = [activate(v) for v in h]
    return found


@functools.cache
def _drawn(name: str, seed: int) -> list[Fraction]:
    """The hidden pre-activations of every point check_backward(problem, seed) draws."""
    rng = random.Random(seed)
    return [
        h
        for _ in range(symbolic.POINTS)
        for h in _hidden_pre_activations(symbolic._small_document(PROBLEMS[name], rng))
    ]


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_no_hidden_pre_activation_is_drawn_at_a_kink(name: str) -> None:
    """At h = 0 sympy's ReLU′ is Heaviside(0) = ½, no convention of the engine's."""
    at_zero = [seed for seed in range(SEEDS) if 0 in _drawn(name, seed)]
    assert at_zero == []


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_every_hidden_pre_activation_keeps_the_margin(name: str) -> None:
    margin = _exact(symbolic.KINK_MARGIN)
    assert margin > 0
    closest = min(abs(h) for seed in range(SEEDS) for h in _drawn(name, seed))
    assert closest >= margin


def test_a_correct_engine_passes_where_the_old_grid_hit_a_kink() -> None:
    """Seed 201 put h1 exactly at 0 on the old 0.1 grid, and dW1, db1 and dh1 came out ✗."""
    verdict = check_backward(PROBLEMS["relu"], seed=201)
    assert verdict and all(verdict.values())
