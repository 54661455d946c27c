"""A grade report for people: every quantity's verdict, then the first wrong step in detail."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from handgrad.grade import GradeItem, GradeReport
from handgrad.render.terminal import matrix_text
from handgrad.text import shown

MARKS = {
    "correct": ("✓ correct", "green"),
    "carried_forward": ("↪ carried forward", "yellow"),
    "wrong": ("✗ wrong", "bold red"),
    "missing": ("· missing", "dim"),
}
NOT_ASKED_MARK = ("· not asked", "dim")


def _quantities(count: int) -> str:
    return f"{count} quantit{'y' if count == 1 else 'ies'}"


def _mark(item: GradeItem) -> tuple[str, str]:
    """The verdict as shown: a quantity the homework does not ask for is not missing."""
    if item.status == "missing" and not item.asked:
        return NOT_ASKED_MARK
    return MARKS[item.status]


def _summary_line(report: GradeReport) -> str:
    """Problem 2's verdicts in a line (the numbers; the formulas have `_formulas_line`)."""
    s = report.summary_of(report.numbers)
    graded = s["correct"] + s["carried_forward"] + s["wrong"]
    missing = len(_missing_numbers(report))
    unasked = s["missing"] - missing
    skipped = f", {unasked} not asked" if unasked else ""
    return (
        f"{s['correct']} correct, {s['carried_forward']} carried forward, {s['wrong']} wrong,"
        f" {missing} missing{skipped} ({graded} graded; {report.tolerance_text})"
    )


def _missing_numbers(report: GradeReport) -> list[GradeItem]:
    return [item for item in report.missing_asked if not item.is_formula]


def _missing_line(report: GradeReport) -> str:
    """What the homework asks for and the answer leaves out: missing work is missing, not
    right (an answer with 1 of 18 quantities has no wrong step, and is far from done)."""
    missing = _missing_numbers(report)
    if not missing:
        return ""
    names = ", ".join(item.key for item in missing)
    asked = sum(item.asked for item in report.numbers)
    return (f"Missing: {len(missing)} of the {_quantities(asked)} the homework asks for"
            f" ({names}).")


def _verdict_line(report: GradeReport) -> str:
    """The line under the table when no step is wrong."""
    s = report.summary_of(report.numbers)
    graded = s["correct"] + s["carried_forward"]
    if not graded:
        return "Nothing was graded."
    if _missing_numbers(report):
        return (f"No wrong step in the {_quantities(graded)} given; the answer is incomplete. "
                + _missing_line(report))
    return "No wrong step."


def _redo(item: GradeItem) -> str:
    inputs = ", ".join(item.inputs) if item.inputs else "the given values"
    return (
        f"Redo {item.section}.{item.name} from {inputs} with {item.formula}; the steps after it "
        "that used your value are graded against what your value gives (carried forward)."
    )


def _numbers_given(report: GradeReport) -> bool:
    """Whether the answer gives any of Problem 2's numbers (a derivation may come alone)."""
    return any(item.status != "missing" for item in report.numbers) or not report.formulas


def _formulas_line(report: GradeReport) -> str:
    """Problem 1's verdicts in a line."""
    s = report.summary_of(report.formulas)
    missing = sum(item.status == "missing" for item in report.formulas)
    given = len(report.formulas) - missing
    return (f"{s['correct']} correct, {s['carried_forward']} carried forward, {s['wrong']} "
            f"wrong, {missing} missing ({given} formula{'' if given == 1 else 's'} graded for "
            "every size: vectors are columns, a batch one column per instance)")


def _note(item: GradeItem) -> str:
    """What a formula's verdict says in words: its cause, or how it was carried forward."""
    if item.status == "missing":
        return f"not given; for example {item.expected}"
    if item.cause == "unreadable" or item.status == "carried_forward" or item.cause:
        text = item.explanation
        if item.status == "wrong":
            text += f". A right one: {item.expected}"
        return text
    if item.status == "wrong":
        return f"{item.explanation}. A right one: {item.expected}"
    return ""


def _caret(item: GradeItem) -> str:
    """The formula with a caret under where its reading stopped ('' when it was read)."""
    from handgrad.grade.formula import FormulaError

    if item.position is None or not isinstance(item.given, str):
        return ""
    return FormulaError("", item.given, item.position).caret()


def _formulas_text(report: GradeReport) -> list[Any]:
    """Problem 1's part of the terminal report: each formula as read, its verdict, its cause."""
    table = Table(title=Text("Problem 1: the derivation"), title_justify="left",
                  title_style="bold", box=box.SIMPLE_HEAD)
    for column in ("gradient", "verdict", "likely cause", "read as"):
        table.add_column(column)
    for item in report.formulas:
        text, style = _mark(item)
        table.add_row(item.name, f"[{style}]{text}[/{style}]", item.cause or "",
                      escape(shown(item.read, 200)))
    parts: list[Any] = [table, _formulas_line(report)]
    for item in report.formulas:
        note = _note(item)
        if (note and item.status != "correct") or item.cause:
            parts.append(Text(f"{item.name}: {shown(note, 1000)}"))
            caret = _caret(item)
            if caret:
                parts += [Text(shown(line, 1000)) for line in caret.split("\n")]
    return parts


def render_grade_text(report: GradeReport, digits: int = 6, width: int = 100) -> str:
    """The report as the terminal shows it (rich, without colour when written to a file)."""
    parts = _numbers_text(report, digits, width) if _numbers_given(report) else [
        Text(f"Grade: {shown(report.problem, 200)}", style="bold"),
        "Problem 2: no numbers given."]
    if report.formulas:
        parts += ["", *_formulas_text(report)]
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(Group(*parts))
    return buffer.getvalue()


def _numbers_text(report: GradeReport, digits: int, width: int) -> list[Any]:
    """Problem 2's part of the terminal report: the table, then the first wrong step."""
    table = Table(
        title=Text(f"Grade: {shown(report.problem, 200)}"), title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
    )
    for column in ("section", "quantity", "verdict", "likely cause"):
        table.add_column(column)
    for item in report.numbers:
        text, style = _mark(item)
        table.add_row(item.section, item.name, f"[{style}]{text}[/{style}]", item.cause or "")
    parts: list[Any] = [table, _summary_line(report)]
    first = report.first_wrong
    if first is None:
        parts.append(Text(_verdict_line(report)))
    else:
        if report.missing_asked:
            parts.append(Text(_missing_line(report)))
        side = Table(box=box.ROUNDED, show_header=True, header_style="dim")
        side.add_column("expected")
        side.add_column("given")
        budget = max(20, (width - 10) // 2)
        side.add_row(matrix_text(first.expected, digits, budget),
                     matrix_text(first.given, digits, budget))
        lines: list[Any] = [
            f"[bold]{escape(first.formula)}[/bold]",
            side,
        ]
        if first.cause:
            lines.append(f"[bold]Likely cause[/bold] ({first.cause}): {escape(first.explanation)}")
        else:
            lines.append(escape(first.explanation))
        lines.append(escape(_redo(first)))
        parts.append(Panel(Group(*lines), title=f"First wrong step: {first.section}.{first.name}",
                           title_align="left", border_style="red"))
    return parts


def render_grade_markdown(report: GradeReport, digits: int = 6) -> str:
    """The report as Markdown: the verdict table, then the first wrong step in detail; then
    Problem 1's formulas, each as it was read (typeset), with its verdict."""
    if not _numbers_given(report):
        lines = [f"# Grade: {report.problem}", "", "Problem 2: no numbers given."]
    else:
        lines = _numbers_markdown(report, digits)
    if report.formulas:
        lines += ["", *_formulas_markdown(report)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text in a Markdown table cell: pipes escaped, on one line."""
    return shown(text, 500).replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Text as a Markdown code span, fenced with more backticks than it holds (a student's
    backtick cannot close it), on one line, pipes escaped for a table cell."""
    text = shown(text, 500).replace("\n", " ").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _prose(text: str) -> str:
    """Words that may quote a student's input, as Markdown text: HTML escaped, one line."""
    return html.escape(_cell(text), quote=False).replace("`", "\\`")


def _block(lines: list[str]) -> list[str]:
    """Lines as a fenced code block (in a list item) that no backtick run inside can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"  {fence}", *(f"  {line}" for line in lines), f"  {fence}"]


def _formulas_markdown(report: GradeReport) -> list[str]:
    lines = ["## Problem 1: the derivation", "", _formulas_line(report) + ".", "",
             "| gradient | your formula, as read | verdict | likely cause |", "|---|---|---|---|"]
    for item in report.formulas:
        read = f"${_cell(item.read_latex)}$" if item.read_latex else (
            _code(item.given) if isinstance(item.given, str) else "")
        lines.append(f"| `{item.name}` | {read} | {_mark(item)[0]} | {item.cause or ''} |")
    notes = [item for item in report.formulas
             if item.status in ("wrong", "carried_forward") or item.cause]
    if notes:
        lines.append("")
    for item in notes:
        text = item.explanation[:1].upper() + item.explanation[1:]
        lines.append(f"- `{item.name}`: {_prose(text)}.")
        caret = _caret(item)
        if caret:
            lines += ["", *_block(caret.split("\n"))]
        if item.status == "wrong":
            lines.append(f"  A right one: ${item.expected_latex}$ (`{item.expected}`).")
    return lines


def _numbers_markdown(report: GradeReport, digits: int) -> list[str]:
    lines = [f"# Grade: {report.problem}", "", _summary_line(report) + ".", "",
             "| section | quantity | verdict | likely cause |", "|---|---|---|---|"]
    for item in report.numbers:
        lines.append(f"| {item.section} | `{item.name}` | {_mark(item)[0]} |"
                     f" {item.cause or ''} |")
    first = report.first_wrong
    lines.append("")
    if first is None:
        lines.append(_verdict_line(report))
    else:
        if report.missing_asked:
            lines += [_missing_line(report), ""]
        lines += [
            f"## First wrong step: `{first.section}.{first.name}`", "",
            f"`{first.formula}`", "",
            "| expected | given |", "|---|---|",
            f"| `{_flat(first.expected, digits)}` | `{_flat(first.given, digits)}` |", "",
        ]
        if first.cause:
            lines.append(f"**Likely cause** (`{first.cause}`): {first.explanation}.")
        else:
            lines.append(first.explanation[:1].upper() + first.explanation[1:] + ".")
        lines += ["", _redo(first)]
    return lines


def _flat(value: object, digits: int) -> str:
    """A value on one line: a number, [a, b] for a vector, [a, b; c, d] for a matrix."""
    import numpy as np

    from handgrad.render.numbers import format_number

    array = np.asarray(value, float)
    if array.ndim == 0:
        return format_number(float(array), digits)
    if array.ndim == 1:
        return "[" + ", ".join(format_number(v, digits) for v in array) + "]"
    return "[" + "; ".join(", ".join(format_number(v, digits) for v in row) for row in array) + "]"


def render_grade_json(report: GradeReport) -> str:
    """The report as JSON: `GradeReport.to_dict()`, indented, with the course's symbols."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
