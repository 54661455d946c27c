"""What every command shares: its options, writing the output, documents, layer sizes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from handgrad.atomic import WriteError, write_file
from handgrad.errors import HandgradError

PROBLEM_ARGUMENT = click.argument(
    "problem", required=False, type=click.Path(path_type=Path, dir_okay=True)
)
OUTPUT_OPTION = click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Write to this file instead of stdout."
)
FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="Go past the size limits (more than 100,000 parameters or 200,000 values to show;"
    " --exact through sigmoid/tanh beyond 1 step or 1 hidden layer): they exist because such"
    " work takes minutes and prints more than anyone reads.",
)
DERIVE_FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="Derive past the limits (more than 2 weight layers, 1 for a batch through a softmax or"
    " sigmoid output, or more than 8 units a layer): the sympy check then takes minutes.",
)
ALL_FORMATS = ["terminal", "markdown", "latex", "pdf", "html", "json"]


def format_option(choices: list[str], default: str, text: str) -> Any:
    """The --format/-f option every command takes, with its own choices."""
    return click.option(
        "--format",
        "-f",
        "output_format",
        default=default,
        show_default=True,
        type=click.Choice(choices),
        help=text,
    )


def write_output(
    text: str | bytes, output: Path | None, protect: Path | None = None, option: str = "--output"
) -> None:
    """Print `text`, or write it to `output` atomically (a crash never leaves half a file)."""
    if isinstance(text, str) and not text.endswith("\n"):
        text += "\n"
    if output is None:
        if isinstance(text, bytes):
            raise HandgradError("--format pdf writes a binary file: give --output FILE.pdf")
        sys.stdout.write(text)
        return
    target = output.expanduser()
    if protect is not None and target.exists() and target.resolve() == protect.resolve():
        raise HandgradError(f"{option} {output}: would overwrite the problem file itself")
    try:
        write_file(target, text)
    except WriteError as error:
        raise HandgradError(f"{option} {output}: {error.reason}") from None


def write_document(
    blocks: list[Any],
    output_format: str,
    output: Path | None,
    problem: Path | None,
    title: str,
    fragment: bool = False,
) -> None:
    """Write document blocks as Markdown, LaTeX (whole or a fragment), PDF or HTML."""
    if output_format == "markdown":
        from handgrad.render.markdown import write_markdown

        write_output(write_markdown(blocks), output, problem)
    elif output_format == "html":
        from handgrad.render.html import write_html

        write_output(write_html(blocks, title), output, problem)
    else:
        from handgrad.render.document import Figure
        from handgrad.render.latex import compile_pdf, write_latex

        latex = write_latex(blocks, fragment and output_format == "latex")
        if output_format == "latex":
            write_output(latex, output, problem)
        else:
            files = {b.name: b.png for b in blocks if isinstance(b, Figure)}
            write_output(compile_pdf(latex, files), output, problem)


def within_limits(problem: Any, precision: Any, force: bool) -> Any:
    """The problem, unless it is over the size limits and --force was not given."""
    from handgrad.limits import solve_limit

    reason = None if force else solve_limit(problem, precision)
    if reason is not None:
        raise HandgradError(f"{problem.source}: {reason}")
    return problem


def parse_layers(text: str | None) -> list[int | None] | None:
    """'4,16,3' → [4, 16, 3]; '...,32,...' → [None, 32, None] (input and output from the data)."""
    if text is None:
        return None
    sizes: list[int | None] = []
    for index, part in enumerate(p.strip() for p in text.split(",")):
        if part == "..." and index in (0, len(text.split(",")) - 1):
            sizes.append(None)
            continue
        if not part.isdigit() or int(part) < 1:
            raise HandgradError(
                f"--layers {text}: {part!r} is not a layer size; give positive integers"
                " separated by commas, with ... for the input or output size from the data"
            )
        sizes.append(int(part))
    if len(sizes) < 2:
        raise HandgradError(f"--layers {text}: give at least the input and output sizes")
    return sizes
