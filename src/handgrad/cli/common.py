"""What every command shares: its options, writing the output, documents, layer sizes."""

from __future__ import annotations

import os
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
    help="Go past the size limits (more than 100,000 parameters or 200,000 values to show):"
    " they exist because such work prints more than anyone reads.",
)
DERIVE_FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="Go past the measured limits (a derivation of more than 6 weight layers or 8 units a"
    " layer; a worked solution of more than 100,000 parameters).",
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


class Protected:
    """The files a command reads, which none of its outputs may replace, and its outputs, which
    may not replace each other: each input file (its path however spelled, a symbolic link to
    it, a hard link), everything inside an input folder (a class's problems, keys, roster and
    sheets), and an output named twice (--csv and --output the same file). Each path is looked
    up once: a class's 120 feedback files are checked against its 120 answers in no time."""

    def __init__(self) -> None:
        self._files: list[tuple[_Identity, str]] = []
        self._folders: list[tuple[Path, Path, str]] = []  # as given, resolved, what it is
        self._outputs: list[tuple[_Identity, str]] = []

    def file(self, path: Path | str | None, what: str) -> Protected:
        """Protect the file `path` (nothing when None, or when there is no such file)."""
        if path is not None:
            identity = _identity(Path(path).expanduser())
            if identity[1] is not None:
                self._files.append((identity, what))
        return self

    def folder(self, path: Path | str | None, what: str) -> Protected:
        """Protect everything inside the folder `path`, there already or not."""
        if path is not None:
            resolved = _identity(Path(path).expanduser())[0]
            if resolved is not None:
                self._folders.append((Path(path), resolved, what))
        return self

    def check(self, output: Path | None, option: str = "--output") -> None:
        """Refuse (HandgradError) an output that would replace an input or another output."""
        if output is None:
            return
        identity = _identity(output.expanduser())
        for known, what in self._files:
            if _same(identity, known):
                raise HandgradError(
                    f"{option} {output}: would overwrite {what}; write it to a file of its own"
                )
        resolved = identity[0]
        for folder, inside, what in self._folders:
            if resolved is not None and resolved.is_relative_to(inside):
                raise HandgradError(
                    f"{option} {output}: is inside {folder}, {what}; write it outside that folder"
                )
        for known, other in self._outputs:
            if other != option and _same(identity, known):
                raise HandgradError(
                    f"{option} {output}: is also the file of {other}; give each its own file"
                )
        self._outputs.append((identity, option))


_Identity = tuple[Path | None, tuple[int, int] | None]  # the resolved path; (device, inode)


def _identity(path: Path) -> _Identity:
    """What names a file whatever the spelling: its resolved path (symbolic links followed),
    and its device and inode when it exists (a hard link is the same file)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        return None, None
    try:
        status = os.stat(resolved)
    except (OSError, ValueError):
        return resolved, None
    return resolved, (status.st_dev, status.st_ino)


def _same(one: _Identity, other: _Identity) -> bool:
    return (one[0] is not None and one[0] == other[0]) or (
        one[1] is not None and one[1] == other[1]
    )


def write_output(
    text: str | bytes,
    output: Path | None,
    protect: Path | Protected | None = None,
    option: str = "--output",
) -> None:
    """Print `text`, or write it to `output` atomically (a crash never leaves half a file).

    `protect`: the problem file, or every input of the command (`Protected`), that `output`
    must not replace."""
    if isinstance(text, str) and not text.endswith("\n"):
        text += "\n"
    if output is None:
        if isinstance(text, bytes):
            raise HandgradError("--format pdf writes a binary file: give --output FILE.pdf")
        sys.stdout.write(text)
        return
    target = output.expanduser()
    if isinstance(protect, Path):
        protect = Protected().file(protect, "the problem file itself")
    if protect is not None:
        protect.check(output, option)
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
