"""A folder of answers graded into a grade sheet: one row per answer file, and a summary.

Everyone had the same problem (a problem file, or a shipped example's name), or each student
their own: the folder `handgrad generate --roster` writes, with `problem-<id>.toml` for each
student and `roster.csv` (columns `id`, `name`, ...). Each answer file in the answers folder is
`<id>.toml` or `<id>.json`, the file name's stem being the student's id.

A broken answer costs only its own row: its `error` says what the single-file grade would
say, and everyone else is graded. An answer whose id has no problem is a row with an error,
never skipped; files that are not answers, and students of the roster without an answer, are
listed in the summary.

Problem 1's formulas (an answer's [derivation] section) are graded beside the numbers: a column
per formula (`derivation.dW2`, ...), scored like a quantity. In a class where any answer has
the section (or the rubric scores a formula), an answer without one has its asked formulas
missing, so that leaving Problem 1 out never raises a percent.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from handgrad.errors import HandgradError
from handgrad.grade import GradeItem, GradeReport, Tolerance, grade_file
from handgrad.grade.derivation import derivation_names, grade_derivation
from handgrad.grading.rubric import Rubric, Score, score
from handgrad.problem import Problem, load_problem
from handgrad.solution import Solution
from handgrad.text import has_lone_surrogate, shown

ANSWER_SUFFIXES = (".toml", ".json")
PROBLEM_PREFIX = "problem-"
ROSTER = "roster.csv"
SHEET_COLUMNS = ("id", "name", "score", "max_score", "percent", "first_wrong", "cause", "error")
# after SHEET_COLUMNS when the class's formulas (Problem 1) are graded
FORMULA_COLUMNS = ("first_wrong_formula", "formula_cause")
FORMULA_SECTION = "derivation"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP):
# ids and names are user text, so such a cell is written with a leading apostrophe
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BINS = 10  # the distribution of scores: 0–9 %, 10–19 %, ..., 90–99 %, and 100 % on its own
VERDICTS = ("correct", "carried_forward", "wrong", "missing", "not_asked")
UNKNOWN_CAUSE = "unknown"  # a wrong step that matches none of the known mistakes
ID_LIMIT = 2000  # characters of an id shown with escapes (a file name is at most 255 bytes)


@dataclass(frozen=True)
class StudentGrade:
    """One answer file's row: the report and its score, or the error that stopped it."""

    id: str
    name: str = ""
    path: Path | None = None
    report: GradeReport | None = None
    score: Score | None = None
    error: str = ""

    @property
    def feedback_name(self) -> str:
        """The name of the student's feedback file: the answer file's own stem, `.md` (a stem
        that is not valid UTF-8 stays the bytes it was, so the name is never too long)."""
        return f"{self.path.stem if self.path is not None else self.id}.md"

    @property
    def first_wrong(self) -> str:
        first = self.report.first_wrong if self.report else None
        return first.key if first else ""

    @property
    def formulas(self) -> list[GradeItem]:
        """Problem 1's items (section derivation): empty when none were graded."""
        return self.report.formulas if self.report else []

    @property
    def first_wrong_formula(self) -> str:
        first = self.report.first_wrong_formula if self.report else None
        return first.key if first else ""

    @property
    def formula_cause(self) -> str:
        first = self.report.first_wrong_formula if self.report else None
        if first is None:
            return ""
        return first.cause or UNKNOWN_CAUSE

    @property
    def cause(self) -> str:
        first = self.report.first_wrong if self.report else None
        if first is None:
            return ""
        return first.cause or UNKNOWN_CAUSE

    def causes(self) -> list[str]:
        """Every distinct cause among the wrong steps (numbers), in the order they come."""
        if self.report is None:
            return []
        found = [item.cause or UNKNOWN_CAUSE for item in self.report.numbers
                 if item.status == "wrong"]
        return list(dict.fromkeys(found))

    def formula_causes(self) -> list[str]:
        """Every distinct cause among the wrong formulas (Problem 1), in backward order."""
        found = [item.cause or UNKNOWN_CAUSE for item in self.formulas if item.status == "wrong"]
        return list(dict.fromkeys(found))

    def row(self, columns: Sequence[str]) -> dict[str, str]:
        """The grade sheet's row: id, name, score, ..., then each quantity's verdict (and each
        formula's, with the first wrong formula and its cause, when `columns` has formulas)."""
        formulas = any(column.startswith(f"{FORMULA_SECTION}.") for column in columns)
        row = dict.fromkeys((*SHEET_COLUMNS, *(FORMULA_COLUMNS if formulas else ()), *columns),
                            "")
        row.update(id=self.id, name=self.name, error=self.error)
        if self.score is not None:
            row.update(score=_number(self.score.points), max_score=_number(self.score.max_points),
                       percent=_number(self.score.percent), first_wrong=self.first_wrong,
                       cause=self.cause)
            if formulas:
                row.update(first_wrong_formula=self.first_wrong_formula,
                           formula_cause=self.formula_cause)
            row.update({key: verdict for key, verdict in self.score.verdicts.items()
                        if key in row})
        return row

    def to_dict(self, columns: Sequence[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "error": self.error or None}
        if self.score is not None:
            data.update(score=self.score.points, max_score=self.score.max_points,
                        percent=self.score.percent, first_wrong=self.first_wrong or None,
                        cause=self.cause or None, charged=list(self.score.charged),
                        verdicts={k: v for k, v in self.score.verdicts.items() if k in columns})
            if self.formulas:
                data.update(first_wrong_formula=self.first_wrong_formula or None,
                            formula_cause=self.formula_cause or None,
                            formulas=[_formula_dict(item) for item in self.formulas])
        return data


def _formula_dict(item: GradeItem) -> dict[str, Any]:
    """One formula's verdict for the JSON sheet: as written, as read, the right one."""
    return {"name": item.name, "status": item.status, "cause": item.cause,
            "formula": item.given, "read": item.read, "expected": item.expected,
            "position": item.position}


@dataclass(frozen=True)
class ClassSummary:
    """What the class did: counts, mean and median percent, the distribution, the causes."""

    answers: int
    graded: int
    errors: int
    mean: float | None  # percent
    median: float | None
    lowest: float | None
    highest: float | None
    distribution: list[tuple[str, int]]  # ("0–9 %", n), ..., ("100 %", n)
    causes: list[tuple[str, int]]  # cause: how many students made it, most common first
    first_wrong: list[tuple[str, int]]  # where students first went wrong, most common first
    incomplete: int  # graded answers that leave out a required quantity
    # Problem 1: each formula column's verdicts {status: students}, and the formulas' causes
    formulas: dict[str, dict[str, int]] = field(default_factory=dict)
    formula_causes: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "answers": self.answers, "graded": self.graded, "errors": self.errors,
            "mean_percent": self.mean, "median_percent": self.median,
            "lowest_percent": self.lowest, "highest_percent": self.highest,
            "distribution": dict(self.distribution), "causes": dict(self.causes),
            "first_wrong": dict(self.first_wrong), "incomplete": self.incomplete}
        if self.formulas:
            data.update(formulas=self.formulas, formula_causes=dict(self.formula_causes))
        return data


@dataclass(frozen=True)
class ClassGrade:
    """Every answer of a folder graded: the rows of the grade sheet and what they add up to."""

    problem: str  # what the answers were graded against, in words
    rubric: Rubric
    tolerance: Tolerance
    students: tuple[StudentGrade, ...]
    columns: tuple[str, ...]  # the quantities, `section.name`, in the solution's order
    ignored: tuple[str, ...] = ()  # what else the answers folder holds: files, hidden
    # files, folders (`name/`)
    absent: tuple[str, ...] = ()  # students of the roster with no answer file
    names: Mapping[str, str] = field(default_factory=dict)  # the roster: id -> name

    @property
    def summary(self) -> ClassSummary:
        scored = [s for s in self.students if s.score is not None]
        percents = [s.score.percent for s in scored if s.score is not None]
        causes: Counter[str] = Counter()
        formula_causes: Counter[str] = Counter()
        firsts: Counter[str] = Counter()
        formulas = {column: dict.fromkeys(VERDICTS, 0) for column in self.formula_columns}
        for student in scored:
            causes.update(student.causes())
            formula_causes.update(student.formula_causes())
            if student.first_wrong:
                firsts[student.first_wrong] += 1
            for column, counts in formulas.items():
                if student.score is not None and column in student.score.verdicts:
                    counts[student.score.verdicts[column]] += 1
        incomplete = sum(1 for s in scored if s.score is not None
                         and "missing" in s.score.verdicts.values())
        return ClassSummary(
            answers=len(self.students), graded=len(scored),
            errors=len(self.students) - len(scored),
            mean=statistics.fmean(percents) if percents else None,
            median=statistics.median(percents) if percents else None,
            lowest=min(percents, default=None), highest=max(percents, default=None),
            distribution=_distribution(percents), causes=causes.most_common(),
            first_wrong=firsts.most_common(), incomplete=incomplete,
            formulas=formulas, formula_causes=formula_causes.most_common())

    @property
    def formula_columns(self) -> tuple[str, ...]:
        """The columns of Problem 1's formulas (`derivation.dW2`, ...), when they are graded."""
        return tuple(c for c in self.columns if c.startswith(f"{FORMULA_SECTION}."))

    @property
    def header(self) -> tuple[str, ...]:
        """The grade sheet's columns, in order."""
        fixed = (*SHEET_COLUMNS, *(FORMULA_COLUMNS if self.formula_columns else ()))
        return (*fixed, *self.columns)

    def rows(self) -> list[dict[str, str]]:
        return [student.row(self.columns) for student in self.students]

    def csv_text(self) -> str:
        """The grade sheet as CSV, each text cell safe to open in a spreadsheet."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        header = self.header
        writer.writerow(header)
        for row in self.rows():
            writer.writerow([neutralised(utf8(row[column])) for column in header])
        return buffer.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "rubric": self.rubric.describe(),
                "tolerance": self.tolerance.describe(),
                "summary": self.summary.to_dict(),
                "students": [s.to_dict(self.columns) for s in self.students],
                "ignored": list(self.ignored), "absent": list(self.absent)}

    def to_markdown(self) -> str:
        from handgrad.render.classgrade import render_class_markdown  # renderers load on demand

        return render_class_markdown(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def utf8(text: str) -> str:
    """`text` with any lone surrogate (a file name's byte that is not UTF-8, read by Python as
    \\udcff) written as the escape \\udcff: text that can always be written as UTF-8."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def neutralised(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (or a tab or a
    carriage return) gets a leading apostrophe, so that it is never run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _number(value: float) -> str:
    """A score as a person writes it: 14, 13.5, 87.5, 66.67."""
    return f"{round(value, 2):g}" if abs(value) < 1e6 else f"{value:.0f}"


def _distribution(percents: Iterable[float]) -> list[tuple[str, int]]:
    counts = [0] * (BINS + 1)
    for percent in percents:
        counts[min(BINS, int(percent // (100 / BINS)) if percent < 100 else BINS)] += 1
    width = 100 // BINS
    labels = [f"{i * width}–{i * width + width - 1} %" for i in range(BINS)] + ["100 %"]
    return list(zip(labels, counts, strict=True))


# ------------------------------------------------------------------------- the problems


class Problems:
    """Each student's problem and its solution: one for all, or one per id from a folder."""

    def __init__(self, source: str | Path) -> None:
        path = Path(source)
        self.folder: Path | None = path if path.is_dir() else None
        self._solved: dict[Path | str, tuple[Problem, Solution] | HandgradError] = {}
        if self.folder is None:
            self.shared: str | Path | None = source
            self.paths: dict[str, Path] = {}
            self.description = utf8(str(source))
            self.solved("")  # everyone's problem: broken, it is the command's error, not a row's
            return
        self.shared = None
        self.paths = {p.name[len(PROBLEM_PREFIX):-len(".toml")]: p
                      for p in sorted(self.folder.glob(f"{PROBLEM_PREFIX}*.toml"))
                      if p.is_file()}
        if not self.paths:
            raise HandgradError(
                f"{self.folder}: no {PROBLEM_PREFIX}<id>.toml in this folder; give the folder "
                "that `handgrad generate --roster` wrote, or one problem file that everyone had")
        self.description = utf8(f"{self.folder}/{PROBLEM_PREFIX}<id>.toml")

    @property
    def ids(self) -> list[str]:
        """The students that have a problem (none listed when everyone shares one)."""
        return list(self.paths)

    def has(self, student: str) -> bool:
        return self.shared is not None or student in self.paths

    def solved(self, student: str) -> tuple[Problem, Solution]:
        """The student's problem and its worked solution; a broken problem file raises, for
        that student's row only."""
        from handgrad.solver import solve

        source: str | Path = self.shared if self.shared is not None else self.paths[student]
        if source not in self._solved:
            try:
                problem = load_problem(source)
                self._solved[source] = (problem, solve(problem))
            except HandgradError as error:
                self._solved[source] = error
        found = self._solved[source]
        if isinstance(found, HandgradError):
            raise found
        return found

    def quantities(self) -> list[str]:
        """Every quantity of every problem that loads, `section.name`, in the solutions'
        order (problems that do not load are the rows' errors, not the columns')."""
        keys: dict[str, None] = {}
        for student in (self.ids or [""]):
            try:
                _, solution = self.solved(student)
            except HandgradError:
                continue
            keys.update((f"{q.section}.{q.key}", None) for q in solution.quantities)
        return list(keys)

    def formula_names(self) -> list[str]:
        """Every gradient a [derivation] section of these problems may give, `derivation.name`,
        in backward order (the problems that do not load left out, as in `quantities`)."""
        keys: dict[str, None] = {}
        for student in (self.ids or [""]):
            try:
                problem, _ = self.solved(student)
            except HandgradError:
                continue
            keys.update((f"{FORMULA_SECTION}.{name}", None) for name in derivation_names(problem))
        return list(keys)


def read_roster(path: Path) -> dict[str, str]:
    """The roster's names by id (the columns `id` and, when there is one, `name`)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise HandgradError(f"{path}: the roster cannot be read ({error})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [name.strip().lower() for name in reader.fieldnames or []]
    if "id" not in fields:
        raise HandgradError(f"{path}: the roster has no column `id` (its first line names the "
                            "columns: id,name,email)")
    names: dict[str, str] = {}
    for row in reader:
        cells = {str(k).strip().lower(): (v or "").strip() for k, v in row.items()
                 if k is not None and isinstance(v, str)}
        if cells.get("id"):
            names[cells["id"]] = cells.get("name", "")
    return names


# ----------------------------------------------------------------------------- grading


def answer_files(folder: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """The answer files of a folder by id (the stem), and what else it holds, by name: other
    files, hidden files (.DS_Store, .x.json) and folders (`name/`: answers sit directly in the
    folder, never in a folder per student as a learning system exports them)."""
    if not folder.is_dir():
        raise HandgradError(f"{folder}: not a folder of answers")
    answers: dict[str, list[Path]] = {}
    others: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            others.append(utf8(path.name) + "/")
        elif not path.name.startswith(".") and path.suffix.lower() in ANSWER_SUFFIXES:
            answers.setdefault(path.stem, []).append(path)
        else:
            others.append(utf8(path.name))
    return answers, others


def grade_class(
    problem: str | Path,
    answers: str | Path,
    rubric: Rubric | None = None,
    tolerance: Tolerance | None = None,
    roster: str | Path | None = None,
) -> ClassGrade:
    """Grade every answer file of the folder `answers` (`<id>.toml` or `<id>.json`).

    `problem`: a problem file or a shipped example's name (everyone had it), or the folder that
    `handgrad generate --roster` wrote (each student's `problem-<id>.toml`, and `roster.csv`
    for the names). `roster`: a roster CSV for the names when `problem` is one file.
    `tolerance`: by default, rounding as each student wrote it (`Tolerance()`).
    """
    rubric = rubric or Rubric()
    tolerance = tolerance or Tolerance()
    problems = Problems(problem)
    folder = Path(answers)
    if problems.folder is not None and folder.resolve() == problems.folder.resolve():
        raise HandgradError(f"{folder}: this is the folder of problems; give the folder of the "
                            "students' answers (<id>.toml or <id>.json)")
    found, others = answer_files(folder)
    if not found:
        folders = [name for name in others if name.endswith("/")]
        inside = (f"; it holds {len(folders)} folder{'s' if len(folders) > 1 else ''} "
                  f"({', '.join(shown(name) for name in folders[:3])}"
                  f"{', ...' if len(folders) > 3 else ''}): answers must sit directly in it, "
                  "not in a folder per student as learning systems export them"
                  if folders else "")
        raise HandgradError(f"{folder}: no answer files in this folder (each student's is "
                            f"<id>.toml or <id>.json){inside}")
    roster_path = Path(roster) if roster is not None else (
        problems.folder / ROSTER if problems.folder is not None else None)
    names = read_roster(roster_path) if roster_path is not None and (
        roster is not None or roster_path.is_file()) else {}
    columns = problems.quantities()
    formula_names = problems.formula_names()
    rubric.check_names([*columns, *formula_names])
    students = [_grade_one(student, paths, names.get(student, ""), problems, rubric, tolerance)
                for student, paths in sorted(found.items())]
    if any(s.formulas for s in students) or any(rubric.points_of(k) for k in rubric.names()
                                                 if k.startswith(f"{FORMULA_SECTION}.")):
        students = [_with_formulas(s, problems, rubric) for s in students]
        given = {item.key for s in students for item in s.formulas}
        columns += [key for key in formula_names if key in given]
    expected = dict.fromkeys([*problems.ids, *names])  # a problem, or a line of the roster
    absent = tuple(utf8(student) for student in expected if student not in found)
    return ClassGrade(problems.description, rubric, tolerance, tuple(students), tuple(columns),
                      tuple(others), absent, names)


def _grade_one(student: str, paths: list[Path], name: str, problems: Problems, rubric: Rubric,
               tolerance: Tolerance) -> StudentGrade:
    """One row: graded, or the error that stopped it (this student's alone)."""
    if has_lone_surrogate(student):  # bytes that are not UTF-8 in the file's name
        return StudentGrade(shown(student, ID_LIMIT), name, paths[0], error=(
            f"{shown(paths[0].name)}: the file name is not valid UTF-8; rename the file to the "
            "student's id (<id>.toml or <id>.json)"))
    if len(paths) > 1:
        listed = " and ".join(p.name for p in paths)
        return StudentGrade(student, name, paths[0], error=f"two answer files, {listed}: keep "
                            "one")
    path = paths[0]
    if not problems.has(student):
        return StudentGrade(student, name, path, error=utf8(
            f"{path}: no {PROBLEM_PREFIX}{student}.toml in {problems.folder}: no student of the "
            "roster has this id (check the file name)"))
    try:
        problem, solution = problems.solved(student)
        report = grade_file(problem, path, tolerance, solution)
    except HandgradError as error:
        return StudentGrade(student, name, path, error=utf8(one_line(str(error))))
    return StudentGrade(student, name, path, report, score(report, rubric))


def _with_formulas(student: StudentGrade, problems: Problems, rubric: Rubric) -> StudentGrade:
    """A graded answer without a [derivation] section, in a class whose formulas are graded:
    its asked formulas missing, and scored so."""
    if student.report is None or student.report.formulas:
        return student
    problem, _ = problems.solved(student.id)
    report = replace(student.report, items=[*student.report.items,
                                            *grade_derivation(problem, {})])
    return replace(student, report=report, score=score(report, rubric))


def one_line(message: str) -> str:
    """A message of several lines ("3 problems:\\n  - ...") on one line, for a sheet cell."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())
