"""Documents as one self-contained HTML page: KaTeX (shipped in the package) typesets the math
in the browser, its fonts inlined, so the page works offline, on a phone and on paper."""

from __future__ import annotations

import base64
import html
import re
from functools import cache
from pathlib import Path

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

KATEX = Path(__file__).parent / "katex"  # KaTeX 0.16 (MIT licence, see katex/LICENSE)

STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 52rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; }
.display { overflow-x: auto; padding: 0.25rem 0; }
figure svg { max-width: 100%; height: auto; } figcaption { color: #555; font-size: 0.9rem; }
.items { display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; justify-content: center; }
blockquote { margin: 0 0 1rem 1rem; color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; } th, td { padding: 0.2rem 0.8rem; }
th { border-bottom: 1px solid #999; } td.n, th.n { text-align: right; }
@media print { body { max-width: none; font-size: 11pt; } h2 { break-after: avoid; }
               .display { overflow: visible; } }
"""

RENDER_MATH = """
document.querySelectorAll("[data-tex]").forEach(function (element) {
  katex.render(element.getAttribute("data-tex"), element,
               {displayMode: element.tagName === "DIV", throwOnError: false});
});
"""


@cache
def katex_assets() -> tuple[str, str]:
    """KaTeX's CSS with its woff2 fonts inlined as data: URLs (other formats dropped), its JS."""
    css = (KATEX / "katex.min.css").read_text(encoding="utf-8")

    def inline_font(match: re.Match[str]) -> str:
        data = base64.b64encode((KATEX / "fonts" / match.group(1)).read_bytes()).decode()
        return f'url(data:font/woff2;base64,{data}) format("woff2")'

    css = re.sub(r'url\(fonts/([\w-]+\.woff2)\) format\("woff2"\)', inline_font, css)
    css = re.sub(r',url\(fonts/[\w-]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", css)
    return css, (KATEX / "katex.min.js").read_text(encoding="utf-8")


def _tex(latex: str, display: bool) -> str:
    tag = "div" if display else "span"
    return f'<{tag} data-tex="{html.escape(latex)}">{html.escape(latex)}</{tag}>'


def _inline(part: Inline) -> str:
    if isinstance(part, InlineMath):
        return _tex(part.latex, display=False)
    if isinstance(part, Bold):
        return f"<strong>{html.escape(part.text)}</strong>"
    return html.escape(part)


def write_html(blocks: list[Block], title: str) -> str:
    """Blocks as one HTML page with everything it needs inside it."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            body.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            body.append("<p>" + "".join(_inline(part) for part in block.parts) + "</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, DisplayMath):
            body.append(f'<div class="display">{_tex(block.latex, display=True)}</div>')
        elif isinstance(block, MathItems):
            items = "".join(_tex(item, display=True) for item in block.items)
            body.append(f'<div class="display items">{items}</div>')
        elif isinstance(block, Figure):
            body.append(
                f'<figure class="display">{block.svg}'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
            )
        elif isinstance(block, Note):
            body.append(f"<blockquote>{html.escape(block.text)}</blockquote>")
        else:
            kinds = ['class="n"' if numeric else "" for numeric in block.numeric]
            head = "".join(
                f"<th {k}>{html.escape(c)}</th>" for k, c in zip(kinds, block.header, strict=True)
            )
            rows = "".join(
                "<tr>"
                + "".join(f"<td {k}>{html.escape(c)}</td>" for k, c in zip(kinds, row, strict=True))
                + "</tr>"
                for row in block.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    css, js = katex_assets()
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n<style>{STYLE}</style>\n"
        "</head>\n<body>\n" + "\n".join(body) + f"\n<script>{js}</script>\n"
        f"<script>{RENDER_MATH}</script>\n</body>\n</html>\n"
    )


def render_html(solution: Solution, digits: int = 6) -> str:
    """The worked solution as a self-contained page."""
    return write_html(solution_document(solution, digits), f"handgrad: {solution.problem.name}")
