"""Documents as Markdown with `$…$` / `$$…$$` math (renders on GitHub and in Jupyter)."""

from __future__ import annotations

import base64
import html

from handgrad.render.document import (
    Block,
    Bold,
    Bullets,
    DisplayMath,
    Figure,
    Heading,
    Inline,
    InlineMath,
    MathItems,
    Note,
    Paragraph,
    solution_document,
)
from handgrad.solution import Solution


def _inline(part: Inline) -> str:
    if isinstance(part, InlineMath):
        return f"${part.latex}$"
    if isinstance(part, Bold):
        return f"**{html.escape(part.text)}**"
    return html.escape(part, quote=False)


def write_markdown(blocks: list[Block]) -> str:
    """Blocks as Markdown, a blank line between blocks."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + html.escape(block.text, quote=False))
        elif isinstance(block, Paragraph):
            out.append("".join(_inline(part) for part in block.parts))
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {html.escape(item, quote=False)}" for item in block.items))
        elif isinstance(block, DisplayMath):
            out.append(f"$$\n{block.latex}\n$$")
        elif isinstance(block, MathItems):
            out.append("$$\n" + r",\quad ".join(block.items) + "\n$$")
        elif isinstance(block, Figure):
            data = base64.b64encode(block.png).decode()
            out.append(f"![{html.escape(block.caption)}](data:image/png;base64,{data})")
        elif isinstance(block, Note):
            out.append(f"> {html.escape(block.text, quote=False)}")
        else:
            rule = "|" + "|".join("---:" if n else "---" for n in block.numeric) + "|"
            lines = ["| " + " | ".join(block.header) + " |", rule]
            lines += ["| " + " | ".join(row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        out.append("")
    return "\n".join(out)


def render_markdown(solution: Solution, digits: int = 6) -> str:
    """The whole worked solution as one Markdown document."""
    return write_markdown(solution_document(solution, digits))
