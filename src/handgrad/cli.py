"""The handgrad command: parse, call the API, hand the result to a renderer. Nothing else."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from handgrad.atomic import atomic_write
from handgrad.errors import HandgradError

# click rather than typer: typer imports pydantic and its own adapters at start-up, which cost
# 0.15 s of the 0.5 s that `handgrad solve` may take on a 2-core machine (measured).

PROBLEM_ARGUMENT = click.argument(
    "problem", required=False, type=click.Path(path_type=Path, dir_okay=True)
)
OUTPUT_OPTION = click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Write to this file instead of stdout."
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="handgrad")
def app() -> None:
    """handgrad: backpropagation worked by hand and checked by machine.

    solve, check, derive, report and graph take a problem file (TOML or JSON) and, without
    one, use the seed homework; grade and generate serve students and instructors; train and
    predict work on real data; serve opens the playground in a browser.
    """


def write_output(text: str | bytes, output: Path | None, protect: Path | None = None) -> None:
    """Print `text`, or write it to `output` atomically (a crash never leaves half a file)."""
    if isinstance(text, str) and not text.endswith("\n"):
        text += "\n"
    if output is None:
        if isinstance(text, bytes):
            raise HandgradError("--format pdf writes a binary file: give --output FILE.pdf")
        sys.stdout.write(text)
        return
    target = output.expanduser()
    if target.is_dir():
        raise HandgradError(f"--output {output}: is a folder; give a file name")
    if not target.parent.is_dir():
        raise HandgradError(f"--output {output}: the folder {target.parent} does not exist")
    if protect is not None and target.exists() and target.resolve() == protect.resolve():
        raise HandgradError(f"--output {output}: would overwrite the problem file itself")
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    try:
        atomic_write(target, lambda stream: stream.write(data))
    except OSError as error:
        raise HandgradError(f"--output {output}: cannot write ({error.strerror})") from None


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


@app.command()
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
def solve(
    problem: Path | None,
    output_format: str,
    fragment: bool,
    output: Path | None,
    digits: int,
    exact: bool,
    model: Path | None,
    instance: int | None,
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

        solution = solve_problem(instance_problem(load_model(model), instance), precision)
    elif instance is not None:
        raise HandgradError("--instance applies to a trained --model")
    else:
        solution = solve_problem(load_problem(problem), precision)
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


@app.command()
@PROBLEM_ARGUMENT
@format_option(["terminal", "json"], "terminal", "How to show the report.")
@OUTPUT_OPTION
def check(problem: Path | None, output_format: str, output: Path | None) -> None:
    """Check every gradient against finite differences, PyTorch and JAX (when installed).

    Exits with status 1 if any check disagrees beyond its tolerance.
    """
    from handgrad.render.check import report_text
    from handgrad.verify import check_problem

    report = check_problem(problem)
    if output_format == "json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
        write_output(text, output, problem)
    else:
        write_output(report_text(report), output, problem)
    if not report.passed:
        sys.exit(1)


@app.command()
@PROBLEM_ARGUMENT
@format_option(ALL_FORMATS, "terminal", "How to show the derivation (pdf needs --output).")
@click.option("--fragment", is_flag=True, help="With --format latex: only the body.")
@OUTPUT_OPTION
def derive(problem: Path | None, output_format: str, fragment: bool, output: Path | None) -> None:
    """Derive every gradient step by step (Problem 1), each step verified with sympy."""
    from handgrad.derive.steps import derive as derive_problem
    from handgrad.render import derivation as render

    result = derive_problem(problem)
    if output_format == "terminal":
        write_output(render.render_derivation_text(result), output, problem)
    elif output_format == "json":
        write_output(render.render_derivation_json(result), output, problem)
    else:
        title = f"handgrad: {result.problem.name}"
        blocks = render.derivation_blocks(result)
        write_document(blocks, output_format, output, problem, title, fragment)


@app.command()
@PROBLEM_ARGUMENT
@format_option(["markdown", "latex", "html", "pdf"], "html", "The format (pdf needs --output).")
@OUTPUT_OPTION
def report(problem: Path | None, output_format: str, output: Path | None) -> None:
    """The whole homework answer: derivation, schematic, worked numbers, verification."""
    from handgrad.render.report import report_blocks, report_solution

    derivation, solution = report_solution(problem)
    title = f"handgrad: {solution.problem.name}"
    write_document(report_blocks(derivation, solution), output_format, output, problem, title)


@app.command()
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
def graph(problem: Path | None, output: Path, digits: int) -> None:
    """Draw the backprop schematic: forward values and backward gradients (graphviz)."""
    from handgrad.problem import load_problem
    from handgrad.render.graph import write_graph
    from handgrad.solver import solve as solve_problem

    if problem is not None and output.exists() and output.resolve() == problem.resolve():
        raise HandgradError(f"-o {output}: would overwrite the problem file itself")
    if not output.parent.is_dir():
        raise HandgradError(f"-o {output}: the folder {output.parent} does not exist")
    written = write_graph(solve_problem(load_problem(problem)), output, digits)
    sys.stderr.write(f"wrote {written}\n")


@app.command()
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
    from handgrad.grade import Tolerance
    from handgrad.grade import grade as grade_answer
    from handgrad.problem import load_problem
    from handgrad.render import grade as render

    report = grade_answer(load_problem(problem), answer, Tolerance(rtol, decimals))
    if output_format == "json":
        write_output(render.render_grade_json(report), output, problem)
    elif output_format == "markdown":
        write_output(render.render_grade_markdown(report), output, problem)
    else:
        write_output(render.render_grade_text(report), output, problem)


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("..")
    try:
        return int(low), int(high)
    except ValueError:
        raise HandgradError(f"--range {text}: write it as LOW..HIGH, e.g. -5..5") from None


@app.command()
@click.option("--count", "-k", type=click.IntRange(1, 500), default=1, show_default=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--layers", default="2,3,3", show_default=True, help="d,n1,...,q")
@click.option("--range", "value_range", default="-5..5", show_default=True,
              help="Parameters and inputs are drawn from LOW..HIGH.")
@click.option("--decimals", type=click.IntRange(0, 1), default=0, show_default=True,
              help="0: integers; 1: one decimal.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("generated"),
              show_default=True, help="The folder to write into.")
@format_option(["markdown", "latex", "json"], "markdown",
               "The rendered worked solutions, exam sheet and answer key (json: none).")
def generate(count: int, seed: int, layers: str, value_range: str, decimals: int, out: Path,
             output_format: str) -> None:
    """Generate K fresh problems with answer keys, an exam sheet and its answer key.

    Every problem is well posed for hand calculation (checked, or drawn again); the same seed
    gives byte-identical files.
    """
    from handgrad.cli_train import parse_layers
    from handgrad.generate import GenerateSettings, write_set
    from handgrad.generate import generate as generate_problems

    sizes = parse_layers(layers)
    if sizes is None or any(n is None for n in sizes):
        raise HandgradError("--layers: give every size, e.g. 2,3,3")
    low, high = _range(value_range)
    settings = GenerateSettings(count, seed, tuple(int(n) for n in sizes if n is not None),
                                low, high, decimals)
    if out.exists() and not out.is_dir():
        raise HandgradError(f"--out {out}: is a file; give a folder")
    written = write_set(generate_problems(settings), out, output_format)
    sys.stderr.write(f"wrote {len(written)} files to {out}/\n")


@app.command()
@PROBLEM_ARGUMENT
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback opens it to the network.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
def serve(problem: Path | None, port: int, host: str, open_browser: bool) -> None:
    """The playground: watch, edit and step backprop in the browser (a local server)."""
    try:
        import uvicorn

        from handgrad.serve.api import create_app, encode_state
    except ModuleNotFoundError as missing:
        raise HandgradError(
            f"the playground needs {missing.name}: pip install 'handgrad[serve]'"
        ) from None
    from handgrad.problem import load_problem, read_document

    start = None
    if problem is not None:
        load_problem(problem)  # the same clear errors as every command, before starting
        start = read_document(problem)
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(
            f"handgrad: warning: listening on {host}: anyone who can reach this machine can use"
            " the playground\n"
        )
    address = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    sys.stderr.write(f"handgrad playground on {address}  (Ctrl-C stops it)\n")
    if open_browser:
        import threading
        import webbrowser

        link = address + ("#p=" + encode_state(start) if start else "")
        threading.Timer(1.0, webbrowser.open, (link,)).start()
    try:
        uvicorn.run(create_app(start), host=host, port=port, log_level="warning")
    except OSError as error:
        raise HandgradError(f"cannot listen on {host}:{port} ({error.strerror})") from None


from handgrad import cli_train  # noqa: E402, F401  (registers train and predict)


def main() -> None:
    """Entry point: user errors become one clear message and exit status 2, never a traceback."""
    try:
        app(prog_name="handgrad")
    except HandgradError as error:
        sys.stderr.write(f"handgrad: error: {error}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("handgrad: interrupted\n")
        sys.exit(130)
