"""`handgrad report`: the derivation, the schematic and the worked numbers in one document."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
