"""handgrad export: a problem or a generated set into a course platform's own format."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from handgrad.errors import HandgradError


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--to", "platform", required=True,
              type=click.Choice(["moodle", "canvas", "prairielearn", "gradescope"]),
              help="moodle: a Moodle XML quiz file; canvas: a QTI 1.2 zip; prairielearn: a course"
              " folder; gradescope: an autograder zip.")
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True,
              help="The file (moodle: .xml; canvas, gradescope: .zip) or folder (prairielearn).")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
def export(source: Path, platform: str, output: Path, force: bool) -> None:
    """Export SOURCE (a problem file, an example's name, or a folder `handgrad generate` wrote)
    to Moodle, Canvas, PrairieLearn or Gradescope, with every quantity the homework asks as a
    blank, the tolerance, and the worked solution as feedback."""
    import importlib

    from handgrad.export import load_variants

    if output.exists() and not force:
        raise HandgradError(f"-o {output}: already exists; --force to replace it")
    variants = load_variants(source)
    module = importlib.import_module(f"handgrad.export.{platform}")
    written = module.write(variants, output)
    if platform in ("canvas", "moodle") and len(variants) > 1:
        sys.stderr.write(
            f"handgrad: note: {platform} shows a quiz's questions to every student taking it:"
            " give each student their own variant (a quiz copy each, or a random question from"
            " the category), or export one problem for the class\n"
        )
    sys.stderr.write(f"wrote {written} ({len(variants)} variant{'s' * (len(variants) != 1)})\n")
