"""A class's grades for people: the summary a teaching assistant reads, and each student's
feedback. The grade sheet itself is CSV (`ClassGrade.csv_text`)."""

from __future__ import annotations

import io
import json
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from handgrad.grade import EXPLANATIONS
from handgrad.grade.derivation import gradient_symbol
from handgrad.grade.records import DERIVATION_EXPLANATIONS
from handgrad.grading.classgrade import ClassGrade, ClassSummary, StudentGrade
from handgrad.render.grade import render_grade_markdown
from handgrad.text import shown

BAR = 40  # characters of the longest bar of the distribution
LISTED = 10  # causes, steps and names listed in the summary before "and N more"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _count(count: int, thing: str) -> str:
    return f"{count} {thing}{'' if count == 1 else 's'}"


def _listed(names: list[str]) -> str:
    shown_names = ", ".join(shown(n) for n in names[:LISTED])
    more = len(names) - LISTED
    return shown_names + (f" and {more} more" if more > 0 else "")


def _headline(grades: ClassGrade, s: ClassSummary) -> list[str]:
    lines = [f"{_count(s.answers, 'answer')}, {s.graded} graded, {s.errors} not gradable;"
             f" mean {_percent(s.mean)}, median {_percent(s.median)}"
             f" (lowest {_percent(s.lowest)}, highest {_percent(s.highest)})."]
    scored = [st.score for st in grades.students if st.score is not None]
    maxima = {sc.max_points for sc in scored}
    if len(maxima) == 1:
        points = [sc.points for sc in scored]
        mean = sum(points) / len(points)
        lines.append(f"In points: mean {mean:.2f} of {maxima.pop():g}.")
    if s.incomplete:
        verb = "leaves" if s.incomplete == 1 else "leave"
        lines.append(f"{_count(s.incomplete, 'graded answer')} {verb} out quantities the rubric"
                     " requires.")
    lines.append(f"Graded against {grades.problem}; {grades.rubric.describe()};"
                 f" tolerance: {grades.tolerance.describe()}.")
    return lines


def _notices(grades: ClassGrade) -> list[str]:
    """What was not graded, named: broken answers, ids without a problem, other files."""
    lines = []
    broken = [st for st in grades.students if st.error]
    if broken:
        lines.append(f"Not gradable ({_count(len(broken), 'answer')}; the error column says"
                     " why): "
                     + _listed([st.id for st in broken]) + ".")
    if grades.absent:
        lines.append(f"No answer file from {_count(len(grades.absent), 'student')} of the roster: "
                     + _listed(list(grades.absent)) + ".")
    if grades.ignored:
        folders = sum(1 for name in grades.ignored if name.endswith("/"))
        files = len(grades.ignored) - folders
        what = " and ".join(_count(n, thing) for n, thing in ((files, "file"), (folders, "folder"))
                            if n)
        why = ("answers must sit directly in the answers folder, one <id>.toml or <id>.json per "
               "student" + ("; a folder per student, as learning systems export them, is not "
                            "read" if folders else ""))
        lines.append(f"Ignored {what} ({why}): " + _listed(list(grades.ignored)) + ".")
    return lines


def _cause_text(cause: str) -> str:
    return EXPLANATIONS.get(cause, "matches none of the known mistakes")


def _formula_cause_text(cause: str) -> str:
    return DERIVATION_EXPLANATIONS.get(cause, "matches none of the known mistakes")


def formula_label(column: str) -> str:
    """A formula's column as a person reads it: derivation.dW2 → P1 ∂L/∂W2."""
    return f"P1 {gradient_symbol(column.partition('.')[2])}"


FORMULA_MARKS = {"correct": "✓", "carried_forward": "↪ carried forward", "wrong": "✗",
                 "missing": "· missing", "not_asked": ""}


def _formula_cell(student: StudentGrade, column: str) -> str:
    """A student's verdict on one formula, in a Markdown cell: ✓, or ✗ with its cause."""
    if student.score is None:
        return ""
    verdict = student.score.verdicts.get(column, "")
    mark = FORMULA_MARKS.get(verdict, verdict)
    if verdict == "wrong":
        item = next((i for i in student.formulas if i.key == column), None)
        cause = item.cause if item is not None and item.cause else "unknown"
        mark += f" `{cause}`"
    return mark


def _formula_rows(s: ClassSummary) -> list[tuple[str, ...]]:
    """Problem 1 per formula: label, then how many students were correct, carried forward,
    wrong, missing."""
    return [(formula_label(column), *(str(counts.get(v, 0)) for v in
                                      ("correct", "carried_forward", "wrong", "missing")))
            for column, counts in s.formulas.items()]


def render_class_text(grades: ClassGrade, width: int = 100) -> str:
    """The summary for a terminal: the numbers, the distribution, the causes, the notices."""
    s = grades.summary
    parts: list[Any] = [Text(line) for line in _headline(grades, s)]
    top = max((count for _, count in s.distribution), default=0)
    spread = Table(title="Distribution of scores", title_justify="left", title_style="bold",
                   box=box.SIMPLE_HEAD, show_header=False)
    spread.add_column("range", justify="right")
    spread.add_column("count", justify="right")
    spread.add_column("bar")
    for label, count in s.distribution:
        bar = "█" * (round(BAR * count / top) if top else 0)
        spread.add_row(Text(label), Text(str(count)), Text(bar))
    parts.append(spread)
    if s.causes:
        causes = Table(title="Most common causes (students)", title_justify="left",
                       title_style="bold", box=box.SIMPLE_HEAD)
        for column in ("cause", "students", "what it means"):
            causes.add_column(column)
        for cause, count in s.causes[:LISTED]:
            # Text, not markup: "1[h > 0]" is a formula, not a style
            causes.add_row(Text(cause), Text(str(count)), Text(_cause_text(cause)))
        parts.append(causes)
    if s.formulas:
        formulas = Table(title="Problem 1: the formulas (students)", title_justify="left",
                         title_style="bold", box=box.SIMPLE_HEAD)
        for column in ("formula", "correct", "carried forward", "wrong", "missing"):
            formulas.add_column(column, justify="left" if column == "formula" else "right")
        for row in _formula_rows(s):
            formulas.add_row(*(Text(cell) for cell in row))
        parts.append(formulas)
    if s.formula_causes:
        causes = Table(title="Most common mistakes in the formulas (students)",
                       title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
        for column in ("cause", "students", "what it means"):
            causes.add_column(column)
        for cause, count in s.formula_causes[:LISTED]:
            causes.add_row(Text(cause), Text(str(count)), Text(_formula_cause_text(cause)))
        parts.append(causes)
    if s.first_wrong:
        parts.append(Text("First wrong step: " + ", ".join(
            f"{key} ({count})" for key, count in s.first_wrong[:LISTED]) + "."))
    parts += [Text(line) for line in _notices(grades)]
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(Group(*parts))
    return buffer.getvalue()


def _md(text: str) -> str:
    """User text in a Markdown table cell: inert, on one line, no column break."""
    return shown(text, 200).replace("|", "\\|").replace("`", "'")


def render_class_markdown(grades: ClassGrade) -> str:
    """The summary, then one line per student: score, first wrong step, cause, error."""
    s = grades.summary
    lines = ["# Grades", "", *(f"{line}  " for line in _headline(grades, s)), "",
             "| scores | students |", "|---|---|"]
    lines += [f"| {label} | {count} |" for label, count in s.distribution]
    if s.causes:
        lines += ["", "| cause | students | what it means |", "|---|---|---|"]
        lines += [f"| `{cause}` | {count} | {_cause_text(cause)} |"
                  for cause, count in s.causes[:LISTED]]
    if s.formulas:
        lines += ["", "| Problem 1 | correct | carried forward | wrong | missing |",
                  "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in _formula_rows(s)]
    if s.formula_causes:
        lines += ["", "| mistake in a formula | students | what it means |", "|---|---|---|"]
        lines += [f"| `{cause}` | {count} | {_formula_cause_text(cause)} |"
                  for cause, count in s.formula_causes[:LISTED]]
    notices = _notices(grades)
    if notices:
        lines += ["", *notices]
    formulas = grades.formula_columns
    lines += ["", "| id | name | score | percent | first wrong | cause | error |"
              + "".join(f" {formula_label(c)} |" for c in formulas),
              "|---|---|---|---|---|---|---|" + "---|" * len(formulas)]
    for student, row in zip(grades.students, grades.rows(), strict=True):
        score = f"{row['score']} / {row['max_score']}" if row["score"] else ""
        percent = f"{row['percent']} %" if row["percent"] else ""
        lines.append(f"| {_md(row['id'])} | {_md(row['name'])} | {score} | {percent} |"
                     f" {row['first_wrong']} | {row['cause']} | {_md(row['error'])} |"
                     + "".join(f" {_formula_cell(student, c)} |" for c in formulas))
    return "\n".join(lines) + "\n"


def render_class_json(grades: ClassGrade) -> str:
    """The class's grades as JSON: `ClassGrade.to_dict()`, indented."""
    # allow_nan=False: a rubric's points are finite, bounded and add up to more than 0
    # (`load_rubric`), so every score is a number JSON can hold; never a bare NaN
    return json.dumps(grades.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)


def feedback_markdown(student: StudentGrade) -> str:
    """A student's own report: the single-file grade, then the score and what it counted."""
    if student.report is None or student.score is None:
        return (f"# Grade: {student.id}\n\nYour answer could not be graded:\n\n"
                f"    {student.error}\n\nFix the file and hand it in again.\n")
    text = render_grade_markdown(student.report)
    sc = student.score
    lines = ["", "## Score", "",
             f"{sc.points:g} of {sc.max_points:g} points ({sc.percent:.1f} %)."]
    if sc.charged:
        lines += ["", f"{', '.join(f'`{k}`' for k in sc.charged)} carried forward a mistake "
                  "made in a quantity the homework does not ask for, and count as wrong: that "
                  "is where the mistake first reaches a step that earns points."]
    return text + "\n".join(lines) + "\n"
