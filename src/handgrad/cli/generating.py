"""generate and examples: problems for instructors, and the shipped examples."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from handgrad.cli.common import (
    OUTPUT_OPTION,
    format_option,
    parse_layers,
    write_output,
)
from handgrad.errors import HandgradError


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("..")
    try:
        return int(low), int(high)
    except ValueError:
        raise HandgradError(f"--range {text}: write it as LOW..HIGH, e.g. -5..5") from None


@click.command()
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


@click.command()
@click.argument("name", required=False)
@OUTPUT_OPTION
def examples(name: str | None, output: Path | None) -> None:
    """List the shipped example problems, or print (or write with -o) the one called NAME.

    Wherever a problem file is expected, an example's name works too: `handgrad solve
    deep_batch`, `handgrad grade homework3 my_answer.toml`.
    """
    from handgrad.problem import example_names, example_path, load_problem

    if name is None:
        lines = []
        for example in example_names():
            problem = load_problem(example)
            lines.append(f"{example:<12} {problem.name}")
        write_output("\n".join(lines), output)
        return
    path = example_path(name)
    if path is None:
        from handgrad.errors import did_you_mean

        raise HandgradError(
            f"no shipped example is called {name!r} (there are {', '.join(example_names())})"
            + did_you_mean(name, example_names())
        )
    write_output(path.read_text(encoding="utf-8"), output)
