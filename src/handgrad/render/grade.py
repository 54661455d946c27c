"""A grade report for people: every quantity's verdict, then the first wrong step in detail."""

from __future__ import annotations

import io
import json
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
    s = report.summary
    graded = s["correct"] + s["carried_forward"] + s["wrong"]
    missing = len(report.missing_asked)
    unasked = s["missing"] - missing
    skipped = f", {unasked} not asked" if unasked else ""
    return (
        f"{s['correct']} correct, {s['carried_forward']} carried forward, {s['wrong']} wrong,"
        f" {missing} missing{skipped} ({graded} graded; {report.tolerance_text})"
    )


def _missing_line(report: GradeReport) -> str:
    """What the homework asks for and the answer leaves out: missing work is missing, not
    right (an answer with 1 of 18 quantities has no wrong step, and is far from done)."""
    missing = report.missing_asked
    if not missing:
        return ""
    names = ", ".join(item.key for item in missing)
    asked = sum(item.asked for item in report.items)
    return (f"Missing: {len(missing)} of the {_quantities(asked)} the homework asks for"
            f" ({names}).")


def _verdict_line(report: GradeReport) -> str:
    """The line under the table when no step is wrong."""
    s = report.summary
    graded = s["correct"] + s["carried_forward"]
    if not graded:
        return "Nothing was graded."
    if report.missing_asked:
        return (f"No wrong step in the {_quantities(graded)} given; the answer is incomplete. "
                + _missing_line(report))
    return "No wrong step."


def _redo(item: GradeItem) -> str:
    inputs = ", ".join(item.inputs) if item.inputs else "the given values"
    return (
        f"Redo {item.section}.{item.name} from {inputs} with {item.formula}; the steps after it "
        "that used your value are graded against what your value gives (carried forward)."
    )


def render_grade_text(report: GradeReport, digits: int = 6, width: int = 100) -> str:
    """The report as the terminal shows it (rich, without colour when written to a file)."""
    table = Table(
        title=Text(f"Grade: {shown(report.problem, 200)}"), title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
    )
    for column in ("section", "quantity", "verdict", "likely cause"):
        table.add_column(column)
    for item in report.items:
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
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(Group(*parts))
    return buffer.getvalue()


def render_grade_markdown(report: GradeReport, digits: int = 6) -> str:
    """The report as Markdown: the verdict table, then the first wrong step in detail."""
    lines = [f"# Grade: {report.problem}", "", _summary_line(report) + ".", "",
             "| section | quantity | verdict | likely cause |", "|---|---|---|---|"]
    for item in report.items:
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
    return "\n".join(lines) + "\n"


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
