"""The PrairieLearn export: a course folder whose server.py runs on a Python with NumPy alone.

The question's `server.py` is run as PrairieLearn runs it (serverFilesCourse on the import path,
`generate`, then `parse` and `grade` on a submission shaped as pl-matrix-input and
pl-number-input leave it), in a subprocess started with `python -S` and a path holding only the
exported files and a folder with NumPy: anything else handgrad imported on the way (rich, click,
sympy) would be an ImportError there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handgrad.errors import HandgradError
from handgrad.export import load_variants
from handgrad.export.prairielearn import QID, write

GOLDEN = Path(__file__).parent / "golden" / "export"

# run in the subprocess: generate, then grade the correct answers and a sign slip in dz
DRIVER = textwrap.dedent('''
    import json, sys
    import server

    def fresh():
        return {"params": {}, "correct_answers": {}, "submitted_answers": {},
                "raw_submitted_answers": {}, "format_errors": {}, "partial_scores": {},
                "score": 0.0, "feedback": {}, "variant_seed": 1234567}

    def matlab(value):
        if not isinstance(value, list):
            return repr(value)
        return "[" + "; ".join(" ".join(repr(v) for v in row) for row in value) + "]"

    def submit(data, answers):
        for name, value in answers.items():
            data["raw_submitted_answers"][name] = matlab(value)
            data["submitted_answers"][name] = (value if not isinstance(value, list) else
                {"_type": "ndarray", "_value": value, "_dtype": "float64"})

    data = fresh()
    server.generate(data)
    results = {"params": data["params"], "correct": data["correct_answers"]}
    for case in ("right", "sign"):
        answers = json.loads(json.dumps(data["correct_answers"]))
        if case == "sign":
            answers["dz"] = [[-v for v in row] for row in answers["dz"]]
        graded = fresh()
        graded["params"], graded["correct_answers"] = data["params"], data["correct_answers"]
        submit(graded, answers)
        server.parse(graded)
        server.grade(graded)
        results[case] = {"score": graded["score"], "partial": graded["partial_scores"],
                         "errors": graded["format_errors"], "report": graded["feedback"]}
    short = fresh()
    short["params"] = data["params"]
    submit(short, {**data["correct_answers"], "dz": [[1.0, 2.0]]})
    server.parse(short)
    results["short"] = short["format_errors"]
    results["modules"] = sorted({m.split(".")[0] for m in sys.modules})
    print(json.dumps(results))
''')


def _numpy_only(folder: Path) -> Path:
    """A folder holding NumPy (and its bundled libraries) and nothing else."""
    site = Path(np.__file__).parent.parent
    folder.mkdir()
    for name in ("numpy", "numpy.libs"):
        if (site / name).exists():
            (folder / name).symlink_to(site / name)
    return folder


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pl") / "course"
    write(load_variants("homework3"), out)
    return out


@pytest.fixture(scope="module")
def served(course: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    numpy_dir = _numpy_only(tmp_path_factory.mktemp("np") / "site")
    question = course / "questions" / QID
    (question / "driver.py").write_text(DRIVER, encoding="utf-8")
    path = os.pathsep.join([str(question), str(course / "serverFilesCourse"), str(numpy_dir)])
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path}
    run = subprocess.run([sys.executable, "-S", str(question / "driver.py")], env=env,
                         capture_output=True, text=True, timeout=120, cwd=question)
    (question / "driver.py").unlink()
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def test_course_layout_follows_prairielearn_schema(course: Path) -> None:
    info_course = json.loads((course / "infoCourse.json").read_text())
    assert {"uuid", "name", "title", "topics"} <= info_course.keys()
    info = json.loads((course / "questions" / QID / "info.json").read_text())
    assert info["type"] == "v3" and info["topic"] == info_course["topics"][0]["name"]
    assert set(info["tags"]) <= {tag["name"] for tag in info_course["tags"]}
    page = (course / "questions" / QID / "question.html").read_text()
    assert '<pl-matrix-input answers-name="dW1"' in page
    assert '<pl-number-input answers-name="loss"' in page
    assert (course / "serverFilesCourse" / "handgrad" / "grade" / "judge.py").is_file()


def test_generate_draws_a_variant_with_answers(served: dict[str, Any]) -> None:
    assert "W_{1}" in served["params"]["statement"]
    assert set(served["correct"]) >= {"h1", "loss", "dz", "dW1", "b2"}
    assert np.asarray(served["correct"]["dW1"]).shape == (2, 3)


def test_correct_submission_scores_one(served: dict[str, Any]) -> None:
    right = served["right"]
    assert right["errors"] == {}
    assert right["score"] == 1.0
    assert all(part["score"] == 1.0 for part in right["partial"].values())


def test_sign_slip_in_dz_is_partial_and_named(served: dict[str, Any]) -> None:
    sign = served["sign"]
    assert 0.0 < sign["score"] < 1.0
    assert sign["partial"]["dz"]["score"] == 0.0
    assert "dz_sign" in sign["partial"]["dz"]["feedback"]
    assert "ŷ − yˢ" in sign["partial"]["dz"]["feedback"]
    assert "dz_sign" in sign["report"]["report"]
    assert sign["score"] == pytest.approx(15 / 16)


def test_wrong_size_is_a_format_error(served: dict[str, Any]) -> None:
    assert "row of 3" in served["short"]["dz"]


def test_numpy_is_the_only_dependency(served: dict[str, Any]) -> None:
    assert not {"rich", "click", "sympy", "mpmath", "torch"} & set(served["modules"])


def test_unsupported_kind_is_refused_before_writing(tmp_path: Path) -> None:
    problem = tmp_path / "frozen.toml"
    source = (Path(__file__).parents[1] / "src" / "handgrad" / "problems" / "homework3.toml")
    problem.write_text(source.read_text().replace("[optimizer]", "[optimizer]\nfrozen = [\"W1\"]"))
    out = tmp_path / "course"
    with pytest.raises(HandgradError, match="frozen"):
        write(load_variants(problem), out)
    assert not out.exists() and list(tmp_path.iterdir()) == [problem]


def test_cli_refuses_unsupported_kind_with_exit_2(tmp_path: Path) -> None:
    problem = tmp_path / "frozen.toml"
    source = (Path(__file__).parents[1] / "src" / "handgrad" / "problems" / "homework3.toml")
    problem.write_text(source.read_text().replace("[optimizer]", "[optimizer]\nfrozen = [\"W1\"]"))
    run = subprocess.run([sys.executable, "-m", "handgrad", "export", str(problem), "--to",
                          "prairielearn", "-o", str(tmp_path / "course")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "frozen" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "course").exists()


def test_golden(course: Path) -> None:
    """The course's own files (not the vendored modules) as a person has read them."""
    for name in ("infoCourse.json", f"questions/{QID}/info.json",
                 f"questions/{QID}/question.html", f"questions/{QID}/server.py"):
        text = (course / name).read_text(encoding="utf-8")
        golden = GOLDEN / "prairielearn" / name
        if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{name} changed"


# ------------------------------------------------------------------ review fixes (issue 13)


def _generate(out: Path, *args: str) -> Path:
    run = subprocess.run([sys.executable, "-m", "handgrad", "generate", "--out", str(out),
                          "-f", "json", *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return out


def _roster(folder: Path, *ids: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    roster = folder / f"roster-{'-'.join(ids)}.csv"
    roster.write_text("id,name\n" + "".join(f"{i},Student {i}\n" for i in ids))
    return roster


def _pl_data(config: dict[str, Any]) -> dict[str, Any]:
    from handgrad.export.runtime import pl_generate

    data: dict[str, Any] = {"params": {}, "correct_answers": {}, "submitted_answers": {},
                            "raw_submitted_answers": {}, "format_errors": {},
                            "partial_scores": {}, "score": 0.0, "feedback": {},
                            "variant_seed": 99}
    pl_generate(data, config)
    for name, value in data["correct_answers"].items():
        data["submitted_answers"][name] = (value if not isinstance(value, list) else
                                           {"_type": "ndarray", "_value": value})
    return data


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    from handgrad.export.prairielearn import question_config

    return question_config(load_variants("homework3"))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_entry_is_a_format_error(config: dict[str, Any], bad: float) -> None:
    from handgrad.export.runtime import pl_parse

    data = _pl_data(config)
    width = len(data["correct_answers"]["h1"][0])
    data["submitted_answers"]["h1"] = {"_type": "ndarray", "_value": [[bad] * width]}
    pl_parse(data, config)
    assert data["format_errors"] == {"h1": "Enter finite numbers for h1."}


def test_grade_never_raises_on_an_unreadable_answer(config: dict[str, Any]) -> None:
    """grade() without parse's check (an exception in server.py breaks the question)."""
    from handgrad.export.runtime import pl_grade

    data = _pl_data(config)
    width = len(data["correct_answers"]["h1"][0])
    data["submitted_answers"]["h1"] = {"_type": "ndarray", "_value": [[float("nan")] * width]}
    pl_grade(data, config)  # no AnswerError
    assert "h1" in data["format_errors"] and data["score"] == 0.0


def test_grader_error_becomes_a_format_error(config: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from handgrad.export import runtime
    from handgrad.grade import AnswerError

    def refuse(*_: Any, **__: Any) -> None:
        raise AnswerError(["forward.h1: cannot be read", "no quantities"], "<answer>")

    monkeypatch.setattr(runtime, "grade_document", refuse)
    data = _pl_data(config)
    runtime.pl_grade(data, config)  # no AnswerError
    assert data["format_errors"] == {"h1": "forward.h1: cannot be read",
                                     "_answer": "no quantities"}
    assert data["score"] == 0.0


def test_transposed_matrix_is_a_format_error_naming_the_shape(config: dict[str, Any]) -> None:
    from handgrad.export.runtime import pl_parse

    data = _pl_data(config)
    right = np.asarray(data["correct_answers"]["dW1"])
    assert right.shape == (2, 3)
    data["submitted_answers"]["dW1"] = {"_type": "ndarray", "_value": right.T.tolist()}
    pl_parse(data, config)
    assert set(data["format_errors"]) == {"dW1"}
    assert "2×3 matrix for dW1" in data["format_errors"]["dW1"]
    assert "3×2" in data["format_errors"]["dW1"]


def test_report_leaves_out_quantities_without_a_blank(config: dict[str, Any]) -> None:
    from handgrad.export.runtime import pl_grade

    fewer = {**config, "answers": [a for a in config["answers"] if a["key"] != "loss"]}
    data = _pl_data(fewer)
    pl_grade(data, fewer)
    assert data["score"] == 1.0
    report = data["feedback"]["report"]
    assert "loss" not in report and "missing" not in report.split("\n", 2)[2]
    assert "15 correct" in report


def test_roster_set_is_titled_and_identified_by_the_set(tmp_path: Path) -> None:
    """No one student's title labels the course; another roster keeps the UUIDs."""
    first = _generate(tmp_path / "a", "--roster", str(_roster(tmp_path, "s001", "s002")))
    other = _generate(tmp_path / "b", "--roster", str(_roster(tmp_path, "a000", "s002")),
                      "--seed", "7")
    infos = []
    for source in (first, other):
        out = write(load_variants(source), tmp_path / f"course-{source.name}")
        info_course = json.loads((out / "infoCourse.json").read_text())
        info = json.loads((out / "questions" / QID / "info.json").read_text())
        assert info["title"] == "Backpropagation by hand"
        assert info_course["title"] == "Backpropagation by hand (handgrad)"
        assert "Variant" not in (out / "questions" / QID / "server.py").read_text()
        infos.append((info_course["uuid"], info["uuid"]))
    assert infos[0] == infos[1]


@pytest.mark.parametrize("outputs", ["softmax,sigmoid", "sigmoid,softmax"])
def test_mixed_output_kinds_are_refused_clearly(tmp_path: Path, outputs: str) -> None:
    source = _generate(tmp_path / "mixed", "-k", "3", "--output", outputs, "--seed", "4")
    kinds = {load_variants(source)[i].problem.spec.network.output for i in range(3)}
    assert kinds == {"softmax", "sigmoid"}
    with pytest.raises(HandgradError, match="asks the same quantities of every variant: export"
                       " one output/loss kind at a time"):
        write(load_variants(source), tmp_path / "course")
    assert not (tmp_path / "course").exists()


# ------------------------------------------------------ Problem 1: the gradients as formulas

from handgrad.export.prairielearn import DERIVATION_QID  # noqa: E402

RIGHT = {"dW2": "outer(a1, yhat - ys)", "db2": r"\hat{y} - y^{s}",
         "dW1": "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))", "db1": "(W2 @ (yhat - ys)) * (h1 > 0)"}
# run in the subprocess: Problem 1's server.py, on submissions as pl-string-input leaves them
DERIVATION_DRIVER = textwrap.dedent('''
    import json, sys
    import server

    def fresh():
        return {"params": {}, "correct_answers": {}, "submitted_answers": {},
                "raw_submitted_answers": {}, "format_errors": {}, "partial_scores": {},
                "score": 0.0, "feedback": {}, "variant_seed": 4321}

    data = fresh()
    server.generate(data)
    results = {"params": data["params"], "correct": data["correct_answers"]}
    for case, answers in json.loads(sys.argv[1]).items():
        graded = fresh()
        graded["params"] = data["params"]
        graded["raw_submitted_answers"] = dict(answers)
        graded["submitted_answers"] = dict(answers)
        server.parse(graded)
        server.grade(graded)
        results[case] = {"score": graded["score"], "partial": graded["partial_scores"],
                         "errors": graded["format_errors"], "report": graded["feedback"]}
    results["modules"] = sorted({m.split(".")[0] for m in sys.modules})
    print(json.dumps(results))
''')
CASES = {
    "right": {**RIGHT, "dz": "", "dh1": ""},  # optional steps left blank (allow-blank)
    "transposed": {**RIGHT, "dW2": "(a1 @ (yhat - ys).T).T"},
    "unreadable": {**RIGHT, "db1": "(W2 @ (yhat - ys)) * (h1 > 0"},
    "steps": {**RIGHT, "dz": "ys - yhat", "db2": "dz"},  # a wrong step, carried forward
    "blank": {**RIGHT, "dW1": "  "},
}


@pytest.fixture(scope="module")
def derived(course: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    numpy_dir = _numpy_only(tmp_path_factory.mktemp("np2") / "site")
    question = course / "questions" / DERIVATION_QID
    (question / "driver.py").write_text(DERIVATION_DRIVER, encoding="utf-8")
    path = os.pathsep.join([str(question), str(course / "serverFilesCourse"), str(numpy_dir)])
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path}
    run = subprocess.run([sys.executable, "-S", str(question / "driver.py"), json.dumps(CASES)],
                         env=env, capture_output=True, text=True, timeout=120, cwd=question)
    (question / "driver.py").unlink()
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def test_problem_1_is_a_question_of_string_inputs(course: Path) -> None:
    folder = course / "questions" / DERIVATION_QID
    info = json.loads((folder / "info.json").read_text())
    backprop = json.loads((course / "questions" / QID / "info.json").read_text())
    assert info["type"] == "v3" and info["topic"] == backprop["topic"]
    assert info["uuid"] != backprop["uuid"]
    page = (folder / "question.html").read_text()
    for name in ("dW2", "db2", "dW1", "db1"):
        assert f'<pl-string-input answers-name="{name}"' in page
    assert page.count('allow-blank="true"') == 4  # the steps dyhat, dz, da1, dh1
    assert '<pl-string-input answers-name="dz" label="$\\frac{\\partial L}{\\partial z} =$"' in page
    for name in ("derivation.py", "formula.py"):
        assert (course / "serverFilesCourse" / "handgrad" / "grade" / name).is_file()


def test_problem_1_generates_the_kind_and_the_right_formulas(derived: dict[str, Any]) -> None:
    params = derived["params"]
    assert "the gradients as formulas" in params["statement"]
    assert "relu hidden units" in params["statement"] and "W^\\top x" in params["statement"]
    assert "$$\\frac{\\partial L}{\\partial W_{2}} =" in params["answer_html"]
    assert derived["correct"] == {}  # left to server.py: string elements compare text
    assert "sympy" not in derived["modules"] and "rich" not in derived["modules"]


def test_problem_1_grades_each_formula_for_every_size(derived: dict[str, Any]) -> None:
    right = derived["right"]
    assert right["errors"] == {} and right["score"] == 1.0
    assert {name: part["score"] for name, part in right["partial"].items()} == dict.fromkeys(
        ("dW2", "db2", "dW1", "db1"), 1.0)
    assert "read as: yhat - ys" in right["partial"]["db2"]["feedback"]
    transposed = derived["transposed"]
    assert transposed["score"] == 0.75
    assert transposed["partial"]["dW2"]["score"] == 0.0
    assert "likely cause (transposed)" in transposed["partial"]["dW2"]["feedback"]
    assert "a right one: " in transposed["partial"]["dW2"]["feedback"]
    unreadable = derived["unreadable"]
    assert unreadable["errors"] == {} and unreadable["score"] == 0.75  # graded, not refused
    feedback = unreadable["partial"]["db1"]["feedback"]
    assert "likely cause (unreadable)" in feedback
    formula, caret = feedback.splitlines()[-3:-1]
    assert caret.index("^") == len(formula)  # under the end, where ')' is missing
    assert "Problem 1: the formulas" in unreadable["report"]["report"]


def test_problem_1_steps_carry_forward_and_blanks_are_format_errors(
        derived: dict[str, Any]) -> None:
    steps = derived["steps"]
    assert steps["partial"]["dz"] == {"score": 0.0, "weight": 0,
                                      "feedback": steps["partial"]["dz"]["feedback"]}
    assert "dz_sign" in steps["partial"]["dz"]["feedback"]
    # db2 is right in terms of the wrong step, but the step scores nothing: the mistake is
    # charged where it first reaches a scored formula, as on the class sheet (else a wrong dz
    # would make every formula written with it full marks)
    assert steps["partial"]["db2"]["score"] == 0.0
    assert steps["partial"]["db2"]["feedback"].startswith("carried forward")
    assert "charged here" in steps["partial"]["db2"]["feedback"]
    assert steps["score"] == 0.75
    blank = derived["blank"]
    assert blank["errors"] == {"dW1": "Enter a formula for dW1."} and blank["score"] == 0.0


def test_problem_1_golden(course: Path) -> None:
    """Problem 1's question files as a person has read them."""
    for name in ("info.json", "question.html", "server.py"):
        text = (course / "questions" / DERIVATION_QID / name).read_text(encoding="utf-8")
        golden = GOLDEN / "prairielearn" / "questions" / DERIVATION_QID / name
        if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{name} changed"
