"""Fair rounding: a value consistent with the student's own rounded inputs is never wrong.

Students are modelled here in plain NumPy (`work`), never with the grader's or the engine's
functions: one keeps full precision on the calculator and rounds only what they write, another
rounds every step before the next; either may forget the label smoothing or slip a sign.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import numpy as np
import pytest

from handgrad.generate import GenerateSettings, generate
from handgrad.grade import (
    EXACT,
    AnswerError,
    Tolerance,
    answer_decimals,
    grade_document,
    written_decimals,
)
from handgrad.grading.rubric import rubric_from_document, score
from handgrad.problem import validate_problem
from tests.test_grade import SEED_DOC, status_of

ORDER = ("h1", "a1", "z", "yhat", "ys", "loss", "dz", "dW2", "db2", "da1", "dh1", "dW1", "db1",
         "new_W1", "new_b1", "new_W2", "new_b2", "new_loss")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def work(doc: dict, places: int | None = None, stepwise: bool = False,
         forget_smoothing: bool = False, dz_sign: bool = False) -> dict[str, np.ndarray]:
    """What a student writes for a 2-layer ReLU/softmax/cross-entropy step (in_out, one
    instance, uniform smoothing): every value rounded to `places` decimals when written; with
    `stepwise`, each step computed from the rounded values before it, otherwise from full
    precision. `forget_smoothing`: y where yˢ belongs, everywhere; `dz_sign`: yˢ − ŷ."""
    W1, b1, W2, b2 = (np.array(doc["params"][k], float) for k in ("W1", "b1", "W2", "b2"))
    x, y = np.array(doc["data"]["x"], float), np.array(doc["data"]["y"], float)
    eps, eta, q = doc["loss"]["label_smoothing"], doc["optimizer"]["learning_rate"], len(y)

    def rounded(value: Any) -> np.ndarray:
        return np.asarray(value, float) if places is None else np.round(value, places)

    written: dict[str, np.ndarray] = {}

    def put(name: str, value: Any) -> np.ndarray:
        written[name] = rounded(value)
        return written[name] if stepwise else np.asarray(value, float)

    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = put("h1", x @ W1 + b1)
        a1 = put("a1", np.maximum(h1, 0))
        z = put("z", a1 @ W2 + b2)
        yhat = put("yhat", _softmax(z))
        ys = put("ys", y if forget_smoothing else (1 - eps) * y + eps / q)
        put("loss", -np.sum(np.where(ys == 0, 0.0, ys * np.log(yhat))))
        dz = put("dz", ys - yhat if dz_sign else yhat - ys)
        dW2 = put("dW2", np.outer(a1, dz))
        db2 = put("db2", dz)
        da1 = put("da1", W2 @ dz)
        dh1 = put("dh1", da1 * (h1 > 0))
        dW1 = put("dW1", np.outer(x, dh1))
        db1 = put("db1", dh1)
        nW1, nb1 = put("new_W1", W1 - eta * dW1), put("new_b1", b1 - eta * db1)
        nW2, nb2 = put("new_W2", W2 - eta * dW2), put("new_b2", b2 - eta * db2)
        yhat2 = _softmax(np.maximum(x @ nW1 + nb1, 0) @ nW2 + nb2)
        put("new_loss", -np.sum(np.where(ys == 0, 0.0, ys * np.log(yhat2))))
    return written


def answer_of(values: dict[str, np.ndarray], leave_out: tuple[str, ...] = ()) -> dict:
    """The answer document a student hands in, without the quantities in `leave_out`."""
    sections: dict[str, dict[str, Any]] = {"forward": {}, "backward": {}, "update": {}}
    for name in ORDER:
        if name in leave_out:
            continue
        section = ("update" if name.startswith("new_") else
                   "forward" if name in ("h1", "a1", "z", "yhat", "ys", "loss") else "backward")
        key = "loss" if name == "new_loss" else name.removeprefix("new_")
        sections[section][key] = values[name].tolist()
    return sections


@functools.cache
def variants(count: int, seed: int = 0) -> tuple[dict, ...]:
    """Generated problems whose probabilities all survive rounding to 2 decimals (a student who
    rounds each step cannot take the logarithm of 0.00)."""
    docs = generate(GenerateSettings(count=20 * count, seed=seed))  # about 1 in 7 is kept
    kept = [d for d in docs if work(d)["yhat"].min() > 0.006]
    assert len(kept) >= count
    return tuple(kept[:count])  # shared by the tests: never changed


STUDENTS = {
    "full precision, 2 decimals written": {"places": 2},
    "full precision, 3 decimals written": {"places": 3},
    "2 decimals, step by step": {"places": 2, "stepwise": True},
    "3 decimals, step by step": {"places": 3, "stepwise": True},
}


# ----------------------------------------------------------- the reproduction


def test_a_forgotten_smoothing_rounded_to_2_decimals_is_carried_forward_not_wrong():
    # issue 12: dW2, da1 and dW1 were "wrong (matches none of the known mistakes)": the
    # student's own rounded dz and a1 give them only to within the rounding
    problem = validate_problem(SEED_DOC, "homework3")
    answer = answer_of(work(SEED_DOC, places=2, forget_smoothing=True))
    for tolerance in (Tolerance(), Tolerance(decimals=2)):
        statuses = status_of(grade_document(problem, answer, tolerance))
        assert [k for k, s in statuses.items() if s == "wrong"] == ["forward.ys"], statuses
        for key in ("backward.dW2", "backward.da1", "backward.dW1", "forward.loss",
                    "backward.dz"):
            assert statuses[key] == "carried_forward", (key, tolerance)


def test_the_same_mistake_scores_the_same_rounded_or_not():
    # issue 12: on a simple points scheme the mistake scored 7.5 rounded and 9 unrounded
    problem = validate_problem(SEED_DOC, "homework3")
    rubric = rubric_from_document({"default_points": 0.5, "points": {
        "backward.dW1": 1, "backward.db1": 1, "backward.dW2": 1, "backward.db2": 1}})
    scores = set()
    for settings in STUDENTS.values():
        answer = answer_of(work(SEED_DOC, forget_smoothing=True, **settings))
        scores.add(score(grade_document(problem, answer), rubric).points)
    exact = answer_of(work(SEED_DOC, forget_smoothing=True))
    assert scores == {score(grade_document(problem, exact), rubric).points}
    # yˢ is not asked: the mistake is charged where it first reaches a scored step, the loss
    # and ∂L/∂z (half a point each)
    assert scores == {10 - 1}


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_no_rounding_is_ever_wrong(student):
    settings = STUDENTS[student]
    for doc in variants(8, seed=31):
        problem = validate_problem(doc, "p")
        for mistake, first in ((None, None), ("forget_smoothing", "forward.ys"),
                               ("dz_sign", "backward.dz")):
            flags = {mistake: True} if mistake else {}
            report = grade_document(problem, answer_of(work(doc, **settings, **flags)))
            wrong = [item.key for item in report.items if item.status == "wrong"]
            assert wrong == ([first] if first else []), (doc["title"], mistake, wrong)
            if mistake == "dz_sign":
                assert report.first_wrong.cause == "dz_sign"


def test_every_cause_is_still_named_at_2_decimals():
    cases = {  # first wrong step, and the override a student with that mistake writes
        "missing_relu_mask": "dh1", "missing_activation": "a1", "update_sign": "new_W2",
        "log_base": "loss", "missing_bias": "h1",
    }
    for doc in variants(8, seed=31)[:4]:
        problem = validate_problem(doc, "p")
        right = work(doc)
        x, W1 = np.array(doc["data"]["x"], float), np.array(doc["params"]["W1"], float)
        W2 = np.array(doc["params"]["W2"], float)
        slips = {
            "missing_relu_mask": right["da1"], "missing_activation": right["h1"],
            "update_sign": W2 + doc["optimizer"]["learning_rate"] * right["dW2"],
            "log_base": right["loss"] / math.log(10), "missing_bias": x @ W1,
        }
        for cause, name in cases.items():
            if np.allclose(slips[cause], right[name]):
                continue  # this mistake changes nothing here (every unit active)
            answer = answer_of({**right, name: slips[cause]})
            answer = json.loads(json.dumps(answer), parse_float=lambda t: round(float(t), 2))
            first = grade_document(problem, answer).first_wrong
            assert first is not None and first.cause == cause, (doc["title"], cause, first)


def test_a_slip_beyond_the_rounding_is_still_wrong():
    for doc in variants(8, seed=31)[2:]:
        problem = validate_problem(doc, "p")
        values = work(doc, places=2, stepwise=True)
        values["z"] = values["z"] + np.array([0.05, 0, 0])  # inputs exact: no spread at all
        assert status_of(grade_document(problem, answer_of(values)))["forward.z"] == "wrong"
        slipped = work(doc, places=2, forget_smoothing=True)
        slipped["db2"] = slipped["db2"] + 0.1  # carried inputs: ± a half unit, not 0.1
        statuses = status_of(grade_document(problem, answer_of(slipped)))
        assert statuses["backward.db2"] == "wrong"


def test_a_probability_rounded_to_zero_without_smoothing_is_carried_forward():
    # ŷ = 0.00 under ln with yˢ = 0 there: 0 · ln 0 = 0, not NaN; where yˢ > 0 the loss from
    # the rounded ŷ is infinite, and the full-precision reading says what the student did
    for doc in generate(GenerateSettings(count=60, seed=1)):
        if work(doc)["yhat"].min() < 0.001:
            break
    problem = validate_problem(doc, "p")
    answer = answer_of(work(doc, places=2, forget_smoothing=True))
    statuses = status_of(grade_document(problem, answer))
    assert statuses["forward.loss"] == "carried_forward"
    assert [k for k, s in statuses.items() if s == "wrong"] == ["forward.ys"]


# ---------------------------------------------------------------- reading the decimals


@pytest.mark.parametrize(("number", "places"), [
    (0.27, 2), ("0.270", 3), (2.0, 0), (3, 0), (1e-05, 5), (-1.5e-3, 4), ("4/5", EXACT),
    (0.1 + 0.2, 17), ("  7 ", 0), (1.25e2, 0),
])
def test_written_decimals(number, places):
    assert written_decimals(number) == places


def test_the_answer_is_written_to_its_most_common_decimals():
    assert answer_decimals({("f", "a"): 2, ("f", "b"): 2, ("f", "c"): 4, ("f", "d"): 0}) == 2
    assert answer_decimals({("f", "a"): 2, ("f", "b"): 3}) == 3  # a tie: the finer
    assert answer_decimals({("f", "a"): 0}) is None  # whole numbers only: exact


def test_a_value_far_coarser_than_the_rest_is_rounding_not_rounding_allowed():
    problem = validate_problem(SEED_DOC, "homework3")
    answer = answer_of(work(SEED_DOC, places=4))
    answer["forward"]["loss"] = round(answer["forward"]["loss"], 1)  # 1.5 among 4 decimals
    item = next(i for i in grade_document(problem, answer).items if i.key == "forward.loss")
    assert item.status == "wrong" and item.cause == "rounding"


def test_explicit_decimals_and_no_rounding_at_all():
    problem = validate_problem(SEED_DOC, "homework3")
    answer = answer_of(work(SEED_DOC, places=2, stepwise=True))
    assert grade_document(problem, answer, Tolerance(decimals=2)).summary["wrong"] == 0
    assert grade_document(problem, answer, Tolerance(decimals=4)).summary["wrong"] > 0
    assert grade_document(problem, answer, Tolerance(decimals=None)).summary["wrong"] > 0
    with pytest.raises(ValueError, match="decimals"):
        Tolerance(decimals=-1)


def test_blank_entries_are_not_given_and_half_blank_is_an_error():
    problem = validate_problem(SEED_DOC, "homework3")
    values = work(SEED_DOC)
    report = grade_document(problem, {"forward": {"h1": values["h1"].tolist(),
                                                  "z": ["", "", ""], "loss": ""}})
    assert status_of(report)["forward.z"] == "missing"
    assert status_of(report)["forward.h1"] == "correct"
    with pytest.raises(AnswerError, match=r"forward\.z: some entries are blank"):
        grade_document(problem, {"forward": {"z": [1.0, "", 2.0]}})
