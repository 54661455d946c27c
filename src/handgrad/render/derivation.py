"""The derivation (Problem 1) as a terminal table or as document blocks for Markdown/LaTeX/HTML."""

from __future__ import annotations

import io
import json

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from handgrad.derive.steps import Derivation
from handgrad.derive.symbolic import POINTS, TOLERANCE_DIGITS
from handgrad.notation import Math
from handgrad.render.document import (
    Block,
    Bold,
    Bullets,
    DisplayMath,
    Heading,
    Inline,
    InlineMath,
    Note,
    Paragraph,
)
from handgrad.text import shown
from handgrad.words import as_text

MARKS = {True: "✓", False: "✗", None: "·"}
SUMMARY = (
    "✓: the loss written from its definition and differentiated independently (each function's"
    " derivative by sympy, one entry at a time, at 60 digits) equals this formula at"
    f" {POINTS} random rational points of a small instance of the same architecture (to"
    f" {TOLERANCE_DIGITS} digits); ·: a definition"
)


READING = (
    "Each step gives the index form (one entry; i and j index entries), then the matrix form in"
    " the problem's layout. Shapes are in the size symbols, so each formula holds for any sizes;"
    " where a shape lists the factors' shapes, the result's follows the arrow."
)


def _inline(parts: list[str | Math]) -> tuple[Inline, ...]:
    """Prose as text, each symbol and equation as inline math."""
    return tuple(part if isinstance(part, str) else InlineMath(part.latex) for part in parts)


def derivation_blocks(derivation: Derivation) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"Derivation of the gradients: {derivation.problem.name}", 1),
        Paragraph((Bold("Sizes"), ": ", *_inline(derivation.sizes))),
        Paragraph((Bold("Conventions"),)),
        Bullets(derivation.conventions),
        Paragraph((READING,)),
    ]
    for number, step in enumerate(derivation.steps, start=1):
        blocks.append(
            Paragraph(
                (
                    Bold(f"{number}. {step.quantity}"),
                    f"  {MARKS[step.verified]}",
                    " · shape " if step.shape else "",
                    *((InlineMath(step.shape_latex),) if step.shape else ()),
                )
            )
        )
        # each formula once, typeset: the index form, then the matrix form where it differs
        blocks.append(DisplayMath(step.index_latex))
        if step.latex != step.index_latex:
            blocks.append(DisplayMath(step.latex))
        if step.note:
            blocks.append(Note(step.note))
    verdict = "every step verified" if derivation.verified else "A STEP FAILED VERIFICATION"
    blocks.append(Paragraph((Bold(verdict), ". ", SUMMARY + ".")))
    return blocks


def render_derivation_text(derivation: Derivation, width: int = 100) -> str:
    table = RichTable(
        title=Text(f"Derivation of the gradients: {shown(derivation.problem.name, 200)}"),
        title_justify="left",
        box=box.ROUNDED,
        show_lines=True,
    )
    table.add_column("", justify="right", style="dim")
    table.add_column("quantity", style="bold cyan")
    table.add_column("index form, then matrix form")
    table.add_column("shape", justify="right", style="dim")
    table.add_column("✓")
    for number, step in enumerate(derivation.steps, start=1):
        body = step.index_form
        if step.matrix_form != step.index_form:
            body += "\n" + step.matrix_form
        if step.note:
            body += "\n" + step.note
        table.add_row(
            str(number), Text(step.quantity), Text(body), step.shape, MARKS[step.verified]
        )
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(Text("Sizes: " + as_text(derivation.sizes)))
    console.print(Text("Conventions: " + "; ".join(derivation.conventions)))
    console.print(table)
    console.print(Text(SUMMARY))
    verdict = "every step verified" if derivation.verified else "A STEP FAILED VERIFICATION"
    console.print(Text(verdict, style="bold"))
    return buffer.getvalue()


def render_derivation_markdown(derivation: Derivation) -> str:
    from handgrad.render.markdown import write_markdown

    return write_markdown(derivation_blocks(derivation))


def render_derivation_json(derivation: Derivation) -> str:
    return json.dumps(derivation.to_dict(), indent=2, ensure_ascii=False)
