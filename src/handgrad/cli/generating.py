"""generate and examples: problems for instructors, and the shipped examples."""

from __future__ import annotations

import math
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


def _names(text: str | None, option: str) -> tuple[str, ...]:
    """'relu, tanh' → ('relu', 'tanh'): the choices one is drawn from per variant, once each."""
    if text is None:
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    if "" in names:
        raise HandgradError(f"{option} {text}: an empty choice; separate names by single commas")
    return names


def _numbers(text: str | None, option: str) -> tuple[float, ...]:
    """'0.1,0.2' → (0.1, 0.2), with an error naming the option and the bad entry."""
    if text is None:
        return ()
    numbers = []
    for part in (p.strip() for p in text.split(",")):
        try:
            number = float(part)
        except ValueError:
            number = float("nan")
        if not math.isfinite(number):
            raise HandgradError(f"{option} {text}: {part!r} is not a number; give numbers"
                                " separated by commas, e.g. 0.1,0.2")
        numbers.append(number)
    return tuple(dict.fromkeys(numbers))


@click.command()
@click.option("--count", "-k", type=click.IntRange(1, 500), default=None,
              help="How many problems.  [default: 1; with --roster, one per student]")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False),
              help="A class roster: a CSV file with a column id (name and email optional). Each"
              " student gets a variant of their own, drawn from the seed and their id, with an"
              " exam sheet exam-<id>.md; the class's answer key and a copy of the roster join"
              " them in --out.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="The same seed gives the same files; change it for each new class.")
@click.option("--layers", default="2,3,3", show_default=True, help="d,n1,...,q")
@click.option("--range", "value_range", default="-5..5", show_default=True,
              help="Parameters and inputs are drawn from LOW..HIGH.")
@click.option("--decimals", type=click.IntRange(0, 1), default=0, show_default=True,
              help="0: integers; 1: one decimal.")
@click.option("--activation", default="relu", show_default=True,
              help="The hidden layers' activation: relu, leaky_relu, sigmoid, tanh or identity;"
              " several, separated by commas, draw one per variant.")
@click.option("--output", "output_function", default="softmax", show_default=True,
              help="The output function: softmax, sigmoid or identity (several: one per"
              " variant).")
@click.option("--loss", default=None,
              help="cross_entropy (softmax output only) or squared_error (several: one per"
              " variant).  [default: cross_entropy for a softmax output, else squared_error]")
@click.option("--smoothing", default=None,
              help="Label smoothing of cross-entropy: uniform, yˢ = (1 − ε)y + ε/q, or others,"
              " 1 − ε to the true class and ε/(q − 1) to each other (several: one per"
              " variant).  [default: uniform]")
@click.option("--epsilon", default=None,
              help="ε of label smoothing, 0 for none; several, separated by commas, draw one per"
              " variant.  [default: 0.1,0.2,0.3]")
@click.option("--learning-rate", default=None,
              help="η; several, separated by commas, draw one per variant.  [default: 0.1,0.5,1;"
              " 0.01,0.02,0.05 for an identity output]")
@click.option("--layout", default="in_out", show_default=True,
              help="in_out: h = Wᵀx + b, W1 is d × n (the course's); out_in: h = Wx + b, W1 is"
              " n × d (PyTorch's); several: one per variant.")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Instances per problem: 1 is one input x, as the homework; B up to 8 gives"
              " the B rows of X, the loss averaged over them.")
@click.option("--steps", type=click.IntRange(1), default=1, show_default=True,
              help="Gradient-descent steps (up to 20); the worked step is the first.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("generated"),
              show_default=True, help="The folder to write into.")
@click.option("--force", is_flag=True,
              help="With --roster: replace the files an earlier generate wrote in --out (a"
              " folder holding any other file is refused, never emptied).")
@format_option(["markdown", "latex", "pdf", "json"], "markdown",
               "The rendered worked solutions, exam sheets and answer key (json: none). With"
               " --roster every exam sheet is written as Markdown too.")
def generate(count: int | None, roster: Path | None, seed: int, layers: str, value_range: str,
             decimals: int, activation: str, output_function: str, loss: str | None,
             smoothing: str | None, epsilon: str | None, learning_rate: str | None,
             layout: str, batch: int, steps: int, out: Path, force: bool,
             output_format: str) -> None:
    """Generate K fresh problems with answer keys, an exam sheet and its answer key, or with
    --roster a variant, a key and an exam sheet for each student of a class.

    Every problem is well posed for hand calculation (checked, or drawn again); the same seed
    gives byte-identical files. With --roster the files are problem-<id>.toml,
    answer-<id>.json (the key), exam-<id>.md (and .tex or .pdf), answer-key.md (and .tex or
    .pdf) and roster.csv, written all together or not at all.
    """
    from handgrad.generate import EPSILONS, GenerateSettings, write_set
    from handgrad.generate import generate as generate_problems

    sizes = parse_layers(layers)
    if sizes is None or any(n is None for n in sizes):
        raise HandgradError("--layers: give every size, e.g. 2,3,3")
    low, high = _range(value_range)
    if roster is not None and count is not None:
        raise HandgradError("--count: with --roster the class gives the count (one variant per"
                            " student); leave --count out")
    if roster is None and force:
        raise HandgradError("--force: applies only with --roster")
    settings = GenerateSettings(
        count or 1, seed, tuple(int(n) for n in sizes if n is not None), low, high, decimals,
        epsilons=_numbers(epsilon, "--epsilon") or EPSILONS,
        learning_rates=_numbers(learning_rate, "--learning-rate"),
        activations=_names(activation, "--activation"),
        outputs=_names(output_function, "--output"),
        losses=_names(loss, "--loss"),
        smoothings=_names(smoothing, "--smoothing") or ("uniform",),
        layouts=_names(layout, "--layout"),
        batch=batch,
        steps=steps,
    )
    settings.check()
    if epsilon is not None and not settings.cross_entropy:
        raise HandgradError("--epsilon: label smoothing applies only to --loss cross_entropy")
    if out.exists() and not out.is_dir():
        raise HandgradError(f"--out {out}: is a file; give a folder")
    if roster is not None:
        from handgrad.generate import check_out, generate_class, write_class
        from handgrad.roster import read_roster

        students = read_roster(roster)
        check_out(out, force)  # before the drawing: a refusal costs nothing
        written = write_class(generate_class(students, settings), students, out, output_format,
                              force)
        sys.stderr.write(f"wrote {len(written)} files for {len(students)} students to {out}/\n")
        return
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
