"""Moodle: a Moodle XML file (`<quiz>`) with one Embedded Answers (Cloze) question per variant.

Every entry of every quantity the homework asks is a NUMERICAL sub-question,
`{1:NUMERICAL:=value:tolerance#feedback}`, laid out as a table per quantity under the course's
headings (forward, backward, update); the problem statement sits above them and the worked
solution is the question's general feedback. Math is TeX for MathJax, `\\( … \\)` and `\\[ … \\]`.

Three layers of escaping, innermost first (Moodle's importer undoes them in the reverse order):
HTML (the question text and the feedback are HTML); Cloze, where Moodle's parser
(`qtype_multianswer_extract_question`) scans the whole question text for `{N:TYPE:…}` and ends a
sub-question's feedback at an unescaped `~` or `}`; and XML (CDATA for the HTML fragments, as the
Moodle XML format documentation recommends).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handgrad.atomic import write_file
from handgrad.errors import HandgradError
from handgrad.export import Variant
from handgrad.notation import format_shape
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
    Table,
    solution_document,
)
from handgrad.render.exam import given_blocks, statement_blocks
from handgrad.solution import Quantity

DIGITS = 4  # digits of the given values and of the worked solution shown to a student
SECTIONS = {"forward": "Forward pass", "backward": "Backward pass", "update": "Update"}
# Cloze's own syntax characters, written as numeric character references wherever a text (never
# an answer) goes into a question text: Moodle decodes them after it has found the sub-questions.
_CLOZE_ENTITIES = {"{": "&#123;", "}": "&#125;", "#": "&#35;", "~": "&#126;", "/": "&#47;",
                   "\\": "&#92;"}


def tolerance(value: float) -> float:
    """The absolute tolerance of one entry: max(0.02, 0.005·|value|), to 3 significant digits.

    0.02 is four half-units of the second decimal: it accepts an answer rounded to 2 decimals
    (±0.005) whose inputs were themselves rounded to 2 decimals and carried through one or two
    products; 0.5 % keeps the same allowance for large entries, where a student's 2 decimals are
    3+ significant digits and carried rounding grows with the entry. handgrad's own grader is
    fairer (it recomputes from the student's values); these platforms take only value ± margin.
    """
    return float(f"{max(0.02, 0.005 * abs(value)):.3g}")


def number(value: float) -> str:
    """A float as Moodle's NUMBER_REGEX and Canvas read it: shortest round-trip, no -0."""
    return repr(float(value) + 0.0)


def entries(q: Quantity) -> Iterator[tuple[str, float]]:
    """Each entry of a quantity in reading order, with its 1-based index ('', '[2]', '[2, 1]')."""
    array = np.asarray(q.value, dtype=float)
    for index in np.ndindex(array.shape):
        label = "[" + ", ".join(str(i + 1) for i in index) + "]" if index else ""
        yield label, float(array[index])


def check_expressible(variants: list[Variant], platform: str) -> None:
    """Refuse what a number ± margin cannot hold: no variants, no asked quantity, a value that
    is not a finite float64 (exact or N-digit solutions, an overflow)."""
    if not variants:
        raise HandgradError(f"{platform}: no problems to export")
    for variant in variants:
        if not variant.solution.precision.is_float64:
            raise HandgradError(
                f"{variant.id}: {platform} takes float64 answers; export without exact or"
                " N-digit precision"
            )
        asked = variant.asked()
        if not asked:
            raise HandgradError(f"{variant.id}: the problem asks for no quantity to answer")
        for q in asked:
            if not np.all(np.isfinite(np.asarray(q.value, dtype=float))):
                raise HandgradError(
                    f"{variant.id}: {q.key} is not finite (an overflow?); {platform} needs a"
                    " number for every blank: change the problem's numbers"
                )


def variant_title(variant: Variant) -> str:
    """'Homework 3, Problem 2 · s001': the problem and the id. Never the student's name: every
    student of a quiz may see every question's text."""
    return " · ".join(part for part in (variant.problem.name, variant.id) if part)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 forbids anywhere (control characters a title may hold)
    removed: one of them makes the whole file unreadable to the importer."""
    return _NOT_XML.sub("", text)


# ----------------------------------------------------------------------------- HTML fragments


def _tex(latex: str, display: bool) -> str:
    opening, closing = (r"\[", r"\]") if display else (r"\(", r"\)")
    return html.escape(f"{opening} {latex} {closing}", quote=False)


def _text(text: str, cloze: bool) -> str:
    escaped = html.escape(text, quote=False)
    if cloze:  # a title like "{1:NUMERICAL:=5}" must not become a blank
        escaped = escaped.replace("{", "&#123;").replace("}", "&#125;")
    return escaped


def _inline(part: Inline, cloze: bool) -> str:
    if isinstance(part, InlineMath):
        return _tex(part.latex, display=False)
    if isinstance(part, Bold):
        return f"<strong>{_text(part.text, cloze)}</strong>"
    return _text(part, cloze)


def html_fragment(blocks: list[Block], cloze: bool = False) -> str:
    """Blocks as an HTML fragment with TeX for MathJax (headings start at <h3>)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(block.level + 2, 6)
            out.append(f"<h{level}>{_text(block.text, cloze)}</h{level}>")
        elif isinstance(block, Paragraph):
            out.append("<p>" + "".join(_inline(part, cloze) for part in block.parts) + "</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_text(item, cloze)}</li>" for item in block.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(block, DisplayMath):
            out.append(f"<p>{_tex(block.latex, display=True)}</p>")
        elif isinstance(block, MathItems):
            out.append("<p>" + ",&nbsp; ".join(_tex(item, display=False) for item in block.items)
                       + "</p>")
        elif isinstance(block, Note):
            out.append(f"<blockquote>{_text(block.text, cloze)}</blockquote>")
        elif isinstance(block, Figure):
            out.append(f"<p><em>{_text(block.caption, cloze)}</em></p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_text(c, cloze)}</th>" for c in block.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_text(c, cloze)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            out.append(f"<table><tr>{head}</tr>{rows}</table>")
    return "\n".join(out)


# ----------------------------------------------------------------------------- Cloze


def cloze_feedback(text: str) -> str:
    """Plain text as a sub-question's feedback: HTML-escaped, then every character Moodle's
    Cloze parser reads (and `&`, since Moodle html_entity_decode()s the feedback once) written
    as a character reference, so the feedback ends only at the sub-question's own `}`."""
    encoded = html.escape(text, quote=True).replace("&", "&amp;")
    return "".join(_CLOZE_ENTITIES.get(c, c) for c in encoded)


def numerical(value: float, feedback: str) -> str:
    """One blank: {1:NUMERICAL:=value:tolerance#feedback} (1 mark)."""
    return f"{{1:NUMERICAL:={number(value)}:{tolerance(value):g}#{cloze_feedback(feedback)}}}"


def _quantity_table(q: Quantity) -> str:
    """The quantity's blanks in its shape: a column for a vector (as the worked solution writes
    it), rows and columns for a matrix, one cell for a scalar."""
    value = np.asarray(q.value, dtype=float)
    grid = value.reshape(-1, 1) if value.ndim <= 1 else value.reshape(value.shape[0], -1)
    labels = iter(entries(q))
    rows = []
    for row in grid:
        cells = []
        for _ in row:
            label, entry = next(labels)
            cells.append(f"<td>{numerical(entry, f'{q.symbol.text}{label}')}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table class="handgrad-blanks">' + "".join(rows) + "</table>"


def question_html(variant: Variant) -> str:
    """The question text: who it is for, the problem, then a labelled table of blanks per
    quantity under the course's three headings."""
    opt = variant.problem.spec.optimizer
    parts = [
        f"<h3>{_text(variant_title(variant), cloze=True)}</h3>",
        html_fragment(statement_blocks(variant.problem) + given_blocks(variant.problem, DIGITS),
                      cloze=True),
        "<p>Compute one gradient-descent step"
        + (f" ({opt.steps} steps: give the parameters after the last)" if opt.steps > 1 else "")
        + ". Give every entry to at least 2 decimals; an entry within about ±0.02 (±0.5 % for"
        " large entries) of the exact value counts.</p>",
    ]
    asked = variant.asked()
    for section, heading in SECTIONS.items():
        quantities = [q for q in asked if q.section == section]
        if not quantities:
            continue
        parts.append(f"<h4>{heading}</h4>")
        for q in quantities:
            relation = r"\leftarrow" if q.relation == "←" else "="
            parts.append(f"<p>{_tex(f'{q.symbol.latex} {relation} {q.formula.latex}', False)}"
                         f" · shape {_text(format_shape(q.shape), cloze=True)}</p>")
            parts.append(_quantity_table(q))
    return "\n".join(parts)


def feedback_html(variant: Variant) -> str:
    """The worked solution as HTML with TeX for MathJax."""
    return html_fragment(solution_document(variant.solution, DIGITS))


# ----------------------------------------------------------------------------- XML


def _cdata(text: str) -> str:
    """Text in CDATA sections; a ']]>' inside is split across two of them."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_text(text: str) -> str:
    return html.escape(text, quote=False)


def _category(variants: list[Variant]) -> str:
    # In a category path "/" separates levels; a "/" inside a name is written "//".
    names = sorted({v.problem.name for v in variants})
    label = names[0] if len(names) == 1 else "generated set"
    return "$course$/top/handgrad/" + label.replace("/", "//")


def quiz_xml(variants: list[Variant]) -> str:
    """The whole Moodle XML file."""
    check_expressible(variants, "Moodle")
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>",
           '  <question type="category">',
           f"    <category><text>{_xml_text(_category(variants))}</text></category>",
           "  </question>"]
    for variant in variants:
        body = question_html(variant)
        blanks = sum(int(np.size(q.value)) for q in variant.asked())
        found = body.count("{1:NUMERICAL:=")
        if found != blanks:  # a guard on the escaping above, never expected to fire
            raise HandgradError(f"{variant.id}: Cloze text holds {found} blanks, not {blanks}")
        out += [
            '  <question type="cloze">',
            f"    <name><text>{_xml_text(variant_title(variant))}</text></name>",
            f'    <questiontext format="html"><text>{_cdata(body)}</text></questiontext>',
            f'    <generalfeedback format="html"><text>{_cdata(feedback_html(variant))}'
            "</text></generalfeedback>",
            "    <penalty>0.3333333</penalty>",
            "    <hidden>0</hidden>",
            f"    <idnumber>{_xml_text(variant.id)}</idnumber>",
            "  </question>",
        ]
    out.append("</quiz>")
    return "\n".join(out) + "\n"


def write(variants: list[Variant], output: Path) -> Path:
    """Write the Moodle XML quiz file; nothing is written if any variant cannot be expressed."""
    if output.suffix.lower() != ".xml":
        raise HandgradError(f"-o {output}: a Moodle XML quiz file's name ends in .xml")
    return write_file(output, xml_safe(quiz_xml(variants)))
