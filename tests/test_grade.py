"""The grader: every cause code on injected mistakes, carried-forward errors, rounding rules,
bad answer files; the generator's constraints, determinism and self-consistent answer keys.

Wrong answers are built here with NumPy formulas written in the test (`hand`), never with the
grader's or the engine's own functions.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from handgrad.core import network
from handgrad.errors import ProblemError
from handgrad.generate import GenerateSettings, generate, toml_text
from handgrad.grade import CAUSES, AnswerError, Tolerance, grade, grade_document, grade_file
from handgrad.problem import default_problem_path, load_problem, validate_problem
from handgrad.solver import solve

# ------------------------------------------------------------------ the hand computation


def hand(doc: dict, **override: object) -> dict:
    """Every quantity of a 2-layer ReLU/softmax/cross-entropy step (in_out, one instance,
    uniform smoothing), with any intermediate replaced by `override` and everything after it
    recomputed from the replacement, as a student carrying an error forward would."""
    p = {k: np.array(v, float) for k, v in doc["params"].items()}
    x, y = np.array(doc["data"]["x"], float), np.array(doc["data"]["y"], float)
    eps, eta = doc["loss"]["label_smoothing"], doc["optimizer"]["learning_rate"]
    q = len(y)
    v: dict = {}

    def put(name, value):
        v[name] = np.asarray(override.get(name, value), float)
        return v[name]

    h1 = put("h1", x @ p["W1"] + p["b1"])
    a1 = put("a1", np.maximum(h1, 0))
    z = put("z", a1 @ p["W2"] + p["b2"])
    e = np.exp(z - z.max())
    yhat = put("yhat", e / e.sum())
    ys = put("ys", (1 - eps) * y + eps / q)
    put("loss", -np.sum(ys * np.log(yhat)))
    dz = put("dz", yhat - ys)
    put("dW2", np.outer(a1, dz))
    put("db2", dz)
    da1 = put("da1", p["W2"] @ dz)
    dh1 = put("dh1", da1 * (h1 > 0))
    put("dW1", np.outer(x, dh1))
    put("db1", dh1)
    def grad(k):  # a student who wrote a gradient transposed turns it back for the update
        g = v[f"d{k}"]
        return g if g.shape == p[k].shape else g.T

    new = {k: put(f"new_{k}", p[k] - eta * grad(k)) for k in ("W1", "b1", "W2", "b2")}
    a = np.maximum(x @ new["W1"] + new["b1"], 0)
    z2 = a @ new["W2"] + new["b2"]
    put("new_loss", -(ys @ z2) + z2.max() + np.log(np.exp(z2 - z2.max()).sum()))
    return v


def hand_steps(doc: dict, steps: int, **override: object) -> dict:
    """`hand` for a problem of several steps: the first step as `hand` computes it (with any
    `override`), then steps − 1 more by the same NumPy lines, each from the gradients at that
    step's parameters; the update and its loss are those after the last step."""
    first = hand(doc, **override)
    last = first
    for _ in range(steps - 1):
        params = {k: last[f"new_{k}"] for k in ("W1", "b1", "W2", "b2")}
        last = hand({**doc, "params": params})
    after = ("new_W1", "new_b1", "new_W2", "new_b2", "new_loss")
    return {**first, **{k: last[k] for k in after}}


def answer_of(values: dict) -> dict:
    forward = {k: values[k].tolist() for k in ("h1", "a1", "z", "yhat", "ys")}
    forward["loss"] = float(values["loss"])
    backward = {k: values[k].tolist() for k in ("dz", "dW2", "db2", "da1", "dh1", "dW1", "db1")}
    update = {k: values[f"new_{k}"].tolist() for k in ("W1", "b1", "W2", "b2")}
    update["loss"] = float(values["new_loss"])
    return {"forward": forward, "backward": backward, "update": update}


def problems(count: int, layers=(2, 3, 3), seed: int = 0) -> list[dict]:
    return generate(GenerateSettings(count=count, seed=seed, layers=layers))


def status_of(report) -> dict:
    return {f"{i.section}.{i.name}": i.status for i in report.items}


def item(report, key):
    return next(i for i in report.items if f"{i.section}.{i.name}" == key)


# ---------------------------------------------------------------------------- grading


SEED_DOC = tomllib.loads(default_problem_path().read_text(encoding="utf-8"))


def test_the_hand_computation_is_the_seed_solution():
    problem = load_problem()
    doc = SEED_DOC
    expected = json.loads(solve(problem).to_json())
    values = hand(doc)
    np.testing.assert_allclose(values["dW1"], expected["backward"]["dW1"], rtol=1e-12)
    assert float(values["new_loss"]) == pytest.approx(expected["update"]["loss"], rel=1e-12)


@pytest.mark.parametrize("doc", [*problems(5), SEED_DOC], ids=lambda d: d["title"])
def test_a_correct_answer_is_fully_correct(doc):
    problem = validate_problem(doc, "p")
    report = grade_document(problem, answer_of(hand(doc)))
    assert report.summary == {"correct": 18, "carried_forward": 0, "wrong": 0, "missing": 0}
    assert report.first_wrong is None


def _inject(doc: dict, **override) -> tuple:
    problem = validate_problem(doc, "p")
    return grade_document(problem, answer_of(hand(doc, **override))), hand(doc)


CASES = {
    "smoothing_convention": lambda d, v: {"ys": (1 - _eps(d)) * _y(d)
                                          + _eps(d) * (1 - _y(d)) / (len(_y(d)) - 1)},
    "no_smoothing": lambda d, v: {"ys": _y(d)},
    "dz_sign": lambda d, v: {"dz": -v["dz"]},
    "missing_relu_mask": lambda d, v: {"dh1": v["da1"]},
    "missing_activation": lambda d, v: {"a1": v["h1"]},
    "transposed": lambda d, v: {"dW1": v["dW1"].T},
    "update_sign": lambda d, v: {"new_W2": np.array(d["params"]["W2"]) + _eta(d) * v["dW2"]},
    "missing_learning_rate": lambda d, v: {"new_b1": np.array(d["params"]["b1"]) - v["db1"]},
    "missing_bias": lambda d, v: {"h1": np.array(d["data"]["x"]) @ np.array(d["params"]["W1"])},
    "log_base": lambda d, v: {"loss": v["loss"] / math.log(10)},
    "rounding": lambda d, v: {"loss": float(f"{float(v['loss']):.2g}")},
}


def _eps(d):
    return d["loss"]["label_smoothing"]


def _eta(d):
    return d["optimizer"]["learning_rate"]


def _y(d):
    return np.array(d["data"]["y"], float)


def _first_changed(right: dict, override: dict) -> str:
    names = {"new_W1": "update.W1", "new_b1": "update.b1", "new_W2": "update.W2",
             "new_b2": "update.b2"}
    name = next(iter(override))
    section = "forward" if name in ("h1", "a1", "z", "yhat", "ys", "loss") else "backward"
    return names.get(name, f"{section}.{name}")


@pytest.mark.parametrize("cause", sorted(CASES))
def test_each_cause_is_named_on_random_problems(cause):
    named = 0
    for doc in problems(8, seed=11):
        right = hand(doc)
        override = CASES[cause](doc, right)
        (name, value), = override.items()
        if np.shape(value) == np.shape(right[name]) and np.allclose(value, right[name],
                                                                   rtol=1e-3, atol=1e-6):
            # here this mistake changes nothing the default tolerance (rtol 1e-3) can see
            # (e.g. η = 1, every unit active, a bias gradient of 0.002 left unscaled)
            continue
        key = _first_changed(right, override)
        report, _ = _inject(doc, **override)
        wrong = item(report, key)
        if cause == "rounding" and wrong.status == "correct":
            continue  # this loss rounds to 2 digits within the tolerance: nothing to name
        assert wrong.status == "wrong", (doc["title"], key)
        assert wrong.cause == cause, (doc["title"], key, wrong.cause)
        assert report.first_wrong is wrong
        named += 1
    assert named >= 4


def test_layout_and_softmax_of_wrong_vector_on_square_networks():
    for doc in problems(6, layers=(3, 3, 3), seed=5):
        x, W1, b1 = (np.array(doc["data"]["x"]), np.array(doc["params"]["W1"]),
                     np.array(doc["params"]["b1"]))
        report, _ = _inject(doc, h1=W1 @ x + b1)  # Wx + b where the layout says Wᵀx + b
        assert item(report, "forward.h1").cause == "layout"
        right = hand(doc)
        e = np.exp(right["h1"] - right["h1"].max())
        report, _ = _inject(doc, yhat=e / e.sum())  # softmax of h1 instead of z
        assert item(report, "forward.yhat").cause == "softmax_of_wrong_vector"


def test_reduction_on_a_batch():
    problem = load_problem(default_problem_path().parent / "deep_batch.toml")
    truth = json.loads(solve(problem).to_json())
    answer = {s: truth[s] for s in ("forward", "backward", "update")}
    batch = problem.batch_size
    answer["backward"] = {"dz": (np.array(truth["backward"]["dz"]) * batch).tolist()}
    report = grade_document(problem, answer)
    assert item(report, "backward.dz").cause == "reduction"


def test_no_update_and_updated_frozen():
    for doc in problems(4, seed=8):
        report, _ = _inject(doc, new_W2=np.array(doc["params"]["W2"], float))
        assert item(report, "update.W2").cause == "no_update"
        frozen = json.loads(json.dumps(doc))
        frozen["optimizer"]["frozen"] = ["W1", "b1"]
        values = hand(doc)  # W1 updated although the problem freezes it
        answer = answer_of(values)
        answer["update"] = {"W1": values["new_W1"].tolist()}
        report = grade_document(validate_problem(frozen, "p"), answer)
        assert item(report, "update.W1").cause == "updated_frozen"


def test_several_steps_are_graded_as_several():
    problem = load_problem(default_problem_path().parent / "deep_batch.toml")  # 2 steps
    truth = json.loads(solve(problem).to_json())
    params, eta = truth["problem"]["params"], truth["problem"]["optimizer"]["learning_rate"]
    one_step = {k: (np.array(v) - eta * np.array(truth["backward"][f"d{k}"])).tolist()
                for k, v in params.items()}
    report = grade_document(problem, {"update": one_step})
    assert report.summary["wrong"] == 6 and report.summary["correct"] == 0
    assert grade_document(problem, {"update": truth["update"]}).summary["correct"] == 7


def test_many_steps_run_the_descent_once_per_answer(monkeypatch):
    steps = 2000
    doc = json.loads(json.dumps(SEED_DOC))
    doc["optimizer"]["steps"] = steps
    problem = validate_problem(doc, "p")
    solution = solve(problem)
    calls = []
    forward = network.forward

    def counted(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(network, "forward", counted)
    report = grade_document(problem, answer_of(hand_steps(doc, steps)), solution=solution)
    assert report.summary == {"correct": 18, "carried_forward": 0, "wrong": 0, "missing": 0}
    # the S − 1 steps after the student's first run once for all four parameters (a forward
    # each), then one forward for the loss after them; once per parameter would be 4(S − 1)
    assert len(calls) <= steps + 2

    calls.clear()
    slipped = hand(doc)["dW1"].copy()
    slipped[1, 1] += 0.5  # the active hidden unit: the slip changes every later step
    values = hand_steps(doc, steps, dW1=slipped)
    report = grade_document(problem, answer_of(values), solution=solution)
    statuses = status_of(report)
    assert statuses["backward.dW1"] == "wrong" and report.summary["wrong"] == 1
    # every parameter's S steps start from the student's dW1, not only W1's
    assert all(statuses[f"update.{k}"] == "carried_forward" for k in ("W1", "b1", "W2", "b2"))
    assert len(calls) <= steps + 2


def test_a_slip_in_a_batch_is_carried_through_the_per_instance_losses():
    problem = load_problem(default_problem_path().parent / "deep_batch.toml")
    truth = json.loads(solve(problem).to_json())
    z = np.array(truth["forward"]["z"])
    z[0, np.argmax(z[0])] += 0.5
    e = np.exp(z - z.max(axis=1, keepdims=True))
    yhat = e / e.sum(axis=1, keepdims=True)
    ys = np.array(truth["forward"]["ys"])
    losses = -(ys * np.log(yhat)).sum(axis=1)
    answer = {"forward": {"z": z.tolist(), "yhat": yhat.tolist(), "losses": losses.tolist(),
                          "loss": float(losses.mean())}}
    statuses = status_of(grade_document(problem, answer))
    assert statuses["forward.z"] == "wrong"
    assert statuses["forward.yhat"] == statuses["forward.losses"] == "carried_forward"
    assert statuses["forward.loss"] == "carried_forward"


def test_grade_takes_loaded_values_and_holds_them_to_the_solutions_names():
    doc = problems(1, seed=4)[0]
    problem = validate_problem(doc, "p")
    values = hand(doc)
    answer = {("forward", "h1"): values["h1"], ("backward", "dW1"): values["dW1"].T}
    report = grade(problem, answer)
    assert item(report, "forward.h1").status == "correct"
    assert item(report, "backward.dW1").cause == "transposed"
    assert report.summary["missing"] == 16
    with pytest.raises(AnswerError, match="did you mean 'h1'"):
        grade(problem, {("forward", "h"): values["h1"]})
    with pytest.raises(AnswerError, match=r"forward.z: shape \(2,\), expected \(3,\)"):
        grade(problem, {("forward", "z"): np.zeros(2)})
    with pytest.raises(TypeError, match="grade_document"):  # one entry point per kind
        grade(problem, {"forward": {"h1": values["h1"].tolist()}})


def test_grade_file_reads_toml_and_names_a_missing_file(tmp_path):
    z = hand(SEED_DOC)["z"]
    (tmp_path / "a.toml").write_text(f"[forward]\nz = {z.tolist()}\n")
    report = grade_file(load_problem(), tmp_path / "a.toml")
    assert report.summary["correct"] == 1 and item(report, "forward.z").status == "correct"
    with pytest.raises(AnswerError, match="gives no quantities"):
        grade_document(load_problem(), {"problem": {}})  # a solver file's other keys only
    with pytest.raises(ProblemError, match=r"none\.toml: the file does not exist"):
        grade_file(load_problem(), tmp_path / "none.toml")


def test_fractions_are_numbers_and_deep_nesting_is_an_error():
    report = grade_document(load_problem(), {"forward": {"ys": ["4/5", "1/10", "1/10"]}})
    assert report.summary["correct"] == 1
    deep: object = 1.0
    for _ in range(3000):
        deep = [deep]
    with pytest.raises(AnswerError, match="nested too deeply"):
        grade_document(load_problem(), {"forward": {"h1": deep}})


def test_every_cause_code_is_exercised_by_these_tests():
    exercised = set(CASES) | {"layout", "softmax_of_wrong_vector", "reduction", "no_update",
                              "updated_frozen"}
    assert exercised == set(CAUSES)


def test_one_early_mistake_is_carried_forward_not_punished_again():
    for doc in problems(6, seed=3):
        right = hand(doc)
        slipped = right["z"].copy()
        slipped[np.argmax(slipped)] += 0.5  # the largest logit: the slip shows everywhere after
        report = grade_document(validate_problem(doc, "p"), answer_of(hand(doc, z=slipped)))
        statuses = status_of(report)
        assert statuses["forward.z"] == "wrong"
        assert report.first_wrong.name == "z"
        after = ["forward.yhat", "forward.loss", "backward.dz", "backward.dW2", "backward.db2",
                 "backward.da1", "backward.dh1", "backward.dW1", "backward.db1", "update.W2",
                 "update.b2", "update.W1", "update.b1"]
        # never wrong again: carried forward, or correct where the slip happens not to reach
        # (a masked unit, or a change below the tolerance)
        assert all(statuses[k] in ("carried_forward", "correct") for k in after), statuses
        assert statuses["forward.yhat"] == statuses["backward.dz"] == "carried_forward"
        assert sum(statuses[k] == "carried_forward" for k in after) >= 7
        assert statuses["forward.h1"] == statuses["forward.ys"] == "correct"


def test_decimals_accept_rounding_that_earlier_rounding_propagates():
    # a problem whose probabilities all survive rounding to 2 decimals (ln 0 is no answer)
    doc = next(d for d in problems(20, seed=21) if hand(d)["yhat"].min() > 0.05)
    rounded: dict = {}
    names = ["h1", "a1", "z", "yhat", "ys", "loss", "dz", "dW2", "db2", "da1", "dh1", "dW1",
             "db1", "new_W1", "new_b1", "new_W2", "new_b2", "new_loss"]
    for name in names:  # each value computed from the already-rounded ones, then rounded
        rounded[name] = np.round(hand(doc, **rounded)[name], 2)
    answer = answer_of(hand(doc, **rounded))
    problem = validate_problem(doc, "p")
    strict = grade_document(problem, answer, Tolerance(decimals=2))
    assert strict.summary["wrong"] == 0 and strict.summary["carried_forward"] == 0
    # with no rounding allowance at all (decimals=None: a relative tolerance alone, as before
    # fair rounding), the same answer is wrong for its rounding
    assert grade_document(problem, answer, Tolerance(rtol=1e-6, decimals=None)
                          ).summary["wrong"] > 0
    worse = dict(answer)
    worse["forward"] = {**answer["forward"], "z": (np.array(answer["forward"]["z"]) + 0.02)
                        .tolist()}
    report = grade_document(problem, worse, Tolerance(decimals=2))
    assert item(report, "forward.z").status == "wrong"


def test_missing_quantities_are_missing_and_the_rest_graded():
    doc = problems(1)[0]
    answer = answer_of(hand(doc))
    del answer["backward"]
    report = grade_document(validate_problem(doc, "p"), answer)
    assert report.summary == {"correct": 11, "carried_forward": 0, "wrong": 0, "missing": 7}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"forwrd": {"z": [1, 2, 3]}}, "did you mean 'forward'"),
        ({"backward": {"dW3": [[1]]}}, "not a quantity of this problem's backward section"),
        ({"backward": {"dW": [[1]]}}, "did you mean"),
        ({"forward": {"z": [1, 2]}}, "forward.z: shape (2,), expected (3,)"),
        ({"forward": {"z": ["a", 2, 3]}}, "forward.z: 'a' is not a number"),
        ({"forward": {"z": [[1], 2, 3]}}, "forward.z: a ragged or non-numeric list"),
        ({"forward": 3}, "[forward] must be a table"),
        ({}, "gives no quantities"),
    ],
)
def test_bad_answers_are_clear_errors(answer, message):
    with pytest.raises(AnswerError) as caught:
        grade_document(load_problem(), answer)
    assert message in str(caught.value)


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "COLUMNS": "100"}, timeout=120)


def test_cli_grade_reports_and_json(tmp_path):
    doc = problems(1, seed=2)[0]
    (tmp_path / "p.toml").write_text(toml_text(doc))
    values = hand(doc, dz=-hand(doc)["dz"])
    (tmp_path / "a.json").write_text(json.dumps(answer_of(values)))
    shown = _cli("grade", "p.toml", "a.json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "First wrong step: backward.dz" in shown.stdout and "dz_sign" in shown.stdout
    as_json = json.loads(_cli("grade", "p.toml", "a.json", "-f", "json", cwd=tmp_path).stdout)
    assert as_json["first_wrong"] == "dz"
    assert as_json["summary"]["carried_forward"] >= 10
    first = next(i for i in as_json["items"] if i["name"] == "dz")
    assert set(first) == {"section", "name", "status", "given", "expected", "cause",
                          "explanation"}
    markdown = _cli("grade", "p.toml", "a.json", "-f", "markdown", cwd=tmp_path).stdout
    assert "## First wrong step: `backward.dz`" in markdown
    (tmp_path / "bad.toml").write_text("[forward]\nzz = [1, 2, 3]\n")
    failed = _cli("grade", "p.toml", "bad.toml", cwd=tmp_path)
    assert failed.returncode == 2 and "did you mean 'z'" in failed.stderr
    assert "Traceback" not in failed.stderr
