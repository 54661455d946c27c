"""Bad problem files and bad options through the real CLI: exit status 2, one clear message that
names the key (or the file and line) and what is wrong, and never a traceback.

Every case starts from a valid problem (the seed homework, written out here as TOML or JSON) and
breaks one thing, so the message can only come from that one mistake.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The seed homework (src/handgrad/problems/homework3.toml) as a Python dict.
SEED: dict[str, Any] = {
    "title": "Homework 3, Problem 2",
    "network": {"layers": [2, 3, 3], "activation": "relu", "output": "softmax", "layout": "in_out"},
    "params": {
        "W1": [[-5, 2, 2], [-5, 2, -1]],
        "b1": [-3, -2, -3],
        "W2": [[3, -4, 1], [-2, -4, -2], [-4, -2, 3]],
        "b2": [4, 5, 5],
    },
    "data": {"x": [0, 2], "y": [1, 0, 0]},
    "loss": {"kind": "cross_entropy", "label_smoothing": 0.3, "smoothing": "uniform"},
    "optimizer": {"learning_rate": 0.1, "steps": 1},
}

FORMATS = ("toml", "json")


# ------------------------------------------------------------------------------------ helpers


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["PYTHONUTF8"] = "1"
    return env


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handgrad", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env(),
        cwd=cwd,
        timeout=120,
    )


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(document: dict[str, Any]) -> str:
    """Top-level values first, then one [section] per table (all the problem format needs)."""
    lines = [f"{key} = {toml_value(v)}" for key, v in document.items() if not isinstance(v, dict)]
    for name, table in document.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]"]
            lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def render(document: dict[str, Any], fmt: str) -> str:
    return to_toml(document) if fmt == "toml" else json.dumps(document, indent=2) + "\n"


def write_problem(folder: Path, document: dict[str, Any], fmt: str) -> Path:
    path = folder / f"problem.{fmt}"
    path.write_text(render(document, fmt), encoding="utf-8")
    return path


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 2, `handgrad: error:` with every fragment on stderr, nothing on stdout."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode == 2, everything
    assert result.stderr.startswith("handgrad: error: "), result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode == 2, everything
    assert "Usage: handgrad" in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"


# --------------------------------------------------------------------------- the valid start


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_unbroken_problem_solves(tmp_path: Path, fmt: str) -> None:
    """The starting point of every case below is valid, so each failure is the one mistake."""
    result = run_cli("solve", write_problem(tmp_path, SEED, fmt), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["forward"]["loss"] == pytest.approx(1.5265626412674704)


# ---------------------------------------------------------------------------- the file itself


def test_file_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert_user_error(run_cli("solve", missing), "nope.toml", "does not exist")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", ["", "  \n\t \n\n"], ids=["empty", "whitespace-only"])
def test_empty_file(tmp_path: Path, fmt: str, text: str) -> None:
    path = tmp_path / f"blank.{fmt}"
    path.write_text(text, encoding="utf-8")
    assert_user_error(run_cli("solve", path), "blank." + fmt, "the file is empty")


def test_a_folder_is_not_a_problem_file(tmp_path: Path) -> None:
    folder = tmp_path / "problems.toml"
    folder.mkdir()
    assert_user_error(run_cli("solve", folder), "problems.toml", "not a file")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    lines = to_toml(SEED).splitlines()
    broken = lines.index("learning_rate = 0.1")
    lines[broken] = "learning_rate = 0.1.2 oops"
    path = tmp_path / "broken.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_user_error(run_cli("solve", path), "broken.toml", "invalid TOML", f"line {broken + 1}")


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    lines = (json.dumps(SEED, indent=2)).splitlines()
    broken = next(i for i, line in enumerate(lines) if '"learning_rate"' in line)
    lines[broken] = lines[broken].replace("0.1", "oops")
    path = tmp_path / "broken.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_user_error(run_cli("solve", path), "broken.json", "invalid JSON", f"line {broken + 1}")


def test_json_nested_too_deeply_is_a_clear_error(tmp_path: Path) -> None:
    """3000 nested lists would exhaust the JSON reader's recursion: a message instead."""
    document = copy.deepcopy(SEED)
    document["title"] = "PLACEHOLDER"
    text = json.dumps(document).replace('"PLACEHOLDER"', "[" * 3000 + "]" * 3000)
    (tmp_path / "deep.json").write_text(text, encoding="utf-8")
    result = run_cli("solve", "deep.json", cwd=tmp_path)  # tmp_path's name holds "nested"
    assert_user_error(result, "deep.json", "nested too deeply")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_byte_order_mark_is_accepted(tmp_path: Path, fmt: str) -> None:
    """Editors on Windows save UTF-8 with a BOM; the file is otherwise valid."""
    path = tmp_path / f"bom.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + render(SEED, fmt).encode("utf-8"))
    result = run_cli("solve", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["forward"]["loss"] == pytest.approx(1.5265626412674704)


def test_json_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]\n", encoding="utf-8")
    assert_user_error(run_cli("solve", path), "list.json", "top level must be a table")


# ------------------------------------------------------------------ one mistake in the content


def drop(section: str, key: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        if key is None:
            del document[section]
        else:
            del document[section][key]

    return change


def put(section: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document[section].update(values)

    return change


def put_param(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return put("params", **{name: value})


def use_labels(label: Any, **data: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        del document["data"]["y"]
        document["data"].update(label=label, **data)

    return change


def add_unknown_section(document: dict[str, Any]) -> None:
    document["netwrk"] = {"layers": [2, 3, 3]}


def out_in_layout(document: dict[str, Any]) -> None:
    document["network"]["layout"] = "out_in"  # W1 stays 2×3, but out_in needs 3×2


def huge_network(document: dict[str, Any]) -> None:
    """Twelve hidden layers of 1000 (11 million weights), [params] left out to be drawn."""
    document["network"]["layers"] = [2, *[1000] * 12, 3]
    del document["params"]


def squared_error_with_smoothing(document: dict[str, Any]) -> None:
    """`smoothing` only means something for cross-entropy: a non-default value here is a mistake."""
    document["network"]["output"] = "identity"
    document["loss"] = {"kind": "squared_error", "smoothing": "others"}


NAN, INF = float("nan"), float("inf")
HUGE = int("9" * 400)  # TOML and JSON both allow whole numbers of any size

CASES = [
    # missing required keys and sections
    pytest.param(
        drop("optimizer", "learning_rate"),
        ["optimizer.learning_rate", "missing required key"],
        id="missing-learning_rate",
    ),
    pytest.param(
        drop("network", "layers"), ["network.layers", "missing required key"], id="missing-layers"
    ),
    pytest.param(drop("data", "x"), ["data.x", "missing required key"], id="missing-x"),
    pytest.param(
        drop("optimizer"), ["optimizer: missing required section"], id="missing-optimizer-section"
    ),
    # unknown names, with suggestions
    pytest.param(
        put("optimizer", lerning_rate=0.2),
        ["optimizer.lerning_rate", "unknown key", "did you mean 'learning_rate'"],
        id="unknown-key-lerning_rate",
    ),
    pytest.param(
        add_unknown_section,
        ["netwrk", "unknown section", "did you mean 'network'"],
        id="unknown-section-netwrk",
    ),
    pytest.param(
        put("network", activation="relux"),
        ["network.activation", "'relux' is not one of", "did you mean 'relu'"],
        id="unknown-activation-relux",
    ),
    pytest.param(
        put("optimizer", frozen=["W3"]),
        ["optimizer.frozen", "'W3' is not a parameter", "W1, b1, W2, b2"],
        id="frozen-unknown-parameter",
    ),
    # shapes
    pytest.param(
        put_param("W1", [[-5, -5], [2, 2], [2, -1]]),
        ["params.W1", "has shape 3×2", "needs a 2×3 matrix", "transpose"],
        id="W1-3x2-for-in_out",
    ),
    pytest.param(
        out_in_layout,
        ["params.W1", "has shape 2×3", "'out_in'", "needs a 3×2 matrix", "transpose"],
        id="W1-2x3-for-out_in",
    ),
    pytest.param(
        put("data", y=[1, 0]),
        ["data.y", "q = layers[-1] = 3 entries", "got 2"],
        id="y-wrong-length",
    ),
    # ragged lists
    pytest.param(
        put_param("W2", [[3, -4, 1], [-2, -4], [-4, -2, 3]]),
        ["params.W2", "ragged list", "entry 1"],
        id="W2-ragged",
    ),
    pytest.param(
        put("data", x=[[0, 2], [1]], y=[[1, 0, 0], [0, 1, 0]]),
        ["data.x", "ragged list", "entry 1"],
        id="x-batch-ragged",
    ),
    # text where numbers belong
    pytest.param(
        put_param("W2", [[3, "four", 1], [-2, -4, -2], [-4, -2, 3]]),
        ["params.W2[0][1]", "expected a number", "'four'"],
        id="text-in-matrix",
    ),
    pytest.param(
        put("optimizer", learning_rate="0.1"),
        ["optimizer.learning_rate", "expected a number", "'0.1'"],
        id="text-learning_rate",
    ),
    pytest.param(
        put("network", layers=[2, "3", 3]),
        ["network.layers", "expected a list of whole numbers"],
        id="text-in-layers",
    ),
    # NaN and infinity (nan/inf in TOML, NaN/Infinity in JSON)
    pytest.param(
        put_param("W1", [[NAN, 2, 2], [-5, 2, -1]]),
        ["params.W1[0][0]", "NaN and infinite values are not allowed"],
        id="nan-in-params",
    ),
    pytest.param(
        put_param("b1", [-3, -INF, -3]),
        ["params.b1[1]", "NaN and infinite values are not allowed"],
        id="inf-in-params",
    ),
    pytest.param(
        put("data", x=[NAN, 2]),
        ["data.x[0]", "NaN and infinite values are not allowed"],
        id="nan-in-x",
    ),
    pytest.param(
        put("optimizer", learning_rate=NAN),
        ["optimizer.learning_rate", "finite", "nan"],
        id="nan-learning_rate",
    ),
    pytest.param(
        put("optimizer", learning_rate=INF),
        ["optimizer.learning_rate", "finite", "inf"],
        id="inf-learning_rate",
    ),
    # bounds
    pytest.param(
        put("loss", label_smoothing=1.5),
        ["loss.label_smoothing", "between 0 and 1", "1.5"],
        id="label_smoothing-1.5",
    ),
    pytest.param(
        put("loss", label_smoothing=-0.1),
        ["loss.label_smoothing", "between 0 and 1", "-0.1"],
        id="label_smoothing-negative",
    ),
    pytest.param(
        put("optimizer", learning_rate=0),
        ["optimizer.learning_rate", "positive", "got 0"],
        id="learning_rate-zero",
    ),
    pytest.param(
        put("optimizer", learning_rate=-0.1),
        ["optimizer.learning_rate", "positive", "got -0.1"],
        id="learning_rate-negative",
    ),
    pytest.param(
        put("network", layers=[2, 0, 3]),
        ["network.layers[1]", "at least 1", "got 0"],
        id="layer-size-zero",
    ),
    pytest.param(
        put("optimizer", steps=0), ["optimizer.steps", "between 1 and", "got 0"], id="steps-zero"
    ),
    # targets
    pytest.param(
        put("data", y=[1, 1, 0]), ["data.y", "distribution", "sum", "2.0"], id="y-sums-to-2"
    ),
    pytest.param(
        put("data", y=[1.5, -0.5, 0]), ["data.y", "distribution", "≥ 0"], id="y-negative-entry"
    ),
    pytest.param(
        use_labels(3), ["data.label", "class index 3 is out of range 0..2"], id="label-too-big"
    ),
    pytest.param(
        use_labels(-1), ["data.label", "class index -1 is out of range"], id="label-negative"
    ),
    pytest.param(put("data", label=0), ["data.y", "label", "both"], id="both-y-and-label"),
    pytest.param(
        put("network", output="sigmoid"),
        ["loss.kind", "cross_entropy requires network.output = 'softmax'", "'sigmoid'"],
        id="cross_entropy-with-sigmoid-output",
    ),
    # batch sizes
    pytest.param(
        put("data", x=[[0, 2], [1, 1]]),
        ["data.y", "batch sizes differ"],
        id="batch-x2-y-single",
    ),
    pytest.param(
        put("data", x=[[0, 2], [1, 1]], y=[[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
        ["data.y", "batch sizes differ"],
        id="batch-x2-y3",
    ),
    pytest.param(
        put("data", x=[[0, 2], [1, 1]], y=[[1, 0, 0]] * 4),
        ["data.y", "batch sizes differ"],
        id="batch-x2-y4",
    ),
    pytest.param(
        use_labels([0, 1, 2], x=[[0, 2], [1, 1]]),
        ["batch sizes differ"],
        id="batch-x2-label3",
    ),
    pytest.param(
        put("data", y=[[1, 0, 0]]), ["data.y", "batch sizes differ"], id="x-single-y-batch1"
    ),
    pytest.param(
        use_labels(0, x=[[0, 2], [1, 1]]), ["batch sizes differ"], id="batch-x2-label-single"
    ),
    # empty, huge and too deeply nested values: a message, never a traceback or a hang
    pytest.param(put("data", y=[]), ["data.y", "empty"], id="y-empty"),
    pytest.param(
        put("optimizer", learning_rate=HUGE),
        ["optimizer.learning_rate", "too large"],
        id="learning_rate-400-digits",
    ),
    pytest.param(
        put_param("b1", [-3, -2, HUGE]), ["params.b1[2]", "too large"], id="b1-400-digits"
    ),
    pytest.param(
        put("network", layers=[2, 100_000_000_000, 3]),
        ["network.layers[1]", "100,000 at most"],
        id="layer-of-1e11-units",
    ),
    pytest.param(
        huge_network,
        ["network.layers", "parameters, more than handgrad works with"],
        id="11-million-parameters",
    ),
    pytest.param(put("data", x=[[[[0, 2]]]]), ["data.x", "nested"], id="x-nested-4-deep"),
    # settings that do not apply to the chosen network or loss: a non-default value is a mistake
    pytest.param(
        squared_error_with_smoothing,
        ["loss.smoothing", "applies only"],
        id="smoothing-with-squared_error",
    ),
    pytest.param(
        put("network", leaky_slope=0.2),
        ["network.leaky_slope", "applies only"],
        id="leaky_slope-with-relu",
    ),
    pytest.param(
        put("network", activation="tanh", relu_grad_at_zero=0.5),
        ["network.relu_grad_at_zero", "applies only"],
        id="relu_grad_at_zero-with-tanh",
    ),
]


def test_a_diverging_run_is_a_clear_error(tmp_path: Path) -> None:
    """Too large a learning rate: the loss overflows; say so, with the key to change."""
    document = {
        "network": {"layers": [1, 1], "output": "identity"},
        "params": {"W1": [[1.0]], "b1": [0.0]},
        "data": {"x": [1.0], "y": [2.0]},
        "loss": {"kind": "squared_error"},
        "optimizer": {"learning_rate": 10, "steps": 1000},
    }
    path = write_problem(tmp_path, document, "json")
    for command in (["solve", path, "--format", "json"], ["solve", path], ["check", path]):
        result = run_cli(*command)
        assert_user_error(result, path.name, "optimizer.learning_rate", "diverged at step")
        assert "RuntimeWarning" not in result.stderr


def test_numbers_too_large_for_float64_are_a_clear_error(tmp_path: Path) -> None:
    document = copy.deepcopy(SEED)
    document["params"]["b2"] = [1e308, 1e308, -1e308]
    path = write_problem(tmp_path, document, "toml")
    result = run_cli("solve", path)
    assert_user_error(result, path.name, "overflow float64", "scale them down")
    assert "RuntimeWarning" not in result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("change", "fragments"), CASES)
def test_one_mistake(
    tmp_path: Path, fmt: str, change: Callable[[dict[str, Any]], None], fragments: list[str]
) -> None:
    document = copy.deepcopy(SEED)
    change(document)
    path = write_problem(tmp_path, document, fmt)
    # By its bare name from its own folder: tmp_path holds the test id ("..._y_empty_...") and
    # would otherwise supply one-word fragments such as "empty" itself.
    result = run_cli("solve", path.name, cwd=tmp_path)
    assert str(tmp_path) not in result.stderr
    assert_user_error(result, path.name, *fragments)
    assert "problems:" not in result.stderr  # exactly this one mistake is reported


@pytest.mark.parametrize("fmt", FORMATS)
def test_settings_that_do_not_apply_may_still_be_written_at_their_defaults(
    tmp_path: Path, fmt: str
) -> None:
    """Only a non-default value of an irrelevant setting is a mistake; spelling out the default
    (as a template file might) is not."""
    document = copy.deepcopy(SEED)
    document["network"].update(activation="tanh", leaky_slope=0.01, relu_grad_at_zero=0.0)
    document["network"]["output"] = "identity"
    document["loss"] = {"kind": "squared_error", "smoothing": "uniform", "label_smoothing": 0}
    result = run_cli("solve", write_problem(tmp_path, document, fmt), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_shape_that_is_not_a_transpose_gives_no_transpose_hint(tmp_path: Path) -> None:
    document = copy.deepcopy(SEED)
    document["params"]["W1"] = [[-5, 2, 2], [-5, 2, -1], [1, 1, 1]]  # 3×3, needs 2×3
    result = run_cli("solve", write_problem(tmp_path, document, "toml"))
    assert_user_error(result, "params.W1", "has shape 3×3", "needs a 2×3 matrix")
    assert "transpose" not in result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_several_mistakes_are_reported_together(tmp_path: Path, fmt: str) -> None:
    document = copy.deepcopy(SEED)
    document["optimizer"]["learning_rate"] = -1
    document["network"]["activation"] = "relux"
    document["loss"]["label_smoothing"] = 2
    result = run_cli("solve", write_problem(tmp_path, document, fmt))
    assert_user_error(
        result,
        "3 problems",
        "optimizer.learning_rate",
        "network.activation",
        "loss.label_smoothing",
    )


def test_mistakes_in_settings_and_arrays_are_reported_together(tmp_path: Path) -> None:
    document = copy.deepcopy(SEED)
    document["params"]["W1"] = [[1]]
    document["data"]["y"] = [1, 1, 1]
    result = run_cli("solve", write_problem(tmp_path, document, "toml"))
    assert_user_error(result, "2 problems", "params.W1", "data.y")


def test_a_misspelt_key_is_reported_with_the_missing_one(tmp_path: Path) -> None:
    document = copy.deepcopy(SEED)
    document["optimizer"]["lerning_rate"] = document["optimizer"].pop("learning_rate")
    result = run_cli("solve", write_problem(tmp_path, document, "toml"))
    assert_user_error(
        result,
        "2 problems",
        "optimizer.lerning_rate: unknown key; did you mean 'learning_rate'?",
        "optimizer.learning_rate: missing required key",
    )


# ------------------------------------------------------------------------------------ options


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--digits", "0"], "--digits"),
        (["--digits", "1001"], "--digits"),
        (["--format", "docx"], "'docx'"),
    ],
    ids=["digits-0", "digits-1001", "format-docx"],
)
def test_bad_options_are_usage_errors(args: list[str], fragment: str) -> None:
    assert_usage_error(run_cli("solve", *args), "Error: Invalid value", fragment)


def test_pdf_to_stdout_is_refused() -> None:
    """A PDF is binary: without --output it would garble the terminal."""
    assert_user_error(run_cli("solve", "--format", "pdf"), "--format pdf", "--output")


def test_check_format_markdown_is_a_usage_error() -> None:
    assert_usage_error(run_cli("check", "--format", "markdown"), "'markdown'")


def test_check_reports_a_bad_file_like_solve(tmp_path: Path) -> None:
    document = copy.deepcopy(SEED)
    document["optimizer"]["learning_rate"] = 0
    path = write_problem(tmp_path, document, "toml")
    assert_user_error(run_cli("check", path), path.name, "optimizer.learning_rate", "positive")


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    assert_user_error(run_cli("check", tmp_path / "gone.json"), "gone.json", "does not exist")


# ----------------------------------------------------------------------------------- --output


@pytest.mark.parametrize("output_format", ["terminal", "markdown", "json"])
def test_output_into_a_missing_folder(tmp_path: Path, output_format: str) -> None:
    problem = write_problem(tmp_path, SEED, "toml")
    target = tmp_path / "no-such-folder" / "solution.txt"
    result = run_cli("solve", problem, "--format", output_format, "--output", target)
    assert_user_error(result, "--output", "no-such-folder", "does not exist")
    assert not target.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [problem.name]  # nothing written


@pytest.mark.parametrize(
    ("command", "output_format"),
    [("solve", "terminal"), ("solve", "markdown"), ("solve", "json"), ("check", "terminal")],
)
def test_output_onto_the_problem_file_is_refused(
    tmp_path: Path, command: str, output_format: str
) -> None:
    problem = write_problem(tmp_path, SEED, "toml")
    before = problem.read_bytes()
    result = run_cli(command, problem, "--format", output_format, "--output", problem)
    assert_user_error(result, "--output", "overwrite the problem file")
    assert problem.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [problem.name]  # no stray temp file


def test_output_onto_the_problem_file_spelled_differently_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    problem = write_problem(tmp_path, SEED, "json")
    before = problem.read_bytes()
    result = run_cli("solve", "problem.json", "-o", "sub/../problem.json", cwd=tmp_path)
    assert_user_error(result, "overwrite the problem file")
    assert problem.read_bytes() == before


def test_output_onto_a_folder_is_refused(tmp_path: Path) -> None:
    problem = write_problem(tmp_path, SEED, "toml")
    folder = tmp_path / "out"
    folder.mkdir()
    assert_user_error(run_cli("solve", problem, "-o", folder), "--output", "is a folder")
    assert list(folder.iterdir()) == []
