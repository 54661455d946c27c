"""problem.py: a problem document loads back as the same problem; shipped examples by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handgrad.errors import ProblemError
from handgrad.problem import example_names, load_problem, validate_problem


@pytest.mark.parametrize("name", ["homework3", "deep_batch", "regression"])
def test_to_dict_loads_back_as_the_same_problem(name: str) -> None:
    # issue 10, item 3: params_initialised was an unknown section and data.label = None refused
    problem = load_problem(name)
    again = validate_problem(problem.to_dict(), "<round trip>")
    assert again.architecture == problem.architecture
    np.testing.assert_array_equal(again.x, problem.x)
    np.testing.assert_array_equal(again.y, problem.y)
    assert again.batched == problem.batched
    for key, value in problem.params.items():
        np.testing.assert_array_equal(again.params[key], value)
    assert again.spec.optimizer == problem.spec.optimizer
    assert again.spec.loss == problem.spec.loss
    assert again.spec.title == problem.spec.title


def test_shipped_examples_load_by_name_with_or_without_suffix() -> None:
    assert example_names() == ["deep_batch", "homework3", "regression"]
    assert load_problem("homework3").name == "Homework 3, Problem 2"
    assert load_problem("deep_batch.toml").batch_size == 3


def test_a_file_of_that_name_wins_over_the_example(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = load_problem("homework3").to_dict()
    text["title"] = "my own"
    import json

    Path("homework3").write_text(json.dumps(text), encoding="utf-8")  # TOML reader: not JSON
    with pytest.raises(ProblemError, match="invalid TOML"):
        load_problem("homework3")


def test_unknown_name_says_which_examples_exist(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProblemError, match=r"no shipped example is called that \(deep_batch"):
        load_problem("homework4")


def _handgrad(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_readme_newcomer_grades_against_the_shipped_homework(tmp_path: Path) -> None:
    # issue 10, item 8: `handgrad grade homework3.toml my_answer.toml` said "does not exist"
    (tmp_path / "my_answer.toml").write_text("[forward]\nh1 = [-13, 2, -5]\n", encoding="utf-8")
    result = _handgrad("grade", "homework3.toml", "my_answer.toml", "-f", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"name": "h1"' in result.stdout and '"status": "correct"' in result.stdout


def test_examples_lists_and_writes_an_example(tmp_path: Path) -> None:
    listed = _handgrad("examples", cwd=tmp_path)
    assert listed.returncode == 0
    assert listed.stdout.split()[0] == "deep_batch"
    assert "homework3    Homework 3, Problem 2" in listed.stdout
    written = _handgrad("examples", "deep_batch", "-o", "mine.toml", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    mine = load_problem(tmp_path / "mine.toml")
    assert mine.architecture == load_problem("deep_batch").architecture
    unknown = _handgrad("examples", "homewrok3", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "did you mean 'homework3'" in unknown.stderr and "Traceback" not in unknown.stderr
