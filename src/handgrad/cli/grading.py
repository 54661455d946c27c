"""handgrad grade: a student's answer graded step by step."""

from __future__ import annotations

from pathlib import Path

import click

from handgrad.cli.common import (
    OUTPUT_OPTION,
    format_option,
    write_output,
)


@click.command()
@click.argument("problem", type=click.Path(path_type=Path))
@click.argument("answer", type=click.Path(path_type=Path))
@format_option(["terminal", "markdown", "json"], "terminal", "How to show the grade.")
@click.option("--rtol", type=click.FloatRange(0, 1, min_open=True), default=1e-3,
              show_default=True, help="Relative tolerance for each entry.")
@click.option("--decimals", type=click.IntRange(0, 15),
              help="The answer is rounded to K decimals: accept ±½ in the K-th decimal.")
@OUTPUT_OPTION
def grade(problem: Path, answer: Path, output_format: str, rtol: float, decimals: int | None,
          output: Path | None) -> None:
    """Grade a student's ANSWER (TOML/JSON, the solver's names) step by step.

    Each quantity is correct, carried forward (wrong, but what the student's own earlier values
    give), wrong (with the likely cause) or missing.
    """
    from handgrad.grade import Tolerance, grade_file
    from handgrad.problem import load_problem
    from handgrad.render import grade as render

    report = grade_file(load_problem(problem), answer, Tolerance(rtol, decimals))
    if output_format == "json":
        write_output(render.render_grade_json(report), output, problem)
    elif output_format == "markdown":
        write_output(render.render_grade_markdown(report), output, problem)
    else:
        write_output(render.render_grade_text(report), output, problem)
