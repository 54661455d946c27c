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
    LINE_WIDTH_PT,
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
from handgrad.render.numbers import Chain, Matrix, Term, bmatrix, chain_latex
from handgrad.solution import Solution

TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-fonts-recommended"

# needspace.sty's test in primitives (the package is not in texlive-latex-recommended), put
# before a heading or a run-in title: with less than four lines left on the page, the page ends
# there. A fragment carries it too, as \providecommand.
NEEDLINES = (  # a space ends each number, so that TeX does not expand on past it
    r"\providecommand{\needlines}{\par\penalty-100 \begingroup\dimen0=4\baselineskip"
    r" \dimen2=\pagegoal \advance\dimen2-\pagetotal \ifdim\dimen0>\dimen2"
    r" \ifdim\dimen2>0pt \vfil\fi\penalty-10000 \fi\endgroup}"
)

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb,graphicx}
\usepackage[a4paper,margin=2cm]{geometry}
\setcounter{MaxMatrixCols}{20}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
""" + NEEDLINES + r"""
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
# Runs of Unicode sub- and superscripts (W ℓ₊₁, yˢᵢ) as one script each: two in a row would be
# a double subscript to TeX.
_SUBSCRIPTS = dict(
    zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ᵢⱼᵦₐₑₒₓₕₖₗₘₙₚₛₜ", "0123456789+-=()ijbaeoxhklmnpst", strict=True)
)
_SUPERSCRIPTS = {
    **dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ˢⁿⁱ", "0123456789+-=()sni", strict=True)),
    "ᵀ": r"\top",
}
_SYMBOLS |= {"ℓ": r"\ell ", "∈": r"\in ", "∑": r"\sum ", "√": r"\surd ", "≠": r"\neq "}
for _script in (*_SUBSCRIPTS, *_SUPERSCRIPTS):
    _SYMBOLS.pop(_script, None)  # they go by runs, below
_SYMBOL_PATTERN = re.compile(
    "|".join(
        [
            f"[{''.join(_SUBSCRIPTS)}]+",
            f"[{''.join(_SUPERSCRIPTS)}]+",
            *sorted(map(re.escape, _SYMBOLS), key=len, reverse=True),
        ]
    )
)


def _symbol(match: str) -> str:
    """One symbol of the notation, or a run of scripts, as LaTeX math."""
    if match[0] in _SUBSCRIPTS:
        return "_{" + "".join(_SUBSCRIPTS[c] for c in match) + "}"
    if match[0] in _SUPERSCRIPTS:
        return "^{" + "".join(_SUPERSCRIPTS[c] for c in match) + "}"
    return _SYMBOLS[match]


_PUNCTUATION = {"–": "--", "—": "---", "…": r"\ldots{}", "‘": "`", "’": "'", "“": "``", "”": "''"}
LATIN_LIMIT = 0x17F  # Latin-1 and Latin Extended-A: what pdflatex's utf8 inputenc typesets


def _plain_char(char: str) -> str:
    """One character of text for pdflatex: specials escaped, control characters dropped, and
    what pdflatex cannot typeset (CJK, emoji: no font for them) named by its code point."""
    if char in _SPECIAL:
        return _SPECIAL[char]
    if char in _PUNCTUATION:
        return _PUNCTUATION[char]
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
        out.append(f"${_symbol(match.group(0))}$")
        start = match.end()
    out.append("".join(_plain_char(c) for c in text[start:]))
    return "".join(out).replace("$$", "")


def _inline(part: Inline) -> str:
    if isinstance(part, InlineMath):
        return f"${part.latex}$"
    if isinstance(part, Bold):
        return rf"\textbf{{{latex_text(part.text)}}}"
    return latex_text(part)


# How wide a formula sets, estimated from Computer Modern's widths (in points at 10 pt, scaled to
# the document's 11 pt): enough to decide where a display must break. It errs wide on purpose.
_EM = 10.95 / 10 * 1.06  # 11 pt type, and a margin for what the estimate misses
_SIZE = {"D": 1.0, "T": 1.0, "S": 0.7, "SS": 0.5}
_SMALLER = {"D": "T", "T": "S", "S": "SS", "SS": "SS"}
_SCRIPT = {"D": "S", "T": "S", "S": "SS", "SS": "SS"}
_RELATION_SPACE = 2.78  # \thickmuskip on each side
_BINARY_SPACE = 2.22  # \medmuskip on each side
_WIDTHS = {  # symbols and their spacing class (o: ordinary, b: binary, r: relation, p: operator)
    r"\partial": (5.7, "o"), r"\eta": (5.0, "o"), r"\varepsilon": (4.7, "o"),
    r"\delta": (4.5, "o"), r"\alpha": (6.4, "o"), r"\theta": (4.7, "o"), r"\sigma": (5.7, "o"),
    r"\Sigma": (7.3, "o"), r"\top": (7.8, "o"), r"\infty": (10.0, "o"), r"\ell": (4.2, "o"),
    r"\cdots": (13.4, "o"), r"\vdots": (2.8, "o"), r"\ddots": (13.4, "o"), r"\ldots": (13.4, "o"),
    r"\times": (7.8, "b"), r"\cdot": (2.8, "b"), r"\odot": (7.8, "b"), r"\pm": (7.8, "b"),
    r"\leftarrow": (10.0, "r"), r"\approx": (7.8, "r"), r"\to": (10.0, "r"), r"\in": (6.7, "r"),
    r"\leq": (7.8, "r"), r"\geq": (7.8, "r"), r"\neq": (7.8, "r"), r"\colon": (2.8, "o"),
    r"\sum": (14.4, "p"), r"\prod": (12.8, "p"), r"\ln": (8.4, "p"), r"\log": (12.8, "p"),
    r"\exp": (14.4, "p"), r"\max": (16.7, "p"), r"\min": (15.3, "p"),
    r"\tanh": (20.6, "p"), r"\sinh": (20.6, "p"), r"\cosh": (20.6, "p"), r"\sin": (12.8, "p"),
    r"\cos": (13.4, "p"), r"\sgn": (14.0, "p"),
    r"\quad": (10.0, "o"), r"\qquad": (20.0, "o"), r"\,": (1.7, "o"), r"\;": (2.8, "o"),
    r"\:": (2.2, "o"), r"\ ": (3.3, "o"), r"\!": (-1.7, "o"), r"\{": (5.0, "o"),
    r"\}": (5.0, "o"), r"\%": (8.3, "o"), r"\lbrack": (2.8, "o"), r"\rbrack": (2.8, "o"),
}
_PLAIN = {"=": (7.8, "r"), "<": (7.8, "r"), ">": (7.8, "r"), "+": (7.8, "b"), "-": (7.8, "b"),
          "(": (3.9, "o"), ")": (3.9, "o"), "[": (2.8, "o"), "]": (2.8, "o"), ".": (2.8, "o"),
          ",": (4.5, "o"), ";": (4.5, "o"), ":": (2.8, "r"), "/": (5.0, "o"), "|": (2.8, "o"),
          "!": (2.8, "o"), "'": (2.8, "o")}
_TEXT_COMMANDS = {r"\text", r"\mathrm", r"\operatorname", r"\textbf", r"\mathbf", r"\mathbb",
                  r"\textrm", r"\mathit", r"\textit"}
_ACCENTS = {r"\hat", r"\bar", r"\tilde", r"\vec", r"\mathcal", r"\boldsymbol", r"\phantom"}
_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|[{}^_&]|\s+|.", re.DOTALL)


def _char_width(char: str) -> float:
    if char.isdigit():
        return 5.0
    if char.isupper():
        return 9.5
    return 5.6 if char.isalpha() else 5.0


class _Widths:
    """A small reader of LaTeX math that adds up widths; not a typesetter."""

    def __init__(self, latex: str) -> None:
        self.tokens = [t for t in _TOKEN.findall(latex) if not t.isspace()]
        self.at = 0

    def next(self) -> str:
        token = self.tokens[self.at] if self.at < len(self.tokens) else "}"
        self.at += 1
        return token

    def group(self) -> list[str]:
        """The tokens of the next argument: a braced group, or one token."""
        token = self.next()
        if token != "{":
            return [token]
        depth, out = 1, []
        while self.at < len(self.tokens):
            token = self.next()
            depth += {"{": 1, "}": -1}.get(token, 0)
            if depth == 0:
                break
            out.append(token)
        return out

    def environment(self) -> list[list[list[str]]]:
        """The rows and cells of a matrix, up to its \\end{…}."""
        rows: list[list[list[str]]] = [[[]]]
        depth = 0
        while self.at < len(self.tokens):
            token = self.next()
            if token == r"\end" and depth == 0:
                self.group()
                break
            if token == r"\begin":
                depth += 1
            elif token == r"\end":
                depth -= 1
            depth += {"{": 1, "}": -1}.get(token, 0) if token in "{}" else 0
            if depth == 0 and token == "&":
                rows[-1].append([])
            elif depth == 0 and token == r"\\":
                rows.append([[]])
            else:
                rows[-1][-1].append(token)
        return rows


def math_width(latex: str, style: str = "D") -> float:
    """About how wide `latex` sets in math style `style` (D display, T text, S script), in pt."""
    return _tokens_width(_Widths(latex), style)


def _sub_width(tokens: list[str], style: str) -> float:
    return _tokens_width(_Widths(""), style, tokens)


def _tokens_width(reader: _Widths, style: str, tokens: list[str] | None = None) -> float:
    if tokens is not None:
        reader.tokens, reader.at = tokens, 0
    size = _SIZE[style] * _EM
    spaced = style in ("D", "T")
    width, previous = 0.0, "r"  # a sign at the start is unary
    while reader.at < len(reader.tokens):
        token = reader.next()
        kind = "o"
        if token in ("^", "_"):
            width += _sub_width(reader.group(), _SCRIPT[style]) * 1.0
            continue
        if token == "{":
            reader.at -= 1
            width += _sub_width(reader.group(), style)
        elif token in (r"\frac", r"\tfrac", r"\dfrac", r"\binom"):
            inner = {r"\tfrac": _SCRIPT["T"], r"\dfrac": "T"}.get(token, _SMALLER[style])
            top, bottom = reader.group(), reader.group()
            width += max(_sub_width(top, inner), _sub_width(bottom, inner)) + 2.4 * size
        elif token in (r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr"):
            delimiter = reader.next()
            width += (1.2 if delimiter == "." else 7.5) * size
        elif token == r"\begin":
            reader.group()
            rows = reader.environment()
            columns = max(len(row) for row in rows)
            cells = [
                max((_sub_width(row[j], "T") for row in rows if j < len(row)), default=0.0)
                for j in range(columns)
            ]
            width += sum(cells) + 10.0 * _EM * (columns - 1) + 2 * 7.0 * size
        elif token in _TEXT_COMMANDS:
            text = [t for t in reader.group() if t not in "{}"]
            width += sum(
                _char_width(t) if len(t) == 1 else _WIDTHS.get(t, (8.0, ""))[0] for t in text
            ) * size
        elif token in _ACCENTS:
            width += _sub_width(reader.group(), style)
        elif token in _WIDTHS or token in _PLAIN:
            glyph, kind = _WIDTHS.get(token) or _PLAIN[token]
            if token == r"\sum" and style != "D":
                glyph = 10.6
            if kind == "b" and previous in ("b", "r", "open"):
                kind = "o"  # a unary sign
            width += glyph * size
            if spaced and kind == "b":
                width += 2 * _BINARY_SPACE * _EM
            elif spaced and kind == "r":
                width += 2 * _RELATION_SPACE * _EM
            elif kind == "p":
                width += 1.7 * size
            if token in ("(", "["):
                kind = "open"
        elif token.startswith("\\"):
            width += 8.0 * size  # a command this reader does not know: a wide glyph
        else:
            width += _char_width(token) * size
        previous = kind
    return width


NEEDSPACE = "\\needlines\n"
BUDGET = 0.97 * LINE_WIDTH_PT  # what a display may fill, leaving the width estimate its error
INDENT = r"\quad "  # a broken display's later lines start this far in
INDENT_PT = 11.0
COLUMNS_LABEL_PT = 95.0  # "columns 10–12: " before a matrix shown a few columns at a time
HEAD_SHARE = 0.3  # a head this short keeps a matrix split into columns beside it
_TOO_WIDE = (  # -{}-: two hyphens in TeX, not an en dash, so the command can be copied
    "(a closed form too wide for the page; handgrad solve -{}-exact -{}-format json writes it)"
)


def _term_latex(term: Term) -> str:
    return term if isinstance(term, str) else term.latex


def _pair(relation: str, term: Term) -> str:
    return f"{relation} {_term_latex(term)}".strip()


def display_lines(chain: Chain, budget: float = BUDGET) -> list[str]:
    """A chain as the lines of a display that fits `budget` points, each line with one `&` to
    align on: one line (and no `&`) when it fits; else broken before relations, the later lines
    indented; a matrix still too wide shown a few columns at a time (beside a short head such
    as `W_1`), a long closed form a few terms at a time, and one wider than the page named."""
    if math_width(chain_latex(chain)) <= budget:
        return [chain_latex(chain)]
    lines: list[str] = []
    line = ""  # the line being filled, without its `&`
    for relation, term in chain:
        pair = _pair(relation, term)
        if line and math_width(f"{line} {pair}") <= budget:
            line = f"{line} {pair}"
            continue
        if line and not lines and math_width(line) <= HEAD_SHARE * budget:
            pieces = _split_term(relation, term, budget - math_width(line))
            alone = _split_term(relation, term, budget - INDENT_PT)
            if _TOO_WIDE not in pieces[0] and len(pieces) <= len(alone):
                lines += [f"{line} & {pieces[0]}", *(f"& {piece}" for piece in pieces[1:])]
                line = ""
                continue
        if line:
            lines.append(f"& {line}")
            pair = pair.removeprefix(INDENT)  # a spaced-off remark needs no space on its own line
        prefix = INDENT if lines else ""
        room = budget - (INDENT_PT if lines else 0.0)
        if math_width(pair) <= room:
            line = prefix + pair
            continue
        lines += [f"& {prefix}{piece}" for piece in _split_term(relation, term, room)]
        line = ""  # what follows a split term starts a line of its own
    if line:
        lines.append(f"& {line}")
    return lines


def _split_term(relation: str, term: Term, room: float) -> list[str]:
    """A term too wide for a line, as several lines: a matrix by columns, a sum by its terms."""
    if isinstance(term, Matrix):
        groups = _column_groups(term, room - math_width(relation) - COLUMNS_LABEL_PT)
        if groups is not None:
            out = []
            for index, columns in enumerate(groups):
                numbers = [n for n in (term.columns[j] for j in columns) if n is not None]
                label = f"{numbers[0]}" if len(numbers) == 1 else f"{numbers[0]}--{numbers[-1]}"
                label = ("column " if len(numbers) == 1 else "columns ") + label
                cells = [[row[j] for j in columns] for row in term.rows]
                lead = relation if index == 0 else (rf"\phantom{{{relation}}}" if relation else "")
                out.append(rf"{lead} \text{{{label}: }} {bmatrix(cells)}".strip())
            return out
    else:
        parts = _sum_parts(term)
        if len(parts) > 1 and all(math_width(part) <= room - INDENT_PT for part in parts):
            out, current = [], relation
            for part in parts:
                candidate = f"{current} {part}".strip()
                if current.strip() and math_width(candidate) > room - INDENT_PT:
                    out.append(current)
                    current = INDENT + part
                else:
                    current = candidate
            out.append(current)
            return out
    return [rf"{relation} \text{{{_TOO_WIDE}}}".strip()]


def _column_groups(matrix: Matrix, room: float) -> list[list[int]] | None:
    """Runs of columns, each run as wide as fits `room` points; None if one column does not."""
    brackets = 16.0
    widths = [
        max(math_width(row[j], "T") for row in matrix.rows) + 11.6  # and the space between
        for j in range(len(matrix.columns))
    ]
    if max(widths) + brackets > room:
        return None
    groups: list[list[int]] = [[]]
    used = brackets
    for j, width in enumerate(widths):
        if groups[-1] and used + width > room:
            groups.append([])
            used = brackets
        groups[-1].append(j)
        used += width
    return groups


def _sum_parts(latex: str) -> list[str]:
    """A closed form cut before each + or − outside braces and \\left…\\right: its terms."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"\\left|\\right|[{}]|(?<=\s)[+-](?=\s)", latex):
        token = match.group(0)
        if token in ("{", r"\left"):
            depth += 1
        elif token in ("}", r"\right"):
            depth -= 1
        elif depth == 0 and match.start() > start:
            parts.append(latex[start : match.start()].strip())
            start = match.start()
    parts.append(latex[start:].strip())
    return [part for part in parts if part]


def _display(block: DisplayMath) -> str:
    """One line in a display; several in align*, which may go on over a page break."""
    lines = display_lines(block.chain) if block.chain else [block.latex]
    if len(lines) == 1:
        return f"\\[\n{lines[0]}\n\\]"
    return _align(lines)


def _align(lines: list[str]) -> str:
    """Lines in align*, a page break allowed between them but not after the first (`\\\\*`):
    the formula's head never stands alone at the foot of a page."""
    body = lines[0] + (" \\\\*\n" if len(lines) > 1 else "") + " \\\\\n".join(lines[1:])
    return f"\\begin{{align*}}\n{body}\n\\end{{align*}}"


def _math_items(block: MathItems) -> str:
    """Formulas two to a row where the row has room (gather*); a wide one alone, broken as it
    needs (align*)."""
    chains = block.chains or tuple((("", item),) for item in block.items)
    displays: list[list[str]] = [[]]  # runs of gather* rows; a broken formula is one of its own
    pending: Chain | None = None
    for chain in chains:
        if pending is not None:
            together = rf"{chain_latex(pending)},\qquad {chain_latex(chain)}"
            if math_width(together) <= BUDGET:
                displays[-1].append(together)
                pending = None
                continue
            displays[-1].append(chain_latex(pending))
            pending = None
        lines = display_lines(chain)
        if len(lines) == 1:
            pending = chain
        else:
            displays += [["align", *lines], []]
    if pending is not None:
        displays[-1].append(chain_latex(pending))
    out = []
    for rows in (rows for rows in displays if rows):
        if rows[0] == "align":
            out.append(_align(rows[1:]))
        else:
            out.append("\\begin{gather*}\n" + " \\\\\n".join(rows) + "\n\\end{gather*}")
    return "\n".join(out)


def write_latex(blocks: list[Block], fragment: bool = False) -> str:
    """Blocks as LaTeX; a complete document unless `fragment` (the body, to paste)."""
    out: list[str] = []
    for before, block, after in zip([None, *blocks], blocks, [*blocks[1:], None], strict=False):
        if isinstance(block, Heading):
            command = {1: "section*", 2: "subsection*"}.get(block.level, "subsubsection*")
            space = NEEDSPACE if before is not None else ""
            out.append(rf"{space}\{command}{{{latex_text(block.text)}}}")
        elif isinstance(block, Paragraph):
            text = "".join(_inline(part) for part in block.parts)
            if isinstance(after, DisplayMath | MathItems):
                out.append(text)  # no blank line: the display stays on the page of its words
            elif block.parts and isinstance(block.parts[0], Bold):
                # a run-in title stays with what follows: a list's start may break the page
                # in spite of \nopagebreak, so a title near the foot goes to the next page
                space = "" if isinstance(before, Heading) else NEEDSPACE  # it had its own
                out.append(space + text + "\n\\nopagebreak\n")
            else:
                out.append(text + "\n")
        elif isinstance(block, Bullets):
            items = "\n".join(rf"  \item {latex_text(item)}" for item in block.items)
            out.append(f"\\begin{{itemize}}\n{items}\n\\end{{itemize}}")
        elif isinstance(block, DisplayMath):
            out.append(_display(block))
        elif isinstance(block, MathItems):
            out.append(_math_items(block))
        elif isinstance(block, Figure):
            # a minipage: the picture and its caption on one page, never parted
            out.append(
                f"\\IfFileExists{{{block.name}}}{{\\begin{{center}}"
                f"\\begin{{minipage}}{{\\linewidth}}\\centering"
                f"\\includegraphics[width={block.width:g}\\linewidth]{{{block.name}}}\\par"
                f"\\small {latex_text(block.caption)}\\end{{minipage}}\\end{{center}}}}"
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
    if fragment:
        return (NEEDLINES + "\n" if NEEDSPACE in body else "") + body
    return PREAMBLE + body + "\\end{document}\n"


def render_latex(solution: Solution, digits: int = 6, fragment: bool = False) -> str:
    """The worked solution as LaTeX."""
    return write_latex(solution_document(solution, digits), fragment)


def compile_pdf(latex: str, files: dict[str, bytes] | None = None) -> bytes:
    """Run pdflatex on a complete document and return the PDF, or explain what is missing."""
    return compile_pdf_and_log(latex, files)[0]


def compile_pdf_and_log(latex: str, files: dict[str, bytes] | None = None) -> tuple[bytes, str]:
    """The PDF and pdflatex's log (where overfull lines are reported)."""
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
        log = source.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
        return pdf.read_bytes(), log
