"""LaTeX, PDF and HTML documents: they compile, are self-contained and say the right things."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import handgrad
from handgrad.precision import Precision
from handgrad.render.latex import compile_pdf, latex_text, render_latex

PROBLEMS = ["homework3", "deep_batch", "regression"]
needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")


def _solution(name: str, precision: Precision | None = None) -> handgrad.Solution:
    path = handgrad.default_problem_path().with_name(f"{name}.toml")
    return handgrad.solve(handgrad.load_problem(path), precision or Precision())


def _pdf_text(pdf: bytes, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return pages, text


@needs_pdflatex
@pytest.mark.parametrize("name", PROBLEMS)
def test_latex_compiles_to_the_expected_pages(name: str, tmp_path: Path) -> None:
    if shutil.which("pdfinfo") is None:
        pytest.skip("no poppler-utils")
    pdf = compile_pdf(render_latex(_solution(name)))
    pages, text = _pdf_text(pdf, tmp_path)
    assert 2 <= pages <= 8
    for heading in ("Worked solution", "Forward pass", "Backward pass", "Gradient check"):
        assert heading in text


@needs_pdflatex
def test_exact_answers_compile(tmp_path: Path) -> None:
    if shutil.which("pdfinfo") is None:
        pytest.skip("no poppler-utils")
    pdf = compile_pdf(render_latex(_solution("homework3", Precision("exact"))))
    _, text = _pdf_text(pdf, tmp_path)
    assert "exact arithmetic" in text


def test_fragment_is_only_the_body() -> None:
    fragment = render_latex(_solution("homework3"), fragment=True)
    assert r"\documentclass" not in fragment and r"\begin{document}" not in fragment
    assert r"\begin{bmatrix}" in fragment
    whole = render_latex(_solution("homework3"))
    assert whole.startswith(r"\documentclass") and whole.rstrip().endswith(r"\end{document}")


def test_text_is_escaped_and_notation_mapped() -> None:
    assert latex_text("50% of a_b & {c}") == r"50\% of a\_b \& \{c\}"
    assert latex_text("ŷ − yˢ") == r"$\hat{y}$ $-$ y$^{s}$"
    assert latex_text("h > 0") == r"h \textgreater{} 0"


def test_html_page_is_self_contained() -> None:
    page = _solution("homework3").to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src" not in page and "<link" not in page
    assert "url(fonts/" not in page  # every KaTeX font is inlined
    assert page.count("data:font/woff2;base64,") >= 10
    assert 'data-tex="h_{1} = W_{1}^{\\top}x + b_{1} = ' in page
    assert '<meta name="viewport"' in page and "@media print" in page


def test_cli_writes_pdf_and_html(tmp_path: Path) -> None:
    html_path = tmp_path / "seed.html"
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "solve", "-f", "html", "-o", str(html_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert html_path.read_text(encoding="utf-8").count("data-tex=") > 30
    assert html_path.stat().st_mode & 0o044  # readable by others, like any file the user writes
    if shutil.which("pdflatex"):
        pdf_path = tmp_path / "seed.pdf"
        run = subprocess.run(
            [sys.executable, "-m", "handgrad", "solve", "-f", "pdf", "-o", str(pdf_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert pdf_path.read_bytes().startswith(b"%PDF")
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "solve", "-f", "pdf"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "--output" in run.stderr


def test_missing_pdflatex_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(handgrad.HandgradError, match="texlive-latex-base"):
        compile_pdf(render_latex(_solution("homework3")))
