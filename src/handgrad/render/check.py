"""The `handgrad check` report as plain text."""

from __future__ import annotations

import io
import textwrap

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from handgrad.render.terminal import CHECK_LEGEND
from handgrad.solution import CheckReport
from handgrad.text import shown


def report_text(report: CheckReport, width: int = 100) -> str:
    """A table of relative errors per gradient and method, then the verdict."""
    table = Table(
        title=Text(f"Gradient check: {shown(report.problem.name, 200)}"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("gradient")
    for check in report.checks:
        name = check.method.replace("_", " ")
        table.add_column(f"{name} (tol {check.tolerance:.0e})", justify="right")
    for gradient in report.checks[0].errors:
        cells = []
        for check in report.checks:
            mark = "✓" if check.passes(gradient) else "✗"
            cells.append(f"{check.errors[gradient]:.1e} {mark}")
        table.add_row(gradient, *cells)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(table)
    lines = [buffer.getvalue().rstrip("\n"), ""]
    lines.extend(textwrap.wrap(CHECK_LEGEND, width))
    for method, hint in report.unavailable.items():
        lines.append(f"{method}: not installed, skipped ({hint})")
    for kink in report.kinks:
        index = ", ".join(map(str, kink.index))
        lines.append(
            f"note: {kink.key}[{index}] = 0 exactly (a kink); used {kink.convention}; "
            "other methods may use another convention there"
        )
    failures = report.failures()
    if failures:
        worst = ", ".join(f"{name} ({method})" for method, name, _ in failures)
        lines.append(f"FAILED: {worst} disagree beyond tolerance")
    else:
        methods = ", ".join(c.method.replace("_", " ") for c in report.checks)
        lines.append(f"PASSED: every gradient agrees with {methods}")
    return "\n".join(lines) + "\n"
