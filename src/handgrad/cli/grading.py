"""handgrad grade: a student's answer graded step by step, or a class's folder into a grade
sheet; handgrad template: a blank answer sheet to fill in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import click

from handgrad.cli.common import (
    OUTPUT_OPTION,
    Protected,
    format_option,
    write_output,
)
from handgrad.errors import HandgradError


class DecimalsType(click.ParamType):
    """--decimals: `auto`, or a number of decimals K from 0 to 15."""

    name = "auto|K"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int | Literal["auto"]:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if text.isdigit() and 0 <= int(text) <= 15:
            return int(text)
        self.fail(f"{value!r}: give auto, or a number of decimals from 0 to 15", param, ctx)


@click.command()
@click.argument("problem", type=click.Path(path_type=Path))
@click.argument("answer", type=click.Path(path_type=Path))
@format_option(["terminal", "markdown", "json"], "terminal",
               "How to show the grade (for a folder: the class's summary).")
@click.option("--rtol", type=click.FloatRange(0, 1, min_open=True), default=1e-3,
              show_default=True, help="Relative tolerance for each entry.")
@click.option("--decimals", type=DecimalsType(), default="auto", show_default=True,
              help="auto: each value is taken as rounded to the decimals it shows, and that "
              "rounding is carried through the formulas; K: every value is rounded to K "
              "decimals (±½ in the K-th decimal, carried through).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path),
              help="A folder of answers: write the grade sheet (one row per answer) here.")
@click.option("--rubric", type=click.Path(path_type=Path),
              help="Points per quantity, the credit for a carried-forward step and the "
              "required quantities (TOML); default: 1 point for each quantity asked, full "
              "credit carried forward.")
@click.option("--syntax", type=click.Choice(["numpy", "latex"]), default=None,
              help="How Problem 1's formulas ([derivation]) are written; default: each "
              "formula's own (a backslash, ^ or a brace means LaTeX).")
@click.option("--feedback", type=click.Path(path_type=Path, file_okay=False),
              help="A folder of answers: write each student's report to FOLDER/<id>.md.")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False),
              help="A roster CSV (id, name) for the names, when PROBLEM is one file.")
@OUTPUT_OPTION
def grade(problem: Path, answer: Path, output_format: str, rtol: float,
          decimals: int | Literal["auto"],
          csv_path: Path | None, rubric: Path | None, syntax: Any,
          feedback: Path | None, roster: Path | None, output: Path | None) -> None:
    """Grade a student's ANSWER (TOML/JSON, the solver's names) step by step, or every answer
    in the folder ANSWER (<id>.toml or <id>.json, directly in it) into a grade sheet (--csv).

    Each quantity is correct, carried forward (wrong, but what the student's own earlier values
    give), wrong (with the likely cause) or missing. Problem 1's formulas, under [derivation]
    (dW1 = "outer(x, dh1)", NumPy-like or LaTeX), are graded for every size. PROBLEM is a problem
    file or a shipped
    example's name that everyone had, or the folder `handgrad generate --roster` wrote (each
    student's own problem-<id>.toml).
    """
    from handgrad.grade import Tolerance

    tolerance = Tolerance(rtol, decimals)
    inputs = _inputs(problem, answer, rubric, roster)
    if answer.is_dir():
        if syntax is not None:  # the class grade sheet detects each formula's syntax
            raise HandgradError("--syntax is for one answer file; in a folder each formula's "
                                "syntax is detected (a backslash, ^ or a brace means LaTeX)")
        _grade_folder(problem, answer, output_format, tolerance, csv_path, rubric, feedback,
                      roster, output, inputs)
        return
    for flag, value in (("--csv", csv_path), ("--feedback", feedback), ("--roster", roster)):
        if value is not None:
            raise HandgradError(f"{flag} is for a folder of answers; {answer} is one file")
    inputs.check(output)
    _grade_one(problem, answer, output_format, tolerance, rubric, output, inputs, syntax)


def _inputs(problem: Path, answer: Path, rubric: Path | None,
            roster: Path | None) -> Protected:
    """Every file the grade reads, which no output (-o, --csv, --feedback) may replace: the
    problem file, or everything inside the folder of problems (problems, keys, roster, exam
    sheets); the rubric; the roster; the answer file, or every answer file of the folder."""
    from handgrad.grading.classgrade import answer_files

    inputs = Protected()
    if problem.is_dir():
        inputs.folder(problem, "the folder of problems (the class's problems, keys, roster and "
                      "exam sheets)")
    else:
        inputs.file(problem, "the problem file")
    inputs.file(rubric, "the rubric").file(roster, "the roster")
    if answer.is_dir():
        for paths in answer_files(answer)[0].values():
            for path in paths:
                inputs.file(path, "one of the answers")
    else:
        inputs.file(answer, "the answer file")
    return inputs


def _grade_one(problem: Path, answer: Path, output_format: str, tolerance: Any,
               rubric: Path | None, output: Path | None, inputs: Protected,
               syntax: Any = None) -> None:
    """The single-file grade, as it always was; with --rubric, the score after it. Problem 1's
    formulas count as the quantities do (1 point each for dW and db by default)."""
    import json

    from handgrad.grade import grade_file
    from handgrad.grade.derivation import derivation_names
    from handgrad.grading.classgrade import Problems
    from handgrad.grading.rubric import load_rubric, score
    from handgrad.render import grade as render

    problems = Problems(problem)
    if not problems.has(answer.stem):
        raise HandgradError(f"{answer}: no problem-{answer.stem}.toml in {problem}: the answer "
                            "file's name is the student's id")
    loaded, solution = problems.solved(answer.stem)
    report = grade_file(loaded, answer, tolerance, solution, syntax)
    scored = None
    if rubric is not None:
        chosen = load_rubric(rubric)
        chosen.check_names([*(f"{q.section}.{q.key}" for q in solution.quantities),
                            *(f"derivation.{name}" for name in derivation_names(loaded))])
        scored = score(report, chosen)
    if output_format == "json":
        data = report.to_dict()
        if scored is not None:
            data["score"] = {"points": scored.points, "max_points": scored.max_points,
                             "percent": scored.percent}
        write_output(json.dumps(data, indent=2, ensure_ascii=False), output, inputs)
        return
    text = (render.render_grade_markdown(report) if output_format == "markdown"
            else render.render_grade_text(report))
    if scored is not None:
        text += (f"\nScore: {scored.points:g} of {scored.max_points:g} points"
                 f" ({scored.percent:.1f} %).\n")
    write_output(text, output, inputs)


def _grade_folder(problem: Path, answers: Path, output_format: str, tolerance: Any,
                  csv_path: Path | None, rubric: Path | None, feedback: Path | None,
                  roster: Path | None, output: Path | None, inputs: Protected) -> None:
    """Every answer of the folder: the grade sheet, each student's feedback, the summary.
    Nothing is written before every output is known to replace no input and no other one."""
    from handgrad.atomic import WriteError, write_file
    from handgrad.grading.classgrade import grade_class
    from handgrad.grading.rubric import load_rubric
    from handgrad.render import classgrade as render

    inputs.check(csv_path, "--csv")
    inputs.check(output)
    chosen = load_rubric(rubric) if rubric is not None else None
    grades = grade_class(problem, answers, chosen, tolerance, roster)
    if feedback is not None:
        for student in grades.students:
            inputs.check(feedback / student.feedback_name, "--feedback")
    if csv_path is not None:
        try:  # atomic: a grade sheet is all there or as it was, never half written
            write_file(csv_path, grades.csv_text())
        except WriteError as error:
            raise HandgradError(f"--csv {csv_path}: {error.reason}") from None
    if feedback is not None:
        try:
            feedback.mkdir(exist_ok=True)
        except OSError as error:
            raise HandgradError(f"--feedback {feedback}: cannot make the folder "
                                f"({error.strerror})") from None
        for student in grades.students:
            try:
                write_file(feedback / student.feedback_name, render.feedback_markdown(student))
            except WriteError as error:
                raise HandgradError(f"--feedback {feedback}: {error}") from None
    if output_format == "json":
        text = render.render_class_json(grades)
    elif output_format == "markdown":
        text = render.render_class_markdown(grades)
    else:
        text = render.render_class_text(grades)
    write_output(text, output, inputs)
    done = [f"graded {grades.summary.graded} of {len(grades.students)} answers"]
    if csv_path is not None:
        done.append(f"grade sheet: {csv_path}")
    if feedback is not None:
        done.append(f"feedback: {feedback}/<id>.md")
    sys.stderr.write("; ".join(done) + "\n")


@click.command()
@click.argument("problem", type=click.Path(path_type=Path))
@format_option(["toml", "json"], "toml", "TOML (with each formula in a comment) or JSON.")
@OUTPUT_OPTION
def template(problem: Path, output_format: str, output: Path | None) -> None:
    """An answer sheet for PROBLEM to fill in: every quantity the homework asks for, blank
    ("" in the quantity's shape), under its section and name, with its formula.

    `handgrad grade PROBLEM SHEET` reads it back; a quantity left blank is missing.
    """
    from handgrad.grading.template import template_json, template_toml
    from handgrad.problem import load_problem
    from handgrad.solver import solve

    if problem.is_dir():
        raise HandgradError(f"{problem}: a folder; give one student's problem file "
                            f"({problem}/problem-<id>.toml) or a shipped example's name")
    solution = solve(load_problem(problem))
    text = (template_json(solution) if output_format == "json"
            else template_toml(solution, str(problem)))
    write_output(text, output, problem)
