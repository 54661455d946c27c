"""`handgrad report`: the derivation, the schematic and the worked numbers in one document."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import handgrad

pytest.importorskip("sympy")


def _report(tmp_path: Path, fmt: str) -> Path:
    output = tmp_path / f"report.{ {'markdown': 'md', 'latex': 'tex'}.get(fmt, fmt) }"
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "report", "-f", fmt, "-o", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return output


def test_html_report_has_every_part(tmp_path: Path) -> None:
    page = _report(tmp_path, "html").read_text(encoding="utf-8")
    for part in (
        "Problem 1: the gradients, derived",
        "The backprop schematic",
        "Problem 2: one gradient-descent step, worked",
        "Gradient check",
        "every step verified",
    ):
        assert part in page, part
    if shutil.which("dot"):
        assert "<svg" in page
    assert r"\frac{e^{3}}{1 + e^{3} + e^{4}}" in page  # ŷ₁ in closed form


@pytest.mark.skipif(
    shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
    reason="needs pdflatex and poppler-utils",
)
def test_pdf_report_compiles_with_the_schematic(tmp_path: Path) -> None:
    pdf = _report(tmp_path, "pdf")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Problem 1" in text and "Problem 2" in text
    if shutil.which("dot"):
        images = subprocess.run(
            ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
        ).stdout
        assert len(images.strip().splitlines()) >= 3  # header, rule, the schematic


def test_markdown_report_embeds_the_schematic(tmp_path: Path) -> None:
    text = _report(tmp_path, "markdown").read_text(encoding="utf-8")
    assert "## Problem 1: the gradients, derived" in text
    if shutil.which("dot"):
        assert "(data:image/png;base64," in text


# ---- documents that fit the page (issue 14): the seed, deep_batch and a six-layer net -------

DEEP = {
    "title": "Six layers",
    "network": {"layers": [4, 8, 8, 8, 8, 8, 3], "activation": "relu", "seed": 3},
    "data": {"x": [0.5, -1.0, 0.25, 2.0], "label": 1},
    "loss": {"label_smoothing": 0.1},
    "optimizer": {"learning_rate": 0.1},
}
PAGE_FITS = ["homework3", "deep_batch", "six_layers"]
needs_tex = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdflatex", "pdftotext", "pdfimages", "dot")),
    reason="needs pdflatex, poppler-utils and graphviz",
)


def _shipped(name: str) -> Path:
    return handgrad.default_problem_path().with_name(f"{name}.toml")


@dataclass
class Built:
    blocks: list[Any]
    pdf: Path
    log: str


@pytest.fixture(scope="module", params=PAGE_FITS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A report's blocks, its PDF and pdflatex's log."""
    from handgrad.derive.answer import report_solution
    from handgrad.render.document import Figure
    from handgrad.render.latex import compile_pdf_and_log, write_latex
    from handgrad.render.report import report_blocks

    name = request.param
    problem = handgrad.load_problem(DEEP if name == "six_layers" else _shipped(name))
    blocks = report_blocks(*report_solution(problem))
    files = {block.name: block.png for block in blocks if isinstance(block, Figure)}
    pdf, log = compile_pdf_and_log(write_latex(blocks), files)
    path = tmp_path_factory.mktemp(name) / f"{name}.pdf"
    path.write_bytes(pdf)
    return Built(blocks, path, log)


@needs_tex
def test_no_line_runs_into_the_margin(built: Built) -> None:
    overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", built.log)]
    assert max(overfull, default=0.0) <= 1.0, overfull


def _placed_images(pdf: Path) -> list[tuple[int, float]]:
    """(pixel width, pixels per inch as placed) of each picture in the PDF, in order."""
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in listing.splitlines()[2:]]
    return [(int(row[3]), float(row[12])) for row in rows if row[2] == "image"]


@needs_tex
def test_schematic_text_is_at_least_7pt_on_the_page(built: Built) -> None:
    from handgrad.render.document import Figure

    figures = [block for block in built.blocks if isinstance(block, Figure)]
    placed = _placed_images(built.pdf)
    assert figures and len(placed) == len(figures)
    for figure, (pixels, ppi) in zip(figures, placed, strict=True):
        assert int.from_bytes(figure.png[16:20], "big") == pixels  # the PNG's own width
        natural = float(re.search(r'<svg width="([\d.]+)pt"', figure.svg).group(1))  # type: ignore[union-attr]
        scale = pixels / ppi * 72 / natural  # points on the page per point of the drawing
        smallest = min(float(size) for size in re.findall(r'font-size="([\d.]+)"', figure.svg))
        assert smallest * scale >= 7.0, (figure.name, smallest, scale)


def _bottom_lines(pdf: Path) -> list[str]:
    """The lowest line of text on each page but the last (the page number left out)."""
    boxed = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines = []
    for page in re.findall(r"<page .*?</page>", boxed, flags=re.DOTALL)[:-1]:
        words = [
            (float(y1), html.unescape(text))
            for y0, y1, text in re.findall(
                r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>',
                page,
            )
            if float(y0) < 790  # below the text area of an A4 page with 2 cm margins
        ]
        if words:
            bottom = max(y for y, _ in words)
            lines.append(" ".join(text for y, text in words if y >= bottom - 14))
    return lines


@needs_tex
def test_no_heading_is_left_at_the_foot_of_a_page(built: Built) -> None:
    from handgrad.render.document import Bold, Heading, Paragraph

    starts = {block.text.split()[0] for block in built.blocks if isinstance(block, Heading)}
    starts |= {  # run-in titles: a paragraph of one bold word, such as Conventions
        part.text
        for block in built.blocks
        if isinstance(block, Paragraph) and len(block.parts) == 1
        for part in block.parts
        if isinstance(part, Bold)
    }
    for number, line in enumerate(_bottom_lines(built.pdf), start=1):
        assert line.split()[0] not in starts, (number, line)  # a section title
        assert "shape" not in line.split(), (number, line)  # a step's run-in title


@needs_tex
def test_the_foot_of_page_check_sees_a_stranded_title(tmp_path: Path) -> None:
    from handgrad.render.latex import PREAMBLE, compile_pdf

    body = "\\vspace*{640pt}\n\\textbf{12.} $b_{3}$ $\\cdot$ shape 2\n\\newpage\nx\n"
    pdf = tmp_path / "stranded.pdf"
    pdf.write_bytes(compile_pdf(PREAMBLE + body + "\\end{document}\n"))
    assert "shape" in _bottom_lines(pdf)[0].split()


def test_no_document_sends_its_reader_to_a_json_they_do_not_have() -> None:
    from handgrad.derive.answer import report_solution
    from handgrad.render.html import write_html
    from handgrad.render.latex import write_latex
    from handgrad.render.markdown import write_markdown
    from handgrad.render.report import report_blocks
    from handgrad.render.terminal import render_text

    derivation, solution = report_solution(handgrad.load_problem(_shipped("homework3")))
    assert solution.precision.kind == "exact"
    blocks = report_blocks(derivation, solution)
    documents = [write_markdown(blocks), write_html(blocks, "t"), write_latex(blocks)]
    for document in [*documents, render_text(solution, 6)]:
        assert "exact form in the JSON" not in document and "in the JSON" not in document
    for document in documents:  # the loss after the step is too long to show: how to get it
        # (LaTeX writes the two hyphens -{}- so that TeX does not make them an en dash)
        assert re.search(r"handgrad solve (--|-\{\}-)exact (--|-\{\}-)format json", document)


def test_a_command_written_in_latex_keeps_its_two_hyphens() -> None:
    """TeX turns -- into an en dash: a student copying 'handgrad solve –exact' from the PDF
    would get a command that fails."""
    from handgrad.derive.answer import report_solution
    from handgrad.render.latex import write_latex
    from handgrad.render.report import report_blocks

    derivation, solution = report_solution(handgrad.load_problem(_shipped("homework3")))
    latex = write_latex(report_blocks(derivation, solution))
    assert "handgrad solve -{}-exact -{}-format json" in latex
    assert not re.search(r"\\text\{[^}]*--exact", latex)
