"""Renderer outputs against golden files that a person has read.

Finite-difference errors (~1e-10) depend on the machine's libm, so they are masked; JSON
numbers are compared to 1e-12. To accept a deliberate change, run with HANDGRAD_UPDATE_GOLDEN=1,
then read the new files before committing them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import handgrad
from handgrad.render.terminal import render_text

GOLDEN = Path(__file__).parent / "golden"
PROBLEMS = ["homework3", "deep_batch", "regression"]
_CHECK_ERROR = re.compile(r"\d\.\de-\d\d ([✓✗])")


def _masked(text: str) -> str:
    return _CHECK_ERROR.sub(r"#.#e-## \1", text)


def _compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert _masked(text) == _masked(path.read_text(encoding="utf-8")), f"{name} changed"


def _solution(problem: str) -> handgrad.Solution:
    path = handgrad.default_problem_path().with_name(f"{problem}.toml")
    return handgrad.solve(handgrad.load_problem(path))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_terminal_golden(problem: str) -> None:
    _compare(f"{problem}.txt", render_text(_solution(problem)))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_markdown_golden(problem: str) -> None:
    _compare(f"{problem}.md", _solution(problem).to_markdown())


@pytest.mark.parametrize("problem", PROBLEMS)
def test_latex_golden(problem: str) -> None:
    _compare(f"{problem}.tex", _solution(problem).to_latex())


def _close(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            _close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and where.startswith("$.checks"):
        assert got < 1e-5, where  # a finite-difference error: machine-dependent, only bounded
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-14), where
    else:
        assert got == want, where


@pytest.mark.parametrize("problem", PROBLEMS)
def test_json_golden(problem: str) -> None:
    text = _solution(problem).to_json()
    path = GOLDEN / f"{problem}.json"
    if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
        path.write_text(text + "\n", encoding="utf-8")
    _close(json.loads(text), json.loads(path.read_text(encoding="utf-8")), "$")


def _page_body(page: str) -> str:
    """The page without KaTeX's inlined CSS and JS (vendored files, not ours to review)."""
    page = re.sub(r"<style>.*?</style>", "<style>…</style>", page, flags=re.S)
    return re.sub(r"<script>.*?</script>", "<script>…</script>", page, flags=re.S)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_html_golden(problem: str) -> None:
    _compare(f"{problem}.html", _page_body(_solution(problem).to_html()))


def test_derivation_golden() -> None:
    pytest.importorskip("sympy")
    from handgrad.derive.steps import derive
    from handgrad.render.derivation import render_derivation_markdown

    _compare("homework3.derivation.md", render_derivation_markdown(derive(handgrad.load_problem())))
