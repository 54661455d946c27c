"""The handgrad command through a real subprocess: `python -m handgrad` and the console script."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

CONSOLE_SCRIPT = Path(sys.executable).with_name("handgrad")

# A negative zero written as a whole number: -0, -0.0, -0.000, -0e+00 (but not -0.0867871).
NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(?:\.0*)?(?:e[+-]?\d+)?(?![\w.])")


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["PYTHONUTF8"] = "1"
    return env


def run_module(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "handgrad", *map(str, args)], cwd)


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run([str(CONSOLE_SCRIPT), *map(str, args)], None)


def run(command: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(),
        cwd=cwd,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """stdout of a run that exited 0 with nothing on stderr (no warnings, no traceback)."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout


def display_width(line: str) -> int:
    """Terminal columns: combining marks take none, East Asian wide characters take two."""
    width = 0
    for char in line:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def expected_seed_loss() -> float:
    """The seed homework's loss, worked here: z = (0, -3, 1), yˢ = (0.8, 0.1, 0.1)."""
    z = (0.0, -3.0, 1.0)
    total = sum(math.exp(v) for v in z)
    return -sum(t * math.log(math.exp(v) / total) for t, v in zip((0.8, 0.1, 0.1), z, strict=True))


@pytest.fixture(scope="module")
def terminal_output() -> str:
    return ok(run_module("solve"))


# --------------------------------------------------------------------------------- solve


def test_solve_shows_the_worked_solution(terminal_output: str) -> None:
    for heading in ("Forward pass", "Backward pass", "∂L/∂W1", "Homework 3, Problem 2"):
        assert heading in terminal_output
    assert "\x1b[" not in terminal_output  # no colour codes into a pipe


def test_solve_fits_in_100_columns(terminal_output: str) -> None:
    lines = terminal_output.splitlines()
    assert len(lines) > 20
    too_wide = [line for line in lines if display_width(line) > 100]
    assert too_wide == []


def test_solve_never_shows_negative_zero(terminal_output: str) -> None:
    assert NEGATIVE_ZERO.findall(terminal_output) == []


def test_negative_zero_pattern() -> None:
    """The pattern above finds what it must and nothing else."""
    for text in ("│ -0 │", "[-0.0, 1]", "-0.000 ", "⎡ -0 ⎤", "x = -0e+00"):
        assert NEGATIVE_ZERO.search(text), text
    for text in ("-0.0867871", "-0.5", "10-0", "-05", "x-0", "1e-0.3"):
        assert not NEGATIVE_ZERO.search(text), text


def test_solve_digits_3_shows_fewer_digits(terminal_output: str) -> None:
    assert "0.265388" in terminal_output  # ŷ1 at the default 6 significant digits
    short = ok(run_module("solve", "--digits", "3"))
    assert "0.265" in short
    assert "0.265388" not in short
    assert "Forward pass" in short


def test_solve_markdown() -> None:
    text = ok(run_module("solve", "--format", "markdown"))
    assert "$$" in text
    assert "\\begin{bmatrix}" in text
    assert text.count("$$") % 2 == 0  # every display-math block is closed
    assert "# Worked solution: Homework 3, Problem 2" in text


def test_solve_json() -> None:
    solution = json.loads(ok(run_module("solve", "--format", "json")))
    for key in ("problem", "forward", "backward", "update", "history", "checks"):
        assert key in solution
    assert set(solution["forward"]) >= {"h1", "a1", "z", "yhat", "ys", "loss"}
    assert set(solution["backward"]) >= {"dz", "dW2", "db2", "da1", "dh1", "dW1", "db1"}
    forward = solution["forward"]
    assert forward["z"] == pytest.approx([0, -3, 1])
    assert forward["ys"] == pytest.approx([0.8, 0.1, 0.1])
    assert forward["loss"] == pytest.approx(expected_seed_loss(), rel=1e-12)
    assert solution["history"][0] == pytest.approx(forward["loss"])
    assert len(solution["history"]) == 2  # one step: the loss before and after


@pytest.mark.parametrize("output_format", ["terminal", "markdown", "json"])
def test_solve_output_writes_the_file_and_prints_nothing(
    tmp_path: Path, output_format: str
) -> None:
    target = tmp_path / f"solution.{output_format}"
    result = run_module("solve", "--format", output_format, "--output", target)
    assert ok(result) == ""
    text = target.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temp file left
    if output_format == "terminal":
        assert "Forward pass" in text
        assert "∂L/∂W1" in text
        assert "\x1b[" not in text
    else:
        # the file holds exactly what stdout would have shown
        assert text == ok(run_module("solve", "--format", output_format))
    if output_format == "json":
        assert json.loads(text)["forward"]["loss"] == pytest.approx(expected_seed_loss())


def test_solve_output_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "solution.json"
    target.write_text("old contents that must go\n", encoding="utf-8")
    assert ok(run_module("solve", "-f", "json", "-o", "solution.json", cwd=tmp_path)) == ""
    assert "old contents" not in target.read_text(encoding="utf-8")
    json.loads(target.read_text(encoding="utf-8"))


def test_solve_of_the_seed_file_by_path_is_the_default(terminal_output: str) -> None:
    import handgrad

    seed = Path(handgrad.__file__).parent / "problems" / "homework3.toml"
    assert ok(run_module("solve", seed)) == terminal_output


# --------------------------------------------------------------------- the console script


@pytest.mark.parametrize(
    "args",
    [("solve",), ("solve", "--format", "json"), ("solve", "--format", "markdown")],
    ids=["terminal", "json", "markdown"],
)
def test_console_script_matches_python_m(args: tuple[str, ...]) -> None:
    assert CONSOLE_SCRIPT.is_file(), f"no console script at {CONSOLE_SCRIPT}"
    assert ok(run_script(*args)) == ok(run_module(*args))


# --------------------------------------------------------------------------------- check


def test_check_passes_on_the_seed() -> None:
    text = ok(run_script("check"))
    assert "PASSED" in text
    assert "FAILED" not in text
    assert "finite differences" in text


def test_check_json() -> None:
    report = json.loads(ok(run_module("check", "--format", "json")))
    assert report["passed"] is True
    assert "finite_differences" in report["checks"]
    assert all(error < 1e-5 for error in report["checks"]["finite_differences"].values())


def test_check_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    assert ok(run_module("check", "-f", "json", "-o", target)) == ""
    assert json.loads(target.read_text(encoding="utf-8"))["passed"] is True


# ---------------------------------------------------------------------------------- help


def test_help() -> None:
    text = ok(run_script("--help"))
    assert "Usage: handgrad" in text
    assert "solve" in text
    assert "check" in text


@pytest.mark.parametrize("command", ["solve", "check"])
def test_command_help(command: str) -> None:
    text = ok(run_script(command, "--help"))
    assert f"Usage: handgrad {command}" in text
    assert "--format" in text
    assert "--output" in text
    if command == "solve":
        assert "--digits" in text


def test_version() -> None:
    assert re.fullmatch(r"handgrad, version \d+\.\d+\.\d+\S*\n", ok(run_script("--version")))
