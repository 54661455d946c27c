"""Hostile and careless input through the real command line (issue 11): every case ends in one
clear line and exit status 2 (or a correct result), never a traceback, a hang or a raw escape.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_bad_input import SEED, assert_user_error, run_cli, write_problem


def _answer(folder: Path, text: str) -> Path:
    path = folder / "answer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_answer_of_a_huge_exponent_is_answered_at_once(tmp_path: Path) -> None:
    # Fraction("1e99999999") built 10^99999999 exactly, holding the interpreter for minutes
    answer = _answer(tmp_path, '[forward]\nloss = "1e99999999"\nh1 = ["1/3", 2, "-5"]\n')
    started = time.monotonic()
    result = run_cli("grade", "homework3", answer, "-f", "json", cwd=tmp_path)
    assert time.monotonic() - started < 30  # a hang would be minutes; this is no timing claim
    assert_user_error(result, "forward.loss", "infinite")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('"1e400"', "infinite"),
        ('"1e309"', "infinite"),
        ("9" * 400, "too large for float64"),
        ('"' + "7" * 101 + '"', "too long to be a number"),
        ('"' + "1" * 60 + "/" + "3" * 30 + '"', None),  # a bounded fraction is a number
        ('"4/0"', "is not a number"),
    ],
)
def test_absurd_numbers_in_an_answer_are_clear_errors(tmp_path: Path, value, fragment) -> None:
    answer = _answer(tmp_path, f"[forward]\nloss = {value}\n")
    result = run_cli("grade", "homework3", answer, cwd=tmp_path)
    if fragment is None:
        assert result.returncode == 0, result.stderr
    else:
        assert_user_error(result, "forward.loss", fragment)


def test_a_whole_number_of_5000_digits_in_a_problem(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "src/handgrad/problems/homework3.toml").read_text()
    path = tmp_path / "big.toml"
    path.write_text(text.replace("b1 = [-3, -2, -3]", f"b1 = [-3, -2, {'9' * 5000}]"))
    assert_user_error(run_cli("solve", path), "more than 4,300 digits")


@pytest.mark.parametrize("where", ["title", "key"])
def test_a_lone_surrogate_is_refused_with_its_place(tmp_path: Path, where: str) -> None:
    document = dict(SEED)
    if where == "title":
        document["title"] = "\ud800 broken"
    else:
        document["loss"] = {**SEED["loss"], "\udc00": 1}
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(document), encoding="utf-8")  # JSON's \\ud800 escape
    assert_user_error(run_cli("solve", path), "surrogate")


ESCAPES = "\u001b[2J\u001b]0;owned\u0007 [/] [bold]x"


@pytest.mark.parametrize("command", ["solve", "check", "grade"])
def test_a_title_with_escapes_and_markup_is_shown_as_text(tmp_path: Path, command: str) -> None:
    path = write_problem(tmp_path, {**SEED, "title": ESCAPES}, "json")
    args = [command, path] + ([_answer(tmp_path, "[forward]\nh1 = [-13, 2, -5]\n")]
                             if command == "grade" else [])
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "\u001b" not in result.stdout + result.stderr
    assert "\\x1b[2J" in result.stdout and "[/] [bold]x" in result.stdout


def test_an_unknown_key_with_an_escape_is_quoted_as_text(tmp_path: Path) -> None:
    document = {**SEED, "network": {**SEED["network"], "lay\u001b[2Jers": 1}}
    result = run_cli("solve", write_problem(tmp_path, document, "json"))
    assert_user_error(result, "network.lay\\x1b[2Jers: unknown key")
    assert "\u001b" not in result.stderr


def test_a_huge_value_is_quoted_as_a_short_excerpt(tmp_path: Path) -> None:
    document = {**SEED, "title": list(range(300_000))}  # 2 MB of JSON, under the file limit
    result = run_cli("solve", write_problem(tmp_path, document, "json"))
    assert_user_error(result, "title: expected text", "characters)")
    assert len(result.stderr) < 500


def test_a_title_pdflatex_has_no_font_for_still_compiles(tmp_path: Path) -> None:
    if not any((Path(p) / "pdflatex").exists() for p in os.environ["PATH"].split(os.pathsep)):
        pytest.skip("no pdflatex")
    document = {**SEED, "title": "中文 🎉\n\nand a blank line & $_"}
    out = tmp_path / "answer.pdf"
    result = run_cli("solve", write_problem(tmp_path, document, "json"), "-f", "pdf", "-o", out)
    assert result.returncode == 0, result.stderr
    text = subprocess.run(["pdftotext", out, "-"], capture_output=True, text=True).stdout
    assert "[U+4E2D]" in text and "[U+1F389]" in text and "and a blank line & $" in text


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_special_files_as_problems_are_refused_at_once(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path
    fragment = {"fifo": "not a regular file", "device": "not a regular file",
                "folder": "is a folder"}[kind]
    assert_user_error(run_cli("solve", path), fragment)


def test_a_problem_file_of_50_megabytes_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    with open(path, "wb") as stream:
        stream.truncate(50_000_000)  # sparse: costs no disk
    assert_user_error(run_cli("solve", path), "larger than any problem or answer needs")


@pytest.mark.skipif(os.geteuid() != 0, reason="replacing a device node needs root")
def test_output_onto_a_device_is_refused_and_the_device_kept(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    assert_user_error(run_cli("solve", "-o", "/dev/null"), "not a regular file")
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_output_onto_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert_user_error(run_cli("solve", "-o", pipe), "not a regular file")
    assert pipe.is_fifo()


def test_output_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.md"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    result = run_cli("solve", "-f", "markdown", "-o", link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text(encoding="utf-8").startswith("# Worked solution")
