"""generate beyond the homework's kind: every option's problems confirmed by the solver's
independent checks (finite differences and PyTorch) and well posed by checks written here in
plain NumPy; invalid combinations refused with the reason."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from handgrad.errors import HandgradError
from handgrad.generate import GenerateSettings, generate
from handgrad.problem import load_problem, validate_problem
from handgrad.solver import check_problem, solve
from tests.test_generate_roster import handgrad_in_process

ACTIVATE = {
    "relu": lambda h: np.maximum(h, 0),
    "leaky_relu": lambda h: np.where(h > 0, h, 0.01 * h),
    "sigmoid": lambda h: 1 / (1 + np.exp(-h)),
    "tanh": np.tanh,
    "identity": lambda h: h,
}


def forward(doc: dict) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every pre-activation h (B, n), the logits z and ŷ, by the course's formulas."""
    net = doc["network"]
    x = np.atleast_2d(np.array(doc["data"]["x"], float))
    a, hs = x, []
    depth = len(net["layers"]) - 1
    for layer in range(1, depth + 1):
        w = np.array(doc["params"][f"W{layer}"], float)
        h = a @ (w if net["layout"] == "in_out" else w.T) + np.array(doc["params"][f"b{layer}"])
        if layer == depth:
            z = h
        else:
            hs.append(h)
            a = ACTIVATE[net["activation"]](h)
    if net["output"] == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        yhat = e / e.sum(axis=1, keepdims=True)
    else:
        yhat = ACTIVATE["sigmoid" if net["output"] == "sigmoid" else "identity"](z)
    return hs, z, yhat


def assert_well_posed(doc: dict, low: int = -5, high: int = 5) -> None:
    net = doc["network"]
    given = [*doc["params"].values(), doc["data"]["x"]]
    for value in map(np.array, given):
        assert np.all(value == np.round(value)) and low <= value.min() <= value.max() <= high
    hs, z, yhat = forward(doc)
    for h in hs:
        if net["activation"] in ("relu", "leaky_relu"):
            assert np.min(np.abs(h)) >= 1 and np.any(h > 0)  # off the kink; a live layer
        elif net["activation"] == "sigmoid":
            assert np.max(np.abs(h)) <= 3  # σ′ ≥ 0.045: not saturated
        elif net["activation"] == "tanh":
            assert np.max(np.abs(h)) <= 2  # tanh′ ≥ 0.07: not saturated
    if net["output"] == "softmax":
        assert yhat.max() <= 0.99
    elif net["output"] == "sigmoid":
        assert np.max(np.abs(z)) <= 3
    problem = validate_problem(doc, "generated")
    solution = solve(problem)
    for name, grad in solution.backward.items():
        if name.startswith(("dW", "db")):
            assert np.any(np.asarray(grad) != 0), name  # no parameter left without a gradient
    if net["output"] == "identity" or doc["optimizer"]["steps"] > 1:
        numbers = [z, *solution.backward.values(), *solution.update.values()]
        assert max(float(np.max(np.abs(v))) for v in numbers) <= 1000  # a hand carries these
    if doc["optimizer"]["steps"] > 1:
        assert solution.history[-1] < solution.history[0]  # the steps make progress
    report = check_problem(problem)  # finite differences and PyTorch agree with the solver
    assert report.passed, report.failures()
    assert {c.method for c in report.checks} >= {"finite_differences", "torch"}


@pytest.mark.parametrize(
    "options",
    [
        {"activations": ("leaky_relu",)},
        {"activations": ("sigmoid",)},
        {"activations": ("tanh",)},
        {"activations": ("identity",)},
        {"outputs": ("sigmoid",)},  # squared error: the loss by output
        {"outputs": ("identity",), "activations": ("tanh",)},
        {"outputs": ("softmax",), "losses": ("squared_error",)},
        {"smoothings": ("others",), "epsilons": (0.2,)},
        {"epsilons": (0.0,), "learning_rates": (0.05,)},
        {"layouts": ("out_in",)},
        {"batch": 3},
        {"steps": 3},
        {"layers": (3, 4, 3, 2), "activations": ("tanh",), "layouts": ("out_in",), "batch": 2},
        {"outputs": ("identity",), "activations": ("identity",), "batch": 2, "steps": 2},
    ],
    ids=lambda options: ",".join(f"{k}={v}" for k, v in options.items()),
)
def test_every_option_gives_well_posed_problems_the_checks_confirm(options):
    docs = generate(GenerateSettings(count=3, seed=2, **options))
    for doc in docs:
        net, loss = doc["network"], doc["loss"]
        for key, setting in (("activation", "activations"), ("output", "outputs"),
                             ("layout", "layouts")):
            if setting in options:
                assert net[key] in options[setting]
        assert loss["kind"] == (options.get("losses") or (
            ("cross_entropy",) if net["output"] == "softmax" else ("squared_error",)))[0]
        if loss["kind"] == "cross_entropy":
            assert loss["smoothing"] in options.get("smoothings", ("uniform",))
            assert loss["label_smoothing"] in options.get("epsilons", (0.1, 0.2, 0.3))
        else:
            assert set(loss) == {"kind"}
        rates = (0.01, 0.02, 0.05) if net["output"] == "identity" else (0.1, 0.5, 1.0)
        assert doc["optimizer"]["learning_rate"] in options.get("learning_rates", rates)
        assert doc["optimizer"]["steps"] == options.get("steps", 1)
        x = np.array(doc["data"]["x"])
        assert x.shape == ((options["batch"], net["layers"][0]) if "batch" in options
                           else (net["layers"][0],))
        assert_well_posed(doc)


def test_targets_fit_the_output():
    for output, check in [
        ("softmax", lambda y: set(y.sum(axis=-1).flat) == {1} and set(y.flat) <= {0, 1}),
        ("sigmoid", lambda y: set(y.flat) <= {0, 1}),
        ("identity", lambda y: np.all((y >= -5) & (y <= 5)) and np.all(y == np.round(y))),
    ]:
        for doc in generate(GenerateSettings(count=4, seed=1, outputs=(output,), batch=2)):
            assert check(np.array(doc["data"]["y"])), (output, doc["data"]["y"])


def test_mixed_choices_draw_one_per_variant_in_fair_shares():
    docs = generate(GenerateSettings(count=40, seed=3, activations=("relu", "tanh"),
                                     layouts=("in_out", "out_in")))
    activations = Counter(d["network"]["activation"] for d in docs)
    layouts = Counter(d["network"]["layout"] for d in docs)
    assert min(activations.values()) >= 12 and min(layouts.values()) >= 12, (activations,
                                                                              layouts)
    for doc in docs[:6]:
        assert_well_posed(doc)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"outputs": ("sigmoid",), "losses": ("cross_entropy",)},
         "--loss cross_entropy with --output sigmoid: cross-entropy compares probabilities"),
        ({"outputs": ("softmax", "identity"), "losses": ("cross_entropy",)},
         "--output identity"),
        ({"outputs": ("sigmoid",), "smoothings": ("others",)},
         "--smoothing: label smoothing applies only to --loss cross_entropy"),
        ({"activations": ("rleu",)}, "--activation 'rleu' is not one of relu"),
        ({"layouts": ("columns",)}, "--layout 'columns' is not one of in_out, out_in"),
        ({"epsilons": (1.0,)}, "--epsilon: each ε must be at least 0 and below 1"),
        ({"learning_rates": (0.0,)}, "--learning-rate: each η must be from 0.001 to 10"),
        ({"batch": 9}, "--batch must be 1 (one instance) to 8"),
        ({"steps": 21}, "--steps must be 1 to 20"),
        ({"layers": (2, 21, 3)}, "at most 20 units in a layer"),
        ({"layers": (2, 3, 1)}, "at least 2 classes for softmax"),
    ],
)
def test_invalid_choices_are_refused_with_the_reason(options, message):
    with pytest.raises(HandgradError) as caught:
        generate(GenerateSettings(**options))
    assert message in str(caught.value)


def test_one_output_unit_is_fine_without_softmax():
    (doc,) = generate(GenerateSettings(layers=(2, 3, 1), outputs=("sigmoid",)))
    assert_well_posed(doc)


def test_hopeless_choices_say_which_check_failed():
    settings = GenerateSettings(layers=(4, 4, 2), activations=("tanh",), low=-20, high=20,
                                batch=8, max_draws=3)
    with pytest.raises(HandgradError) as caught:
        generate(settings)
    message = str(caught.value)
    assert "no well-posed problem found in 3 draws" in message and "activation tanh" in message
    assert "where tanh saturates" in message and "narrow the range" in message


def test_generate_cli_with_new_options(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = handgrad_in_process(
        capsys, "generate", "-k", "2", "--activation", "tanh,sigmoid", "--output", "sigmoid",
        "--layout", "out_in", "--batch", "2", "--steps", "2", "--learning-rate", "0.5",
        "--out", "set", "-f", "json")
    assert code == 0, err
    for number in (1, 2):
        problem = load_problem(tmp_path / "set" / f"problem-{number}.toml")
        spec = problem.spec
        assert spec.network.activation in ("tanh", "sigmoid") and spec.network.output == "sigmoid"
        assert spec.network.layout == "out_in" and problem.batch_size == 2
        assert spec.optimizer.steps == 2 and spec.optimizer.learning_rate == 0.5
    for args, message in [
        (("--output", "sigmoid", "--loss", "cross_entropy"), "cross-entropy compares"),
        (("--output", "identity", "--epsilon", "0.1"), "--epsilon: label smoothing applies"),
        (("--epsilon", "0.1,x"), "--epsilon 0.1,x: 'x' is not a number"),
        (("--learning-rate", "nan"), "is not a number"),
        (("--activation", "relu,,tanh"), "an empty choice"),
        (("--batch", "9"), "--batch must be 1"),
    ]:
        code, err = handgrad_in_process(capsys, "generate", *args, "--out", "other")
        assert code == 2 and message in err, (args, err)
        assert "Traceback" not in err and not (tmp_path / "other").exists()
