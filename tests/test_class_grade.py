"""A class graded from a folder into a grade sheet: every row what a careful teaching assistant
would give; broken answers cost only their own row; the sheet safe to open in a spreadsheet.

The class is the folder `handgrad generate --roster` writes (problem-<id>.toml, answer-<id>.json,
roster.csv), built here from `generate` and `toml_text`; the students' answers are written in
the test with plain NumPy (`tests.test_rounding.work`), never by the engine.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest

from handgrad.errors import HandgradError
from handgrad.generate import toml_text
from handgrad.grade import grade_document
from handgrad.grading.classgrade import ClassGrade, grade_class, neutralised
from handgrad.grading.rubric import rubric_from_document
from handgrad.problem import validate_problem
from handgrad.render.classgrade import feedback_markdown, render_class_text
from handgrad.solver import solve
from tests.test_grade import _cli
from tests.test_rounding import answer_of, variants, work

EVIL_NAME = '=HYPERLINK("http://example.com/steal","click")'
FIXED = ("id", "name", "score", "max_score", "percent", "first_wrong", "cause")
# what each student did, and the row a careful TA gives it (default rubric: the 16 quantities
# the homework asks for, a point each, carried forward at full credit)
STUDENTS = {
    "ada": ({}, ("ada", EVIL_NAME, "16", "16", "100", "", "")),
    "ben": ({"places": 2, "stepwise": True}, ("ben", "Ben", "16", "16", "100", "", "")),
    "cai": ({"places": 3}, ("cai", "Cai", "16", "16", "100", "", "")),
    "dee": ({"forget_smoothing": True},
            ("dee", "Dee", "14", "16", "87.5", "forward.ys", "no_smoothing")),
    "eve": ({"places": 2, "stepwise": True, "forget_smoothing": True},
            ("eve", "Eve", "14", "16", "87.5", "forward.ys", "no_smoothing")),
    "fay": ({"places": 3, "forget_smoothing": True, "leave_out": ("ys",)},
            ("fay", "Fay", "14", "16", "87.5", "forward.loss", "no_smoothing")),
    "gus": ({"places": 2, "dz_sign": True},
            ("gus", "Gus", "15", "16", "93.75", "backward.dz", "dz_sign")),
    "hal": ({"blank": True}, ("hal", "Hal", "1", "16", "6.25", "", "")),
}
BROKEN = {  # id: (file name, text, what the error column says)
    "ivy": ("ivy.toml", "[forward]\nh1 = [1, 2\n", "invalid TOML"),
    "kim": ("kim.json", '{"forward": {"z": [1, 2]}}', "forward.z: shape (2,), expected (3,)"),
    "jon": ("jon.json", '{"forward": {"z": [1, 2, 3]}}', "no problem-jon.toml"),
}
ROSTER_ONLY = "zed"  # on the roster, no answer handed in


def make_class(root: Path) -> tuple[Path, Path]:
    """The roster folder as `generate --roster` writes it, and a folder of answers."""
    roster, answers = root / "roster", root / "answers"
    roster.mkdir()
    answers.mkdir()
    ids = [*STUDENTS, "ivy", "kim", ROSTER_ONLY]
    # a seed whose variants all tell the forgotten smoothing from the right loss (with integer
    # logits, L without smoothing equals L with it whenever z of the label is the mean of z)
    docs = variants(len(ids), seed=16)
    names = {sid: STUDENTS[sid][1][1] if sid in STUDENTS else sid.title() for sid in ids}
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    writer.writerow(["id", "name", "email"])
    for sid, doc in zip(ids, docs, strict=True):
        (roster / f"problem-{sid}.toml").write_text(toml_text(doc), encoding="utf-8")
        (roster / f"answer-{sid}.json").write_text(solve(validate_problem(doc, sid)).to_json())
        (roster / f"exam-{sid}.md").write_text(f"# Exam for {sid}\n")
        writer.writerow([sid, names[sid], f"{sid}@example.edu"])
        if sid in STUDENTS:
            settings = dict(STUDENTS[sid][0])
            leave_out = settings.pop("leave_out", ())
            blank = settings.pop("blank", False)
            answer = answer_of(work(doc, **settings), leave_out)
            if blank:
                answer = {"forward": {"h1": answer["forward"]["h1"]}}
            (answers / f"{sid}.json").write_text(json.dumps(answer))
    (roster / "roster.csv").write_text(lines.getvalue(), encoding="utf-8")
    for file_name, text, _ in BROKEN.values():
        (answers / file_name).write_text(text)
    (answers / "README.txt").write_text("not an answer")
    (answers / ".DS_Store").write_bytes(b"\0")
    return roster, answers


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClassGrade, Path, Path]:
    roster, answers = make_class(tmp_path_factory.mktemp("class"))
    return grade_class(roster, answers), roster, answers


def test_every_row_is_what_a_careful_ta_gives(graded):
    grades, _, _ = graded
    rows = {row["id"]: row for row in grades.rows()}
    assert list(rows) == sorted([*STUDENTS, *BROKEN])  # one row per answer file, by id
    for sid, (_, expected) in STUDENTS.items():
        row = rows[sid]
        assert tuple(row[column] for column in FIXED) == expected, sid
        assert row["error"] == ""
    # the verdicts: every quantity right for the right answers, however rounded
    for sid in ("ada", "ben", "cai"):
        assert {rows[sid][k] for k in grades.columns} == {"correct"}, sid
    for sid in ("dee", "eve"):  # yˢ written as y: charged at the loss and ∂L/∂z, once
        row = rows[sid]
        assert (row["forward.ys"], row["forward.loss"], row["backward.dz"]) == ("wrong",) * 3
        assert row["backward.dW2"] == row["backward.db2"] == "carried_forward"
        assert _rest(row, grades, after="backward.dz") <= {"carried_forward", "correct"}
    fay = rows["fay"]  # the same mistake, yˢ left out: the same score
    assert fay["forward.ys"] == "not_asked"
    assert fay["forward.loss"] == fay["backward.dz"] == "wrong"
    gus = rows["gus"]
    assert gus["backward.dz"] == "wrong" and gus["backward.dW2"] == "carried_forward"
    assert _rest(gus, grades, after="backward.dz") <= {"carried_forward", "correct"}
    hal = rows["hal"]
    assert hal["forward.h1"] == "correct"
    assert hal["forward.ys"] == hal["update.loss"] == "not_asked"
    assert [k for k in grades.columns if hal[k] == "missing"] == [
        k for k in grades.columns if k not in ("forward.h1", "forward.ys", "update.loss")]


def _rest(row: dict, grades: ClassGrade, after: str) -> set[str]:
    columns = list(grades.columns)
    return {row[k] for k in columns[columns.index(after) + 1:]}


def test_a_broken_answer_costs_only_its_own_row(graded):
    grades, _, answers = graded
    rows = {row["id"]: row for row in grades.rows()}
    for sid, (file_name, _, message) in BROKEN.items():
        row = rows[sid]
        assert message in row["error"] and str(answers / file_name) in row["error"], row
        assert row["score"] == row["percent"] == row["first_wrong"] == ""
        assert all(row[k] == "" for k in grades.columns)
    summary = grades.summary
    assert (summary.answers, summary.graded, summary.errors) == (11, 8, 3)
    assert grades.absent == (ROSTER_ONLY,)  # named, never silently skipped
    assert grades.ignored == (".DS_Store", "README.txt")  # hidden files listed too


def test_the_summary_says_what_the_class_got_wrong(graded):
    grades, _, _ = graded
    summary = grades.summary
    percents = [100, 100, 100, 87.5, 87.5, 87.5, 93.75, 6.25]
    assert summary.mean == pytest.approx(sum(percents) / 8)
    assert summary.median == pytest.approx((87.5 + 93.75) / 2)
    assert dict(summary.distribution)["100 %"] == 3
    assert dict(summary.distribution)["80–89 %"] == 3
    assert dict(summary.distribution)["0–9 %"] == 1
    assert summary.causes[0] == ("no_smoothing", 3)
    assert dict(summary.causes)["dz_sign"] == 1
    assert summary.incomplete == 1
    text = render_class_text(grades, width=120)
    for expected in ("11 answers, 8 graded, 3 not gradable", "median 90.6 %", "no_smoothing",
                     "Distribution of scores", "No answer file from 1 student of the roster: "
                     "zed", "Ignored 2 files (answers must sit directly in the answers folder"):
        assert expected in text, expected


def test_the_sheet_is_csv_a_spreadsheet_cannot_run(graded):
    grades, _, _ = graded
    text = grades.csv_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:8] == ["id", "name", "score", "max_score", "percent", "first_wrong",
                           "cause", "error"]
    assert rows[0][8:] == list(grades.columns) and "backward.dW1" in rows[0]
    ada = next(r for r in rows if r[0] == "ada")
    assert ada[1] == "'" + EVIL_NAME  # shown as text, never run as a formula
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralised(cell) == "'" + cell
    assert neutralised("ada") == "ada" and neutralised("") == ""


def test_feedback_is_the_single_file_report_and_the_score(graded):
    grades, _, _ = graded
    dee = next(s for s in grades.students if s.id == "dee")
    text = feedback_markdown(dee)
    assert text.startswith("# Grade: ")
    assert "## First wrong step: `forward.ys`" in text and "14 of 16 points" in text
    assert "`forward.loss`, `backward.dz` carried forward a mistake" in text
    ivy = next(s for s in grades.students if s.id == "ivy")
    assert "could not be graded" in feedback_markdown(ivy)


def test_a_class_grade_and_a_report_show_themselves_in_jupyter(graded):
    grades, _, _ = graded
    assert grades._repr_markdown_().startswith("# Grades")
    assert "| dee | Dee | 14 / 16 | 87.5 % | forward.ys | no_smoothing |  |" in (
        grades._repr_markdown_())
    doc = variants(11, seed=16)[0]
    report = grade_document(validate_problem(doc, "p"), answer_of(work(doc)))
    assert report._repr_markdown_().startswith(f"# Grade: {doc['title']}")


def test_the_command_writes_the_sheet_and_the_feedback(tmp_path):
    roster, answers = make_class(tmp_path)
    done = _cli("grade", str(roster), str(answers), "--csv", "grades.csv", "--feedback", "fb",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "11 answers, 8 graded, 3 not gradable" in done.stdout
    assert "grade sheet: grades.csv" in done.stderr
    sheet = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text("utf-8"))))
    assert [row["id"] for row in sheet] == sorted([*STUDENTS, *BROKEN])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == sorted(
        f"{sid}.md" for sid in [*STUDENTS, *BROKEN])
    as_json = json.loads(_cli("grade", str(roster), str(answers), "-f", "json",
                              cwd=tmp_path).stdout)
    assert as_json["summary"]["graded"] == 8 and as_json["absent"] == [ROSTER_ONLY]
    dee = next(s for s in as_json["students"] if s["id"] == "dee")
    assert dee["score"] == 14 and dee["first_wrong"] == "forward.ys"
    # one student's answer against their own problem in the folder, the single-file form
    one = _cli("grade", str(roster), str(answers / "gus.json"), cwd=tmp_path)
    assert one.returncode == 0 and "First wrong step: backward.dz" in one.stdout


def test_one_problem_for_everyone_a_rubric_and_a_roster(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    doc = variants(11, seed=16)[0]
    (tmp_path / "p.toml").write_text(toml_text(doc))
    (folder / "s1.json").write_text(json.dumps(answer_of(work(doc, places=2))))
    (folder / "s2.json").write_text(json.dumps(answer_of(work(doc, dz_sign=True))))
    (tmp_path / "roster.csv").write_text("id,name\ns1,One\ns2,Two\ns3,Three\n")
    (tmp_path / "rubric.toml").write_text("carried_forward = 0.5\n")
    done = _cli("grade", "p.toml", "answers", "--csv", "g.csv", "--rubric", "rubric.toml",
                "--roster", "roster.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "g.csv").read_text(encoding="utf-8")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["s1"]["name"], rows["s1"]["score"]) == ("One", "16")
    carried = sum(v == "carried_forward" for k, v in rows["s2"].items() if k != "update.loss")
    assert float(rows["s2"]["score"]) == 16 - 1 - 0.5 * carried
    assert "No answer file from 1 student of the roster: s3" in done.stdout
    grades = grade_class(tmp_path / "p.toml", folder,
                         rubric_from_document({"carried_forward": 1}))
    assert [s.score.points for s in grades.students if s.score] == [16, 15]


@pytest.mark.parametrize(("args", "message"), [
    (("p.toml", "answers", "--rubric", "bad.toml"),
     "bad.toml: points.backward.dW1 = 'x'"),
    (("p.toml", "answers/a.json", "--csv", "g.csv"), "--csv is for a folder of answers"),
    (("p.toml", "answers", "--csv", "answers/a.json"), "would overwrite one of the answers"),
    (("p.toml", "answers", "--decimals", "x"), "give auto, or a number of decimals"),
    (("roster", "answers"), "no problem-<id>.toml in this folder"),
    (("p.toml", "answers", "--roster", "none.csv"), "none.csv"),
])
def test_command_errors_are_clear(tmp_path, args, message):
    (tmp_path / "answers").mkdir()
    (tmp_path / "roster").mkdir()
    doc = variants(11, seed=16)[0]
    (tmp_path / "p.toml").write_text(toml_text(doc))
    (tmp_path / "answers" / "a.json").write_text(json.dumps(answer_of(work(doc))))
    (tmp_path / "bad.toml").write_text('[points]\n"backward.dW1" = "x"\n')
    done = _cli("grade", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr


def test_the_answers_folder_is_not_the_problems_folder(tmp_path):
    roster, _ = make_class(tmp_path)
    with pytest.raises(HandgradError, match="this is the folder of problems"):
        grade_class(roster, roster)


def test_hostile_file_names_and_an_empty_folder(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    doc = variants(11, seed=16)[0]
    (tmp_path / "p.toml").write_text(toml_text(doc))
    with pytest.raises(HandgradError, match="no answer files in this folder"):
        grade_class(tmp_path / "p.toml", folder)
    (folder / "\x1b[2J-x.json").write_text("{}")  # an escape sequence in an id
    (folder / "+cmd.json").write_text(json.dumps(answer_of(work(doc))))
    done = _cli("grade", "p.toml", "answers", "--csv", "g.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\\x1b[2J-x" in done.stdout
    rows = list(csv.reader(io.StringIO((tmp_path / "g.csv").read_text(encoding="utf-8"))))
    assert [row[0] for row in rows[1:]] == ["\x1b[2J-x", "'+cmd"]  # sorted by id
    assert rows[1][7].endswith("the answer gives no quantities: put them under [forward], "
                               "[backward] and [update] with the solver's names")


OVERWRITES = [  # the command, and what it would have replaced
    (("roster", "answers", "--csv", "roster/problem-ben.toml"), "inside roster"),
    (("roster", "answers", "--csv", "roster/roster.csv"), "inside roster"),
    (("roster", "answers", "--csv", "roster/answer-ben.json"), "inside roster"),
    (("roster", "answers", "-o", "roster/exam-ben.md"), "inside roster"),
    (("roster", "answers", "--feedback", "roster"), "--feedback roster/"),
    (("roster", "answers", "--csv", "answers/cai.json"), "would overwrite one of the answers"),
    (("roster", "answers", "--csv", "./answers/../answers/hal.json"), "one of the answers"),
    (("roster", "answers", "--csv", "link.json"), "one of the answers"),  # a symbolic link
    (("roster", "answers", "--csv", "ivy.toml"), "one of the answers"),  # a hard link
    (("roster", "answers", "--csv", "r.toml", "--rubric", "r.toml"), "overwrite the rubric"),
    (("roster", "answers", "-o", "r.toml", "--rubric", "r.toml"), "overwrite the rubric"),
    (("roster", "answers", "--csv", "same.csv", "-o", "same.csv"),
     "--output same.csv: is also the file of --csv"),
    (("roster", "answers", "--csv", "fb/ben.md", "--feedback", "fb"),
     "--feedback fb/ben.md: is also the file of --csv"),
    (("p.toml", "answers", "--csv", "p.toml"), "overwrite the problem file"),
    (("p.toml", "answers", "--roster", "names.csv", "--csv", "names.csv"),
     "overwrite the roster"),
    (("p.toml", "answers/ada.json", "-o", "answers/ada.json"), "overwrite the answer file"),
    (("p.toml", "answers/ada.json", "-o", "p.toml"), "overwrite the problem file"),
    (("p.toml", "answers/ada.json", "--rubric", "r.toml", "-o", "r.toml"),
     "overwrite the rubric"),
    (("roster", "answers/ben.json", "-o", "roster/problem-ben.toml"), "inside roster"),
]


@pytest.mark.parametrize(("args", "message"), OVERWRITES)
def test_no_output_replaces_an_input_or_another_output(tmp_path, args, message):
    """--csv onto a student's problem replaced it, silently; so did --csv onto the roster or
    the rubric, --csv and -o the same file (the summary over the sheet), -o onto the answer."""
    roster, answers = make_class(tmp_path)
    (tmp_path / "r.toml").write_text("carried_forward = 0.5\n")
    (tmp_path / "p.toml").write_text((roster / "problem-ada.toml").read_text())
    (tmp_path / "names.csv").write_text("id,name\nada,Ada\n")
    (tmp_path / "link.json").symlink_to(answers / "dee.json")
    os.link(answers / "ivy.toml", tmp_path / "ivy.toml")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    done = _cli("grade", *args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1  # one line
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing replaced, nothing written (no sheet, no feedback)


def test_outputs_beside_the_inputs_are_written(tmp_path):
    _, answers = make_class(tmp_path)
    (tmp_path / "r.toml").write_text("carried_forward = 0.5\n")
    done = _cli("grade", "roster", "answers", "--rubric", "r.toml", "--csv", "answers/g.csv",
                "--feedback", "answers", "-o", "summary.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (answers / "g.csv").is_file() and (answers / "dee.md").is_file()
    assert "11 answers" in (tmp_path / "summary.txt").read_text(encoding="utf-8")
    again = _cli("grade", "roster", "answers", "--csv", "answers/g.csv", cwd=tmp_path)
    assert again.returncode == 0, again.stderr  # the sheet of the last run is no input


def _bad_name(folder: Path) -> Path:
    """A file whose name is not valid UTF-8 (a byte 0xff), where the file system allows one."""
    if sys.platform == "darwin":
        pytest.skip("APFS refuses names that are not UTF-8")
    name = os.fsdecode(b"bad\xffname.json")
    try:
        (folder / name).write_text("{}")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    return folder / name


def test_a_file_name_that_is_not_utf8_costs_only_its_own_row(tmp_path):
    """An answer named b'bad\\xffname.json' made the whole class grade a UnicodeEncodeError
    traceback; now it is its own row, the name shown with an escape."""
    _, answers = make_class(tmp_path)
    _bad_name(answers)
    (answers / os.fsdecode(b"sub\xfe")).mkdir()
    done = _cli("grade", "roster", "answers", "--csv", "g.csv", "--feedback", "fb", "-o",
                "summary.md", "-f", "markdown", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(
        (tmp_path / "g.csv").read_text(encoding="utf-8")))}
    bad = rows["bad\\udcffname"]
    assert bad["error"].startswith("bad\\udcffname.json: the file name is not valid UTF-8")
    assert bad["score"] == "" and rows["ada"]["score"] == "16"  # everyone else graded
    assert "bad\\udcffname" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    feedback = tmp_path / "fb" / os.fsdecode(b"bad\xffname.md")  # beside its answer's name
    assert "not valid UTF-8" in feedback.read_text(encoding="utf-8")
    data = json.loads(_cli("grade", "roster", "answers", "-f", "json", cwd=tmp_path).stdout)
    assert "bad\\udcffname" in [s["id"] for s in data["students"]]
    assert "sub\\udcfe/" in data["ignored"]
    text = _cli("grade", "roster", "answers", cwd=tmp_path)
    assert text.returncode == 0 and "Not gradable (4 answers" in text.stdout


def test_folders_and_hidden_files_are_listed_not_skipped_silently(tmp_path):
    """A learning system exports a folder per student: those answers were skipped without a
    word, as were hidden files; now the summary lists them and says where answers go."""
    roster, answers = make_class(tmp_path)
    for student in ("lea", "max"):
        (answers / student).mkdir()
        (answers / student / "answer.json").write_text("{}")
    (answers / ".lou.json").write_text("{}")
    grades = grade_class(roster, answers)
    assert grades.ignored == (".DS_Store", ".lou.json", "README.txt", "lea/", "max/")
    text = render_class_text(grades, width=400)
    assert ("Ignored 3 files and 2 folders (answers must sit directly in the answers folder, "
            "one <id>.toml or <id>.json per student; a folder per student, as learning systems "
            "export them, is not read): .DS_Store, .lou.json, README.txt, lea/, max/.") in text
    assert "Ignored 3 files and 2 folders" in grades.to_markdown()
    only_folders = tmp_path / "export"
    (only_folders / "lea").mkdir(parents=True)
    with pytest.raises(HandgradError, match=r"it holds 1 folder \(lea/\): answers must sit "
                       "directly in it"):
        grade_class(roster, only_folders)


# ------------------------------------------------------------------- Problem 1's formulas

RIGHT = {"dW2": "outer(a1, yhat - ys)", "db2": "yhat - ys",
         "dW1": "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))",
         "db1": "(W2 @ (yhat - ys)) * (h1 > 0)"}
FORMULA_ANSWERS = {  # id: the [derivation] section (None: an answer of numbers alone)
    "ada": RIGHT,
    # dW2 transposed (a row of W2ᵀ where W2's belongs); the rest in LaTeX, right
    "ben": {**RIGHT, "dW2": "(a1 @ (yhat - ys).T).T", "db2": r"\hat{y} - y^{s}"},
    "cai": {**RIGHT, "dW1": "outer(x, (W2 @ (yhat - ys)) * (h1 > 0)"},  # a ')' short
    "dee": None,
}
FORMULA_COLUMNS = ("derivation.dW2", "derivation.db2", "derivation.dW1", "derivation.db1")


def _toml_string(text: str) -> str:
    return "'" + text + "'"  # a literal string: LaTeX's backslashes as written


def formula_class(root: Path) -> Path:
    """A folder of four answers to the seed homework: Problem 1 right, with dW2 transposed,
    with an unreadable dW1, and numbers alone (h1 and a1, right)."""
    folder = root / "answers"
    folder.mkdir()
    for sid, formulas in FORMULA_ANSWERS.items():
        if formulas is None:
            text = "[forward]\nh1 = [-13, 2, -5]\na1 = [0, 2, 0]\n"
        else:
            text = "[derivation]\n" + "".join(f"{name} = {_toml_string(formula)}\n"
                                              for name, formula in formulas.items())
        (folder / f"{sid}.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def formula_graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClassGrade, Path]:
    folder = formula_class(tmp_path_factory.mktemp("formulas"))
    return grade_class("homework3", folder), folder


def test_a_column_per_formula_with_its_verdict(formula_graded):
    grades, _ = formula_graded
    assert grades.formula_columns == FORMULA_COLUMNS  # the asked ones, in backward order
    header = next(csv.reader(io.StringIO(grades.csv_text())))
    assert header[:10] == [*FIXED, "error", "first_wrong_formula", "formula_cause"]
    assert header[-4:] == list(FORMULA_COLUMNS)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(grades.csv_text()))}
    verdicts = {sid: tuple(row[c] for c in FORMULA_COLUMNS) for sid, row in rows.items()}
    assert verdicts == {"ada": ("correct",) * 4,
                        "ben": ("wrong", "correct", "correct", "correct"),
                        "cai": ("correct", "correct", "wrong", "correct"),
                        # no [derivation] in a class whose formulas are graded: missing
                        "dee": ("missing",) * 4}
    assert (rows["ben"]["first_wrong_formula"], rows["ben"]["formula_cause"]) == (
        "derivation.dW2", "transposed")
    assert (rows["cai"]["first_wrong_formula"], rows["cai"]["formula_cause"]) == (
        "derivation.dW1", "unreadable")
    assert rows["ada"]["first_wrong_formula"] == rows["ada"]["formula_cause"] == ""
    # each formula scores a point like a quantity: 16 numbers + 4 formulas
    scores = {sid: (row["score"], row["max_score"]) for sid, row in rows.items()}
    assert scores == {"ada": ("4", "20"), "ben": ("3", "20"), "cai": ("3", "20"),
                      "dee": ("2", "20")}
    assert rows["dee"]["forward.h1"] == rows["dee"]["forward.a1"] == "correct"


def test_the_summary_counts_each_formula_and_its_mistakes(formula_graded):
    grades, _ = formula_graded
    s = grades.summary
    assert s.formulas["derivation.dW2"] == {"correct": 2, "carried_forward": 0, "wrong": 1,
                                            "missing": 1, "not_asked": 0}
    assert dict(s.formula_causes) == {"transposed": 1, "unreadable": 1}
    assert s.causes == []  # the formulas' mistakes are not the numbers'
    text = render_class_text(grades)
    assert "Problem 1: the formulas" in text and "P1 ∂L/∂W2" in text
    assert "unreadable" in text and "transpose of the gradient" in text
    markdown = grades.to_markdown()
    header = next(line for line in markdown.splitlines() if line.startswith("| id |"))
    assert header.endswith("| P1 ∂L/∂W2 | P1 ∂L/∂b2 | P1 ∂L/∂W1 | P1 ∂L/∂b1 |")
    ben = next(line for line in markdown.splitlines() if line.startswith("| ben |"))
    assert ben.endswith("| ✗ `transposed` | ✓ | ✓ | ✓ |")
    dee = next(line for line in markdown.splitlines() if line.startswith("| dee |"))
    assert dee.count("· missing") == 4


def test_each_students_detail_shows_the_formulas(formula_graded):
    grades, _ = formula_graded
    data = grades.to_dict()
    assert data["summary"]["formula_causes"] == {"transposed": 1, "unreadable": 1}
    cai = next(s for s in data["students"] if s["id"] == "cai")
    assert cai["verdicts"]["derivation.dW1"] == "wrong"
    dW1 = next(f for f in cai["formulas"] if f["name"] == "dW1")
    assert dW1["cause"] == "unreadable" and dW1["position"] == len(RIGHT["dW1"]) - 1
    ben = next(s for s in data["students"] if s["id"] == "ben")
    db2 = next(f for f in ben["formulas"] if f["name"] == "db2")
    assert (db2["status"], db2["formula"], db2["read"]) == ("correct", r"\hat{y} - y^{s}",
                                                            "yhat - ys")
    feedback = feedback_markdown(next(s for s in grades.students if s.id == "cai"))
    assert "Problem 1" in feedback and "cannot be read" in feedback
    assert "3 of 20 points" in feedback


def test_a_rubric_can_score_problem_1_alone(formula_graded):
    _, folder = formula_graded
    rubric = rubric_from_document({"required": list(FORMULA_COLUMNS),
                                   "points": {"derivation.dW1": 2}})
    grades = grade_class("homework3", folder, rubric)
    scores = {s.id: (s.score.points, s.score.max_points) for s in grades.students if s.score}
    assert scores == {"ada": (5, 5), "ben": (4, 5), "cai": (3, 5), "dee": (0, 5)}
    with pytest.raises(HandgradError, match=r"derivation\.dW9"):
        grade_class("homework3", folder, rubric_from_document({"points": {"derivation.dW9": 1}}))


def test_a_class_without_formulas_has_no_formula_columns(tmp_path):
    folder = formula_class(tmp_path)
    for sid in ("ada", "ben", "cai"):
        (folder / f"{sid}.toml").unlink()
    grades = grade_class("homework3", folder)
    assert grades.formula_columns == ()
    assert next(csv.reader(io.StringIO(grades.csv_text())))[:9] == [*FIXED, "error",
                                                                     "forward.h1"]
    assert "formulas" not in grades.to_dict()["summary"]
    assert "P1 " not in grades.to_markdown()
