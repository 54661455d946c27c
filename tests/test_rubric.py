"""The rubric: points per quantity, credit for a carried-forward step, required and optional
quantities; a mistake in an optional quantity charged once; missing work is missing."""

from __future__ import annotations

import json

import pytest

from handgrad.grade import grade_document
from handgrad.grading.rubric import (
    Rubric,
    RubricError,
    load_rubric,
    rubric_from_document,
    score,
)
from handgrad.problem import validate_problem
from handgrad.render.grade import render_grade_markdown, render_grade_text
from tests.test_grade import SEED_DOC
from tests.test_rounding import answer_of, work

PROBLEM = validate_problem(SEED_DOC, "homework3")
ASKED = 16  # of the 18 quantities: all but yˢ and the loss after the step


def _score(answer: dict, rubric: Rubric | None = None):
    return score(grade_document(PROBLEM, answer), rubric or Rubric())


def test_the_default_rubric_gives_each_asked_quantity_one_point():
    full = _score(answer_of(work(SEED_DOC, places=3)))
    assert (full.points, full.max_points, full.percent) == (ASKED, ASKED, 100.0)
    assert set(full.earned) == {k for k in full.verdicts if k not in (
        "forward.ys", "update.loss")}
    # yˢ and the loss after the step: not asked, so leaving them out costs nothing
    partial = _score(answer_of(work(SEED_DOC, places=3), leave_out=("ys", "new_loss")))
    assert partial.points == ASKED
    assert partial.verdicts["forward.ys"] == partial.verdicts["update.loss"] == "not_asked"


def test_a_nearly_blank_answer_is_missing_work_not_a_good_answer():
    values = work(SEED_DOC)
    answer = {"forward": {"h1": values["h1"].tolist()}}
    result = _score(answer)
    assert (result.points, result.max_points) == (1, ASKED)
    assert list(result.verdicts.values()).count("missing") == ASKED - 1
    report = grade_document(PROBLEM, answer)
    for text in (render_grade_text(report, width=200), render_grade_markdown(report)):
        assert "No wrong step." not in text
        assert "the answer is incomplete" in text
        assert "Missing: 15 of the 16 quantities the homework asks for" in text
    assert len(report.missing_asked) == 15
    whole = grade_document(PROBLEM, answer_of(work(SEED_DOC, places=3), leave_out=("ys",)))
    assert "No wrong step.\n" in render_grade_markdown(whole)


def test_a_mistake_in_an_optional_quantity_is_charged_once_where_it_reaches_a_scored_one():
    written = _score(answer_of(work(SEED_DOC, places=2, forget_smoothing=True)))
    left_out = _score(answer_of(work(SEED_DOC, places=2, forget_smoothing=True),
                                leave_out=("ys",)))
    # with or without yˢ written, the same mistake costs the same: the loss and ∂L/∂z
    assert written.points == left_out.points == ASKED - 2
    assert written.charged == ("forward.loss", "backward.dz")
    assert written.verdicts["forward.loss"] == written.verdicts["backward.dz"] == "wrong"
    assert written.verdicts["backward.dW2"] == "carried_forward"
    assert left_out.charged == ()


def test_carried_forward_credit_and_points_per_quantity(tmp_path):
    path = tmp_path / "rubric.toml"
    path.write_text(
        'carried_forward = 0.5\n'
        'default_points = 0.5\n'
        'optional = ["forward.h1"]\n'
        '[points]\n'
        '"backward.dW1" = 2\n'
        'backward.dW2 = 2\n'  # a dotted key: TOML reads it as a table
        '"update.loss" = 1\n'  # listed with points: scored, though not asked by default
    )
    rubric = load_rubric(path)
    assert rubric.points_of("backward.dW2") == 2 and not rubric.is_required("forward.h1")
    result = _score(answer_of(work(SEED_DOC, places=3, dz_sign=True)), rubric)
    # 13 of the asked quantities at 0.5 (not h1, made optional, nor dW1 and dW2, worth 2),
    # and the loss after the step at 1; dz wrong (0.5 lost), every step after it carried
    # forward at half credit
    carried = [k for k, v in result.verdicts.items() if v == "carried_forward"]
    expected_max = 0.5 * 13 + 2 + 2 + 1
    assert result.max_points == expected_max
    lost = 0.5 + sum(rubric.points_of(k) * 0.5 for k in carried)
    assert result.points == pytest.approx(expected_max - lost)
    assert "update.loss" in result.earned and "forward.h1" not in result.earned


def test_required_lists_what_is_scored():
    rubric = rubric_from_document({"required": ["backward.dW1", "backward.db1"]})
    result = _score(answer_of(work(SEED_DOC, places=3)), rubric)
    assert (result.points, result.max_points) == (2, 2)


@pytest.mark.parametrize(("document", "message"), [
    ({"carried_foward": 1}, "did you mean 'carried_forward'"),
    ({"carried_forward": 2}, "from 0 (nothing) to 1"),
    ({"default_points": -1}, "give a number of points from 0 to 1,000,000"),
    ({"points": {"backward.dW1": "two"}}, "points.backward.dW1"),
    ({"required": "backward.dW1"}, "must be a list"),
    ({"points": {"forward.ys": 1}, "optional": ["forward.ys"]}, "both given points"),
    # points that make every sum inf and every percent NaN, or that no one means
    ({"default_points": float("nan")}, "default_points = nan: give a number of points from 0"),
    ({"default_points": float("inf")}, "default_points = inf: give a number of points"),
    ({"points": {"backward.dW1": 1e308}}, "points.backward.dW1 = 1e+308: give a number"),
    ({"points": {"backward.dW1": 10**400}}, "points.backward.dW1 = "),  # never OverflowError
    ({"default_points": 1_000_001}, "from 0 to 1,000,000"),
    ({"required": ["backward.dW1"], "optional": ["backward.dW1"]},
     "'backward.dW1': both required and listed as optional"),
])
def test_bad_rubrics_are_clear_errors(document, message):
    with pytest.raises(RubricError) as caught:
        rubric_from_document(document, "rubric.toml")
    assert message in str(caught.value) and "rubric.toml" in str(caught.value)


def test_a_rubric_naming_no_quantity_of_the_problem_is_refused():
    rubric = rubric_from_document({"points": {"backward.dw1": 2}}, "rubric.toml")
    with pytest.raises(RubricError, match=r"did you mean 'backward\.dW1'"):
        rubric.check_names(["backward.dW1", "backward.db1"])


def test_one_answer_with_a_rubric_shows_its_score(tmp_path):
    from tests.test_grade import _cli

    answer = answer_of(work(SEED_DOC, places=2, dz_sign=True))
    (tmp_path / "a.json").write_text(json.dumps(answer))
    (tmp_path / "r.toml").write_text("carried_forward = 0.5\n")
    done = _cli("grade", "homework3", "a.json", "--rubric", "r.toml", "--decimals", "2",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "First wrong step: backward.dz" in done.stdout
    # the 5 forward steps right, ∂L/∂z wrong, the 10 scored steps after it at half credit
    assert "Score: 10 of 16 points (62.5 %)." in done.stdout
    data = json.loads(_cli("grade", "homework3", "a.json", "--rubric", "r.toml", "-f", "json",
                           cwd=tmp_path).stdout)
    assert data["score"] == {"points": 10, "max_points": 16, "percent": 62.5}


ALL = [item.key for item in grade_document(PROBLEM, answer_of(work(SEED_DOC))).items]


@pytest.mark.parametrize("document", [
    {"default_points": 0},
    {"required": []},
    {"required": ["backward.dW1"], "points": {"backward.dW1": 0}},
    {"optional": ALL},
])
def test_a_rubric_worth_0_points_in_all_is_refused(document):
    rubric = rubric_from_document(document, "rubric.toml")
    with pytest.raises(RubricError, match="add up to 0 points") as caught:
        rubric.check_names(ALL)
    assert "rubric.toml" in str(caught.value)
    rubric_from_document({"default_points": 1e6}, "r").check_names(ALL)  # the limit itself


@pytest.mark.parametrize("settings", [
    {"default_points": float("inf")},
    {"points": {"backward.dW1": float("nan")}},
    {"carried_forward": float("nan")},
    {"required": frozenset({"forward.h1"}), "optional": frozenset({"forward.h1"})},
])
def test_a_rubric_built_in_code_is_held_to_the_same_rules(settings):
    with pytest.raises(RubricError):
        Rubric(**settings)


def test_the_class_json_never_holds_nan(tmp_path):
    """Points of 1e308 made every sum inf and every percent NaN: `-f json` printed bare NaN
    (not JSON). Now refused, naming the setting; the class JSON is written with
    allow_nan=False."""
    from tests.test_grade import _cli

    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "s1.json").write_text(json.dumps(answer_of(work(SEED_DOC))))
    (tmp_path / "r.toml").write_text("default_points = 1e308\n")
    (tmp_path / "zero.toml").write_text("default_points = 0\n")
    for rubric, message in (("r.toml", "default_points = 1e+308"),
                            ("zero.toml", "add up to 0 points")):
        done = _cli("grade", "homework3", "answers", "--rubric", rubric, "-f", "json",
                    cwd=tmp_path)
        assert done.returncode == 2, done.stdout
        assert message in done.stderr and "Traceback" not in done.stderr
        assert "NaN" not in done.stdout and "Infinity" not in done.stdout
    done = _cli("grade", "homework3", "answers/s1.json", "--rubric", "zero.toml", cwd=tmp_path)
    assert done.returncode == 2 and "add up to 0 points" in done.stderr
    done = _cli("grade", "homework3", "answers", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["mean_percent"] == 100


RIGHT_FORMULAS = {
    "dz": "yhat - ys",
    "dW2": "a1 @ dz.T",
    "db2": "dz",
    "dh1": "(W2 @ dz) * (h1 > 0)",
    "dW1": "x @ dh1.T",
    "db1": "dh1",
}


def test_a_scored_step_left_out_is_missing_not_left_out_of_the_maximum():
    """With dh1 scored, leaving it out must not beat giving it wrong (it was 4/4 against 4/5)."""
    rubric = Rubric(required=frozenset({"derivation.dW2", "derivation.db2", "derivation.dW1",
                                        "derivation.db1", "derivation.dh1"}))
    given = {**RIGHT_FORMULAS, "dh1": "(W2 @ dz) * (h1 > 0)"}
    left_out = {key: value for key, value in RIGHT_FORMULAS.items() if key != "dh1"}
    left_out["dW1"] = "outer(x, (W2 @ dz) * (h1 > 0))"
    left_out["db1"] = "(W2 @ dz) * (h1 > 0)"
    full = score(grade_document(PROBLEM, {"derivation": given}), rubric)
    without = score(grade_document(PROBLEM, {"derivation": left_out}), rubric)
    assert (full.points, full.max_points) == (5, 5)
    assert (without.points, without.max_points) == (4, 5)
    assert without.verdicts["derivation.dh1"] == "missing"
