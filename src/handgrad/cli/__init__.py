"""The handgrad command: parse, call the API, hand the result to a renderer. Nothing else.

One module per family of commands (solving, grading, generating, training, serving); this one
gathers them into the `handgrad` group and turns user errors into one line and exit status 2.
"""

from __future__ import annotations

import sys

import click

from handgrad.cli import exporting, generating, grading, serving, solving, training
from handgrad.errors import HandgradError
from handgrad.text import shown_message

# click rather than typer: typer imports pydantic and its own adapters at start-up, which cost
# 0.15 s of the 0.5 s that `handgrad solve` may take on a 2-core machine (measured).


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="handgrad")
def app() -> None:
    """handgrad: backpropagation worked by hand and checked by machine.

    solve, check, derive, report and graph take a problem file (TOML or JSON) or the name of a
    shipped example (see `handgrad examples`) and, without one, use the seed homework; grade
    and generate serve students and instructors; train and predict work on real data; serve
    opens the playground in a browser.
    """


for command in (
    solving.solve,
    solving.check,
    solving.derive,
    solving.report,
    solving.graph,
    grading.grade,
    grading.template,
    generating.generate,
    generating.examples,
    exporting.export,
    training.train,
    training.predict,
    serving.serve,
):
    app.add_command(command)


def main() -> None:
    """Entry point: user errors become one clear message and exit status 2, never a traceback."""
    try:
        app(prog_name="handgrad")
    except HandgradError as error:
        sys.stderr.write(f"handgrad: error: {shown_message(str(error))}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("handgrad: interrupted\n")
        sys.exit(130)
