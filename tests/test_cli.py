"""The handgrad command through a real subprocess: `python -m handgrad` and the console script."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tomllib
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


def shipped_problem(name: str) -> Path:
    """A problem file shipped with the package (src/handgrad/problems/NAME.toml)."""
    import handgrad

    return Path(handgrad.__file__).parent / "problems" / f"{name}.toml"


def seed_with_title(folder: Path, title: str) -> Path:
    """The seed homework as a JSON file with another title."""
    document = tomllib.loads(shipped_problem("homework3").read_text(encoding="utf-8"))
    document["title"] = title
    path = folder / "titled.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of each row that starts a quantity in the box table under `heading`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    header_rule = next(i for i in range(start, len(lines)) if lines[i].startswith("├"))
    rows = []
    for line in lines[header_rule + 1 :]:
        if line.startswith("╰"):
            break
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0]:
            rows.append(cells)
    return rows


def significant_digits(number: str) -> int:
    """Significant digits of a decimal string: -0.0867…e-05 counts the digits from the 8."""
    mantissa = number.lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.lstrip("0"))


def leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


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


WIDE_PROBLEM = """\
title = "Twenty inputs, ten classes"

[network]
layers = [20, 15, 10]
seed = 0

[data]
x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
label = 3

[optimizer]
learning_rate = 0.1
"""


def test_wide_problem_elides_values_but_keeps_every_formula(tmp_path: Path) -> None:
    """A 20×15 gradient does not fit in 100 columns: its value is elided with ⋯, but the
    quantity and formula columns keep their full text (they used to be squeezed to "∂…")."""
    path = tmp_path / "wide.toml"
    path.write_text(WIDE_PROBLEM, encoding="utf-8")
    text = ok(run_module("solve", path))
    assert [line for line in text.splitlines() if display_width(line) > 100] == []
    assert "⋯" in text
    for formula in ("= a1 (∂L/∂z)ᵀ", "= x (∂L/∂h1)ᵀ", "∂L/∂W2"):
        assert formula in text
    rows = table_rows(text, "Backward pass")
    quantities = [cells[0].removesuffix(" *") for cells in rows]
    assert quantities == ["∂L/∂z", "∂L/∂W2", "∂L/∂b2", "∂L/∂a1", "∂L/∂h1", "∂L/∂W1", "∂L/∂b1"]
    for cells in rows:
        quantity, formula = cells[0], cells[1]
        assert formula.startswith("= "), cells
        assert not quantity.endswith("…") and not formula.endswith("…"), cells


def test_deep_batch_at_80_columns_keeps_the_formula_column() -> None:
    import handgrad
    from handgrad.render.terminal import render_text

    solution = handgrad.solve(handgrad.load_problem(shipped_problem("deep_batch")))
    text = render_text(solution, width=80)
    assert [line for line in text.splitlines() if display_width(line) > 80] == []
    assert "(∂L/∂Z)ᵀ A2" in text


def test_solve_exact_shows_closed_forms() -> None:
    assert "e³/(1 + e³ + e⁴)" in ok(run_module("solve", "--exact"))


def test_solve_digits_40_json_has_40_digit_strings() -> None:
    solution = json.loads(ok(run_module("solve", "--digits", "40", "--format", "json")))
    numbers = leaves(solution["forward"]) + leaves(solution["backward"])
    assert len(numbers) > 20
    assert all(isinstance(number, str) for number in numbers), numbers
    nonzero = [number for number in numbers if number != "0"]
    assert len(nonzero) > 20
    assert {significant_digits(number) for number in nonzero} == {40}, nonzero


def test_solve_markdown_escapes_html_in_the_title(tmp_path: Path) -> None:
    text = ok(run_module("solve", seed_with_title(tmp_path, "<b>x</b>"), "-f", "markdown"))
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>" not in text


def test_solve_json_keeps_the_title_verbatim(tmp_path: Path) -> None:
    """The JSON writer lays out lists of numbers on one line; text that looks like one is kept."""
    title = "Lists like [1,    2] and [\n3] stay as written"
    output = ok(run_module("solve", seed_with_title(tmp_path, title), "--format", "json"))
    assert json.loads(output)["problem"]["title"] == title


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


ZERO_GRADIENT_PROBLEM = """\
title = "Three identical rows, one of each class, a flat output layer"

[network]
layers = [2, 3, 3]

[params]
W1 = [[1, -1, 0.5], [0.5, 1, -1]]
b1 = [0, 0, 0]
W2 = [[0.5, 0.5, 0.5], [-1, -1, -1], [0.25, 0.25, 0.25]]
b2 = [0, 0, 0]

[data]
x = [[0.5, 1], [0.5, 1], [0.5, 1]]
label = [0, 1, 2]

[optimizer]
learning_rate = 0.1
"""


def test_check_passes_where_the_true_gradient_is_zero(tmp_path: Path) -> None:
    """Every logit is equal, so ŷ is uniform and the batch's one-hot targets average to it: every
    gradient is exactly 0 in theory, and ours, PyTorch's and JAX's are ±1e-17 rounding noise.
    Noise against noise is no disagreement (check used to fail here with relative errors ~1)."""
    path = tmp_path / "zero.toml"
    path.write_text(ZERO_GRADIENT_PROBLEM, encoding="utf-8")
    text = ok(run_module("check", path))
    assert "PASSED" in text
    assert "FAILED" not in text
    report = json.loads(ok(run_module("check", path, "--format", "json")))
    assert report["passed"] is True


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
