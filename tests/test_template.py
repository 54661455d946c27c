"""handgrad template: a blank answer sheet, every quantity asked for under its section and name
in its shape with its formula, that `handgrad grade` reads back (the round trip)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from handgrad.cli.grading import template
from handgrad.grade import AnswerError, grade_document
from handgrad.grading.template import template_json, template_toml
from handgrad.problem import load_problem, validate_problem
from handgrad.solver import solve
from tests.test_grade import SEED_DOC
from tests.test_rounding import answer_of, work


def _filled(sheet: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The sheet with each blank replaced by the student's value, where they have one."""
    filled = json.loads(json.dumps(sheet))
    for section, content in values.items():
        for name, value in content.items():
            assert np.shape(filled[section][name]) == np.shape(value), (section, name)
            filled[section][name] = value
    return filled


def test_the_toml_sheet_has_every_quantity_asked_blank_with_its_formula():
    solution = solve(load_problem("homework3"))
    text = template_toml(solution, "homework3")
    sheet = tomllib.loads(text)
    assert list(sheet) == ["forward", "backward", "update"]
    assert list(sheet["backward"]) == ["dz", "dW2", "db2", "da1", "dh1", "dW1", "db1"]
    assert sheet["backward"]["dW1"] == [["", "", ""], ["", "", ""]]  # d × n, blank
    assert sheet["forward"]["loss"] == ""
    assert "# ∂L/∂W1 = x (∂L/∂h1)ᵀ, a 2 × 3 matrix (2 rows of 3)" in text
    assert "# yˢ = (1 − ε)y + ε/q, a vector of 3 (not asked: optional)" in text
    assert "handgrad grade homework3 this-file.toml" in text
    with pytest.raises(AnswerError, match="every quantity is blank"):  # handed in untouched
        grade_document(solution.problem, sheet)


@pytest.mark.parametrize("form", ["toml", "json"])
def test_round_trip_a_filled_sheet_grades_as_the_answer(form):
    problem = validate_problem(SEED_DOC, "homework3")
    solution = solve(problem)
    text = template_toml(solution) if form == "toml" else template_json(solution)
    sheet = tomllib.loads(text) if form == "toml" else json.loads(text)
    answer = answer_of(work(SEED_DOC, places=2, stepwise=True))
    report = grade_document(problem, _filled(sheet, answer), solution=solution)
    assert report.summary == {"correct": 18, "carried_forward": 0, "wrong": 0, "missing": 0}
    # half filled: the blanks are missing, not wrong
    partial = {"forward": answer["forward"], "backward": {"dz": answer["backward"]["dz"]}}
    report = grade_document(problem, _filled(sheet, partial), solution=solution)
    assert report.summary["wrong"] == 0 and report.summary["correct"] == 7
    assert len(report.missing_asked) == 10


def test_a_batch_sheet_has_a_row_per_instance():
    solution = solve(load_problem("deep_batch"))
    text = template_toml(solution, "deep_batch")
    assert "a 3 × 4 matrix (one row per instance)" in text  # H1: B × n1
    assert "# ∂L/∂W1 = (∂L/∂H1)ᵀ X, a 4 × 3 matrix (4 rows of 3)" in text
    truth = json.loads(solution.to_json())
    sheet = tomllib.loads(text)
    filled = _filled(sheet, {s: truth[s] for s in ("forward", "backward", "update")})
    report = grade_document(solution.problem, filled, solution=solution)
    assert report.summary["correct"] == len(solution.quantities)


def test_the_command(tmp_path):
    runner = CliRunner()
    shown = runner.invoke(template, ["homework3"])
    assert shown.exit_code == 0 and "[backward]" in shown.output
    done = runner.invoke(template, ["homework3", "-f", "json", "-o", str(tmp_path / "a.json")])
    assert done.exit_code == 0
    sheet = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert sheet["notes"]["backward.dW2"].startswith("∂L/∂W2 = a1 (∂L/∂z)ᵀ")
    refused = runner.invoke(template, [str(tmp_path)])
    assert refused.exit_code != 0 and "a folder" in str(refused.exception)


def test_the_sheet_offers_problem_1_commented_out_and_it_grades_when_filled_in():
    """An answer of numbers alone stays one (the section is commented out); deleting the "# "
    before [derivation] and the lines answered has the formulas graded."""
    problem = validate_problem(SEED_DOC, "homework3")
    sheet = template_toml(solve(problem), "homework3")
    assert "derivation" not in tomllib.loads(sheet)
    right = {"dW2": '"outer(a1, yhat - ys)"', "db2": '"yhat - ys"',
             "dW1": '"outer(x, (W2 @ (yhat - ys)) * (h1 > 0))"',
             "db1": "'\\mathbf{1}[h_1 > 0] \\odot W_2 (\\hat{y} - y^{s})'"}
    lines = []
    for line in sheet.splitlines():
        if line == "# [derivation]":
            line = "[derivation]"
        for name, formula in right.items():
            if line.startswith(f'# {name} = ""'):
                line = f"{name} = {formula}"
        lines.append(line)
    document = tomllib.loads("\n".join(lines))
    assert set(document["derivation"]) == set(right)
    report = grade_document(problem, {"derivation": document["derivation"]})
    assert [item.status for item in report.formulas] == ["correct"] * 4
