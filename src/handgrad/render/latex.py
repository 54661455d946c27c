"""Documents as LaTeX (amsmath, bmatrix) for pdflatex: a whole document, or a fragment to paste.

Text in the course's Unicode notation (ŷ, yˢ, ∂L/∂z, ⊙, ε, …) is mapped to LaTeX math so that
plain pdflatex, without Unicode fonts, typesets it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from handgrad.errors import HandgradError
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

TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-fonts-recommended"

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb,graphicx}
\usepackage[a4paper,margin=2cm]{geometry}
\setcounter{MaxMatrixCols}{20}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5\baselineskip}
\begin{document}
"""

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
# Unicode of the course's notation, as LaTeX math (combining forms first: ŷ is y + U+0302).
_SYMBOLS = {
    "ŷ": r"\hat{y}",
    "Ŷ": r"\hat{Y}",
    "ᵀ": r"^{\top}",
    "ˢ": r"^{s}",
    "ᵢ": r"_{i}",
    "ⱼ": r"_{j}",
    "ᵦ": r"_{b}",
    "∂": r"\partial ",
    "⊙": r"\odot ",
    "Σ": r"\Sigma ",
    "ε": r"\varepsilon ",
    "η": r"\eta ",
    "δ": r"\delta ",
    "α": r"\alpha ",
    "θ": r"\theta ",
    "σ": r"\sigma ",
    "′": r"'",
    "−": "-",
    "×": r"\times ",
    "→": r"\to ",
    "←": r"\leftarrow ",
    "·": r"\cdot ",
    "≥": r"\geq ",
    "≤": r"\leq ",
    "≈": r"\approx ",
    "½": r"\tfrac{1}{2}",
    "²": r"^{2}",
    "³": r"^{3}",
    "⁴": r"^{4}",
    "⁻": r"^{-}",
    "✓": r"\checkmark ",
    "✗": r"\times ",
    "⋯": r"\cdots ",
    "⋮": r"\vdots ",
    "ℝ": r"\mathbb{R}",
    "δᵢⱼ": r"\delta_{ij}",
}
_SYMBOL_PATTERN = re.compile("|".join(sorted(map(re.escape, _SYMBOLS), key=len, reverse=True)))


LATIN_LIMIT = 0x17F  # Latin-1 and Latin Extended-A: what pdflatex's utf8 inputenc typesets


def _plain_char(char: str) -> str:
    """One character of text for pdflatex: specials escaped, control characters dropped, and
    what pdflatex cannot typeset (CJK, emoji: no font for them) named by its code point."""
    if char in _SPECIAL:
        return _SPECIAL[char]
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return ""
    if code > LATIN_LIMIT:
        return rf"\texttt{{[U+{code:04X}]}}"
    return char


def latex_text(text: str) -> str:
    """Plain Unicode text as LaTeX: specials escaped, the notation's symbols as inline math,
    whitespace (line breaks, blank lines: they would end a heading's argument) as one space."""
    text = re.sub(r"\s+", " ", text)
    out, start = [], 0
    for match in _SYMBOL_PATTERN.finditer(text):
        out.append("".join(_plain_char(c) for c in text[start : match.start()]))
        out.append(f"${_SYMBOLS[match.group(0)]}$")
        start = match.end()
    out.append("".join(_plain_char(c) for c in text[start:]))
    return "".join(out).replace("$$", "")


def _inline(part: Inline) -> str:
    if isinstance(part, InlineMath):
        return f"${part.latex}$"
    if isinstance(part, Bold):
        return rf"\textbf{{{latex_text(part.text)}}}"
    return latex_text(part)


def write_latex(blocks: list[Block], fragment: bool = False) -> str:
    """Blocks as LaTeX; a complete document unless `fragment` (the body, to paste)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            command = {1: "section*", 2: "subsection*"}.get(block.level, "subsubsection*")
            out.append(rf"\{command}{{{latex_text(block.text)}}}")
        elif isinstance(block, Paragraph):
            out.append("".join(_inline(part) for part in block.parts) + "\n")
        elif isinstance(block, Bullets):
            items = "\n".join(rf"  \item {latex_text(item)}" for item in block.items)
            out.append(f"\\begin{{itemize}}\n{items}\n\\end{{itemize}}")
        elif isinstance(block, DisplayMath):
            out.append(f"\\[\n{block.latex}\n\\]")
        elif isinstance(block, MathItems):
            pairs = [block.items[i : i + 2] for i in range(0, len(block.items), 2)]
            rows = " \\\\\n".join(r",\qquad ".join(pair) for pair in pairs)
            out.append(f"\\begin{{gather*}}\n{rows}\n\\end{{gather*}}")
        elif isinstance(block, Figure):
            out.append(
                f"\\IfFileExists{{{block.name}}}{{\\begin{{center}}"
                f"\\includegraphics[width=\\linewidth]{{{block.name}}}\\\\"
                f"\\small {latex_text(block.caption)}\\end{{center}}}}"
                f"{{\\emph{{(the schematic: run handgrad graph -o {block.name})}}}}"
            )
        elif isinstance(block, Note):
            out.append(f"\\begin{{quote}}\\small\n{latex_text(block.text)}\n\\end{{quote}}")
        else:
            spec = "".join("r" if numeric else "l" for numeric in block.numeric)
            lines = [" & ".join(latex_text(cell) for cell in block.header) + r" \\ \hline"]
            lines += [" & ".join(latex_text(cell) for cell in row) + r" \\" for row in block.rows]
            body = "\n".join(lines)
            out.append(f"\\begin{{tabular}}{{{spec}}}\n{body}\n\\end{{tabular}}\n")
    body = "\n".join(out) + "\n"
    return body if fragment else PREAMBLE + body + "\\end{document}\n"


def render_latex(solution: Solution, digits: int = 6, fragment: bool = False) -> str:
    """The worked solution as LaTeX."""
    return write_latex(solution_document(solution, digits), fragment)


def compile_pdf(latex: str, files: dict[str, bytes] | None = None) -> bytes:
    """Run pdflatex on a complete document and return the PDF, or explain what is missing."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        raise HandgradError(
            "--format pdf needs pdflatex, which is not installed; on Debian or Ubuntu: "
            f"apt-get install --no-install-recommends {TEX_PACKAGES}"
        )
    with tempfile.TemporaryDirectory(prefix="handgrad-") as folder:
        source = Path(folder) / "solution.tex"
        source.write_text(latex, encoding="utf-8")
        for name, data in (files or {}).items():
            (Path(folder) / name).write_bytes(data)
        run = subprocess.run(
            [
                pdflatex,
                "-interaction=nonstopmode",
                "-halt-on-error",
                "-no-shell-escape",
                source.name,
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
            check=False,
        )
        pdf = source.with_suffix(".pdf")
        if run.returncode != 0 or not pdf.exists():
            errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
            raise HandgradError(
                "pdflatex could not compile the document (a handgrad bug: please report it): "
                + ("; ".join(errors[:3]) or run.stdout[-500:])
            )
        return pdf.read_bytes()
