"""Canvas: a QTI 1.2 zip (`imsmanifest.xml` + one assessment) for Canvas's quiz importer.

Canvas's fill_in_multiple_blanks_question grades by matching text (its importer keeps each
blank's answers as strings), so "-0.53" would not match "-0.5346"; only numerical_question holds
a number with a margin. So each entry of each asked quantity is one numerical_question ("exact
answer" with a margin, written as Canvas's own QTI exporter writes it: `<or><varequal>` exact,
`<and><vargte>/<varlte>` exact ∓ margin), titled with the variant and the entry, with the
quantity's worked line as its general feedback; each variant opens with a text_only_question
holding the problem statement. Everything sits in one root section, in the course's order, so
Canvas keeps the order (a question group would shuffle and pick).

The package layout and the item XML follow Canvas's QTI export (lib/cc/qti/ in canvas-lms):
`<id>/<id>.xml` (resource type imsqti_xmlv1p2) and `<id>/assessment_meta.xml` (the quiz's title,
description and settings, an associatedcontent resource the assessment depends on).
"""

from __future__ import annotations

import hashlib
import html
import io
import zipfile
from decimal import Decimal
from pathlib import Path

from handgrad.atomic import write_file
from handgrad.errors import HandgradError
from handgrad.export import Variant
from handgrad.export.moodle import (
    DIGITS,
    SECTIONS,
    check_expressible,
    entries,
    html_fragment,
    number,
    tolerance,
    variant_title,
    xml_safe,
)
from handgrad.render.document import DisplayMath, latex_value
from handgrad.render.exam import given_blocks, statement_blocks
from handgrad.solution import Quantity

QTI_NAMESPACE = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CANVAS_NAMESPACE = "http://canvas.instructure.com/xsd/cccv1p0"
MANIFEST_NAMESPACE = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)  # fixed, so the same export is the same bytes


def _key(*parts: str) -> str:
    """A stable identifier, 'g' + 32 hex digits, like Canvas's own."""
    return "g" + hashlib.md5("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()


def _x(text: str) -> str:
    """Text as XML character data or an attribute value."""
    return html.escape(text, quote=True)


def _field(label: str, entry: str) -> str:
    return (f"<qtimetadatafield><fieldlabel>{label}</fieldlabel>"
            f"<fieldentry>{_x(entry)}</fieldentry></qtimetadatafield>")


def _material(fragment: str) -> str:
    return f'<material><mattext texttype="text/html">{_x(fragment)}</mattext></material>'


def _statement(variant: Variant) -> str:
    opt = variant.problem.spec.optimizer
    steps = f" ({opt.steps} steps: give the parameters after the last)" if opt.steps > 1 else ""
    return (
        f"<div><h3>{_x(variant_title(variant))}</h3>\n"
        + html_fragment(statement_blocks(variant.problem) + given_blocks(variant.problem, DIGITS))
        + f"\n<p>Compute one gradient-descent step{steps}. The questions that follow ask for"
        " every entry of every quantity, in order; give each to at least 2 decimals (within"
        " about ±0.02, or ±0.5 % for large entries, counts).</p></div>"
    )


def _text_only(variant: Variant) -> str:
    ident = _key(variant.id, "statement")
    return (
        f'<item ident="{ident}" title="{_x(variant_title(variant))}">'
        "<itemmetadata><qtimetadata>"
        + _field("question_type", "text_only_question")
        + _field("points_possible", "0.0")
        + _field("original_answer_ids", "")
        + "</qtimetadata></itemmetadata>"
        f"<presentation>{_material(_statement(variant))}</presentation></item>"
    )


def _worked_line(q: Quantity) -> str:
    relation = r"\leftarrow" if q.relation == "←" else "="
    latex = f"{q.symbol.latex} {relation} {q.formula.latex} = {latex_value(q.value, DIGITS)}"
    return html_fragment([DisplayMath(latex)])


def _numerical(variant: Variant, q: Quantity, label: str, value: float) -> str:
    """One entry as Canvas's numerical_question with an exact answer and a margin."""
    ident = _key(variant.id, q.section, q.key, label)
    answer_id = str(int(ident[1:9], 16) % 10000)
    exact = number(value)
    margin = Decimal(f"{tolerance(value):g}")
    lower, upper = Decimal(exact) - margin, Decimal(exact) + margin
    section = SECTIONS[q.section].lower()
    title = f"{variant_title(variant)} · {q.symbol.text}{label}"
    prompt = (
        f"<div><p><strong>{_x(variant_title(variant))}</strong>, {_x(section)}:</p>"
        + html_fragment([DisplayMath(f"{q.symbol.latex}{_entry_latex(label)} = \\;?")])
        + f"<p>Entry {_x(label or '(scalar)')} of {_x(q.symbol.text)}"
        f" (shape {'×'.join(map(str, q.shape)) or 'scalar'}).</p></div>"
    )
    return (
        f'<item ident="{ident}" title="{_x(title)}">'
        "<itemmetadata><qtimetadata>"
        + _field("question_type", "numerical_question")
        + _field("points_possible", "1.0")
        + _field("original_answer_ids", answer_id)
        + "</qtimetadata></itemmetadata>"
        f"<presentation>{_material(prompt)}"
        '<response_str ident="response1" rcardinality="Single">'
        '<render_fib fibtype="Decimal"><response_label ident="answer1"/></render_fib>'
        "</response_str></presentation>"
        "<resprocessing><outcomes>"
        '<decvar maxvalue="100" minvalue="0" varname="SCORE" vartype="Decimal"/></outcomes>'
        '<respcondition continue="Yes"><conditionvar><other/></conditionvar>'
        '<displayfeedback feedbacktype="Response" linkrefid="general_fb"/></respcondition>'
        '<respcondition continue="No"><conditionvar><or>'
        f'<varequal respident="response1">{exact}</varequal>'
        f'<and><vargte respident="response1">{lower}</vargte>'
        f'<varlte respident="response1">{upper}</varlte></and>'
        "</or></conditionvar>"
        '<setvar action="Set" varname="SCORE">100</setvar></respcondition>'
        "</resprocessing>"
        f'<itemfeedback ident="general_fb"><flow_mat>{_material(_worked_line(q))}'
        "</flow_mat></itemfeedback></item>"
    )


def _entry_latex(label: str) -> str:
    return f"_{{{label[1:-1].replace(' ', '')}}}" if label else ""


def assessment_xml(variants: list[Variant], ident: str, title: str) -> str:
    """The QTI 1.2 assessment: for each variant its statement, then a question per entry."""
    items: list[str] = []
    for variant in variants:
        items.append(_text_only(variant))
        for q in variant.asked():
            items += [_numerical(variant, q, label, value) for label, value in entries(q)]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<questestinterop xmlns="{QTI_NAMESPACE}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{QTI_NAMESPACE} '
        'http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd">\n'
        f'<assessment ident="{ident}" title="{_x(title)}">\n'
        "<qtimetadata>" + _field("cc_maxattempts", "1") + "</qtimetadata>\n"
        '<section ident="root_section">\n' + "\n".join(items) + "\n</section>\n"
        "</assessment>\n</questestinterop>\n"
    )


def meta_xml(variants: list[Variant], ident: str, title: str) -> str:
    """Canvas's assessment_meta.xml: the quiz's title, description and settings (its
    identifier is the assessment's, as Canvas's exporter writes it)."""
    points = sum(sum(1 for _ in entries(q)) for v in variants for q in v.asked())
    description = (
        "<p>One gradient-descent step by hand: the forward pass, the backward pass and the"
        " update, every entry a numerical answer. Exported by handgrad.</p>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<quiz identifier="{ident}" xmlns="{CANVAS_NAMESPACE}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{CANVAS_NAMESPACE} '
        'https://canvas.instructure.com/xsd/cccv1p0.xsd">\n'
        f"  <title>{_x(title)}</title>\n"
        f"  <description>{_x(description)}</description>\n"
        "  <shuffle_answers>false</shuffle_answers>\n"
        "  <scoring_policy>keep_highest</scoring_policy>\n"
        "  <hide_results></hide_results>\n"
        "  <quiz_type>assignment</quiz_type>\n"
        f"  <points_possible>{points:.1f}</points_possible>\n"
        "  <show_correct_answers>true</show_correct_answers>\n"
        "  <allowed_attempts>1</allowed_attempts>\n"
        "  <one_question_at_a_time>false</one_question_at_a_time>\n"
        "  <cant_go_back>false</cant_go_back>\n"
        "  <available>false</available>\n"
        "</quiz>\n"
    )


def manifest_xml(ident: str, meta_ident: str) -> str:
    """imsmanifest.xml: the assessment resource and the meta file it depends on."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest identifier="{_key(ident, "manifest")}" xmlns="{MANIFEST_NAMESPACE}" '
        'xmlns:lom="http://ltsc.ieee.org/xsd/imsccv1p1/LOM/resource" '
        'xmlns:imsmd="http://www.imsglobal.org/xsd/imsmd_v1p2" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{MANIFEST_NAMESPACE} http://www.imsglobal.org/xsd/imscp_v1p1.xsd">\n'
        "  <metadata>\n    <schema>IMS Content</schema>\n"
        "    <schemaversion>1.1.3</schemaversion>\n  </metadata>\n"
        "  <organizations/>\n  <resources>\n"
        f'    <resource identifier="{ident}" type="imsqti_xmlv1p2">\n'
        f'      <file href="{ident}/{ident}.xml"/>\n'
        f'      <dependency identifierref="{meta_ident}"/>\n    </resource>\n'
        f'    <resource identifier="{meta_ident}" '
        'type="associatedcontent/imscc_xmlv1p1/learning-application-resource" '
        f'href="{ident}/assessment_meta.xml">\n'
        f'      <file href="{ident}/assessment_meta.xml"/>\n    </resource>\n'
        "  </resources>\n</manifest>\n"
    )


def package(variants: list[Variant]) -> dict[str, str]:
    """The zip's files by name: the manifest, the assessment and its meta."""
    check_expressible(variants, "Canvas")
    names = sorted({v.problem.name for v in variants})
    title = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
    ident = _key("assessment", *(v.id for v in variants), *names)
    meta_ident = _key(ident, "meta")
    return {
        "imsmanifest.xml": manifest_xml(ident, meta_ident),
        f"{ident}/{ident}.xml": assessment_xml(variants, ident, title),
        f"{ident}/assessment_meta.xml": meta_xml(variants, ident, title),
    }


def write(variants: list[Variant], output: Path) -> Path:
    """Write the QTI zip (built in memory first: nothing is written if anything fails)."""
    if output.suffix.lower() != ".zip":
        raise HandgradError(f"-o {output}: Canvas imports a QTI package as a .zip file")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in package(variants).items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, xml_safe(text).encode("utf-8"))
    return write_file(output, buffer.getvalue())
