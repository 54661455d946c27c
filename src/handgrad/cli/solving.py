"""solve, check, derive, report and graph: a problem worked, checked, derived and drawn."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from handgrad.cli.common import (
    ALL_FORMATS,
    DERIVE_FORCE_OPTION,
    FORCE_OPTION,
    OUTPUT_OPTION,
    PROBLEM_ARGUMENT,
    format_option,
    within_limits,
    write_document,
    write_output,
)
from handgrad.errors import HandgradError


@click.command()
@PROBLEM_ARGUMENT
@format_option(ALL_FORMATS, "terminal", "How to show the solution (pdf needs --output).")
@click.option(
    "--fragment",
    is_flag=True,
    help="With --format latex: only the body, to paste into your own document.",
)
@OUTPUT_OPTION
@click.option(
    "--digits",
    default=6,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Significant digits shown; above 17 every number is computed with mpmath at N digits"
    " (and JSON carries N-digit strings). Otherwise JSON always has full float64 precision.",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Closed forms (sympy): decimals in the problem are read as exact rationals.",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="A trained model.npz: work its gradient step on one example (with --instance).",
)
@click.option(
    "--instance",
    type=click.IntRange(0),
    help="With --model: the row (0-based) of the model's training data set.",
)
@FORCE_OPTION
def solve(
    problem: Path | None,
    output_format: str,
    fragment: bool,
    output: Path | None,
    digits: int,
    exact: bool,
    model: Path | None,
    instance: int | None,
    force: bool,
) -> None:
    """Work gradient-descent steps: every intermediate with its formula, shape and value."""
    from handgrad.precision import Precision
    from handgrad.problem import load_problem
    from handgrad.solver import solve as solve_problem

    precision = Precision.choose(exact, digits)
    if model is not None:
        if problem is not None:
            raise HandgradError("give a problem file or --model, not both")
        if instance is None:
            raise HandgradError("--model needs --instance N: the data set row to work on")
        from handgrad.train.explain import instance_problem
        from handgrad.train.model import load_model

        worked = instance_problem(load_model(model), instance)
        solution = solve_problem(within_limits(worked, precision, force), precision)
    elif instance is not None:
        raise HandgradError("--instance applies to a trained --model")
    else:
        solution = solve_problem(within_limits(load_problem(problem), precision, force), precision)
    if output_format == "json":
        write_output(solution.to_json(), output, problem)
    elif output_format in ("markdown", "latex", "pdf", "html"):
        from handgrad.render.document import solution_document

        blocks = solution_document(solution, digits)
        title = f"handgrad: {solution.problem.name}"
        write_document(blocks, output_format, output, problem, title, fragment)
    elif output is not None:
        from handgrad.render.terminal import render_text

        write_output(render_text(solution, digits), output, problem)
    else:
        from rich.console import Console

        from handgrad.render.terminal import solution_renderable

        console = Console()
        width = min(console.width, 100) if console.is_terminal else 100
        console = Console(width=width)
        console.print(solution_renderable(solution, digits, width))


@click.command()
@PROBLEM_ARGUMENT
@format_option(["terminal", "json"], "terminal", "How to show the report.")
@OUTPUT_OPTION
@FORCE_OPTION
def check(problem: Path | None, output_format: str, output: Path | None, force: bool) -> None:
    """Check every gradient against finite differences, PyTorch and JAX (when installed).

    Exits with status 1 if any check disagrees beyond its tolerance.
    """
    from handgrad.precision import Precision
    from handgrad.problem import load_problem
    from handgrad.render.check import report_text
    from handgrad.solver import check_problem

    report = check_problem(within_limits(load_problem(problem), Precision(), force))
    if output_format == "json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
        write_output(text, output, problem)
    else:
        write_output(report_text(report), output, problem)
    if not report.passed:
        sys.exit(1)


@click.command()
@PROBLEM_ARGUMENT
@format_option(ALL_FORMATS, "terminal", "How to show the derivation (pdf needs --output).")
@click.option("--fragment", is_flag=True, help="With --format latex: only the body.")
@OUTPUT_OPTION
@DERIVE_FORCE_OPTION
def derive(
    problem: Path | None, output_format: str, fragment: bool, output: Path | None, force: bool
) -> None:
    """Derive every gradient step by step (Problem 1), each step verified with sympy."""
    from handgrad.derive.steps import derive as derive_problem
    from handgrad.render import derivation as render

    result = derive_problem(derivable(problem, force))
    if output_format == "terminal":
        write_output(render.render_derivation_text(result), output, problem)
    elif output_format == "json":
        write_output(render.render_derivation_json(result), output, problem)
    else:
        title = f"handgrad: {result.problem.name}"
        blocks = render.derivation_blocks(result)
        write_document(blocks, output_format, output, problem, title, fragment)


@click.command()
@PROBLEM_ARGUMENT
@format_option(["markdown", "latex", "html", "pdf"], "html", "The format (pdf needs --output).")
@OUTPUT_OPTION
@DERIVE_FORCE_OPTION
def report(problem: Path | None, output_format: str, output: Path | None, force: bool) -> None:
    """The whole homework answer: derivation, schematic, worked numbers, verification."""
    from handgrad.derive.answer import report_solution
    from handgrad.render.report import report_blocks

    derivation, solution = report_solution(derivable(problem, force))
    title = f"handgrad: {solution.problem.name}"
    write_document(report_blocks(derivation, solution), output_format, output, problem, title)


def derivable(problem: Path | None, force: bool) -> Any:
    """The problem, unless its derivation would take minutes and --force was not given."""
    from handgrad.limits import derive_limit
    from handgrad.problem import load_problem

    loaded = load_problem(problem)
    reason = None if force else derive_limit(loaded)
    if reason is not None:
        raise HandgradError(f"{loaded.source}: {reason} (--force to go on anyway)")
    return loaded


@click.command()
@PROBLEM_ARGUMENT
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="FILE.svg, FILE.png or FILE.dot.",
)
@click.option(
    "--digits",
    default=3,
    show_default=True,
    type=click.IntRange(1, 17),
    help="Significant digits in the node labels.",
)
@FORCE_OPTION
def graph(problem: Path | None, output: Path, digits: int, force: bool) -> None:
    """Draw the backprop schematic: forward values and backward gradients (graphviz)."""
    from handgrad.precision import Precision
    from handgrad.problem import load_problem
    from handgrad.render.graph import write_graph
    from handgrad.solver import solve as solve_problem

    if problem is not None and output.exists() and output.resolve() == problem.resolve():
        raise HandgradError(f"-o {output}: would overwrite the problem file itself")
    if not output.parent.is_dir():
        raise HandgradError(f"-o {output}: the folder {output.parent} does not exist")
    worked = within_limits(load_problem(problem), Precision(), force)
    written = write_graph(solve_problem(worked), output, digits)
    sys.stderr.write(f"wrote {written}\n")
