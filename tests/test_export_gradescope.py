"""The Gradescope export: an autograder zip whose run_autograder grades on NumPy alone.

Each test unpacks the zip as Gradescope does (its contents in $ROOT/source, run_autograder
copied to $ROOT/run_autograder, the student's files in $ROOT/submission) and runs
run_autograder with AUTOGRADER_ROOT=$ROOT and a `python3` that starts with -S on a path of the
unpacked files and a folder holding only NumPy.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handgrad.errors import HandgradError
from handgrad.export import load_variants
from handgrad.export.gradescope import write
from handgrad.export.runtime import _pick_variant
from handgrad.grading.template import template_document

GOLDEN = Path(__file__).parent / "golden" / "export" / "gradescope"


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(load_variants("homework3"), tmp_path_factory.mktemp("gs") / "autograder.zip")


@pytest.fixture(scope="module")
def python3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin folder whose python3 sees NumPy and PYTHONPATH, and no site-packages."""
    base = tmp_path_factory.mktemp("py")
    site = Path(np.__file__).parent.parent
    (base / "site").mkdir()
    for name in ("numpy", "numpy.libs"):
        if (site / name).exists():
            (base / "site" / name).symlink_to(site / name)
    (base / "bin").mkdir()
    wrapper = base / "bin" / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="$PYTHONPATH:{base / "site"}" exec'
                       f' "{sys.executable}" -S "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return base / "bin"


def _run(zip_path: Path, root: Path, bin_dir: Path, files: dict[str, str],
         metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    with zipfile.ZipFile(zip_path) as zipped:
        zipped.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text, encoding="utf-8")
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "AUTOGRADER_ROOT": str(root)}
    run = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    return result


def _answers(negate_dz: bool = False) -> dict[str, Any]:
    """A filled answer sheet in `handgrad template`'s shape, values to 4 decimals."""
    solution = load_variants("homework3")[0].solution
    document = template_document(solution)
    for q in solution.quantities:
        value = np.round(np.asarray(q.value, dtype=float), 4)
        if negate_dz and q.key == "dz":
            value = -value
        document[q.section][q.key] = value.tolist()
    return document


def _toml(document: dict[str, Any]) -> str:
    lines = []
    for section, values in document.items():
        if section == "notes":
            continue
        lines.append(f"[{section}]")
        lines += [f"{name} = {json.dumps(value)}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def test_zip_has_setup_and_run_autograder_at_its_root(autograder: Path) -> None:
    with zipfile.ZipFile(autograder) as zipped:
        names = zipped.namelist()
        assert {"setup.sh", "run_autograder", "handgrad/grade/judge.py"} <= set(names)
        mode = zipped.getinfo("run_autograder").external_attr >> 16
        assert mode & 0o111
        assert "numpy" in zipped.read("setup.sh").decode()


def test_correct_toml_submission_gets_full_marks(autograder: Path, python3: Path,
                                                 tmp_path: Path) -> None:
    result = _run(autograder, tmp_path, python3, {"answer.toml": _toml(_answers())})
    assert len(result["tests"]) == 16
    assert all({"name", "score", "max_score", "output"} <= t.keys() for t in result["tests"])
    assert result["score"] == 16 and all(t["score"] == t["max_score"] for t in result["tests"])
    assert "16 correct" in result["output"]


def test_wrong_json_submission_names_the_sign(autograder: Path, python3: Path,
                                              tmp_path: Path) -> None:
    answer = json.dumps(_answers(negate_dz=True))
    metadata = {"users": [{"email": "ada@example.edu", "id": 1, "name": "Ada"}]}
    result = _run(autograder, tmp_path, python3, {"answer.json": answer}, metadata)
    tests = {t["name"]: t for t in result["tests"]}
    assert tests["backward.dz"]["score"] == 0 and "dz_sign" in tests["backward.dz"]["output"]
    assert result["score"] == 15
    assert "First wrong step: backward.dz" in result["output"]


def test_no_answer_file_is_a_zero_with_a_reason(autograder: Path, python3: Path,
                                                tmp_path: Path) -> None:
    result = _run(autograder, tmp_path, python3, {"notes.txt": "hello"})
    assert result["score"] == 0 and "exactly one answer file" in result["output"]


def test_variant_from_metadata() -> None:
    index = {"variants": [{"id": "s1", "email": "a@x.edu"}, {"id": "s2", "email": ""}]}
    assert _pick_variant(index, {"users": [{"email": "A@x.edu"}]})["id"] == "s1"
    assert _pick_variant(index, {"users": [{"email": "s2@x.edu"}]})["id"] == "s2"
    assert _pick_variant(index, {"users": [{"sid": "S2", "email": ""}]})["id"] == "s2"
    with pytest.raises(LookupError, match="no variant"):
        _pick_variant(index, {"users": [{"email": "b@x.edu"}]})


def test_output_must_be_a_zip(tmp_path: Path) -> None:
    with pytest.raises(HandgradError, match=r"\.zip"):
        write(load_variants("homework3"), tmp_path / "autograder")
    assert list(tmp_path.iterdir()) == []


def test_golden(autograder: Path) -> None:
    """The scripts and the variants file as a person has read them (the modules are copies)."""
    with zipfile.ZipFile(autograder) as zipped:
        for name in ("setup.sh", "run_autograder", "handgrad_variants.json"):
            text = zipped.read(name).decode("utf-8")
            golden = GOLDEN / name
            if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
                golden.parent.mkdir(parents=True, exist_ok=True)
                golden.write_text(text, encoding="utf-8")
            assert text == golden.read_text(encoding="utf-8"), f"{name} changed"


# ------------------------------------------------------------------ review fixes (issue 13)


def test_each_variant_is_headed_by_its_own_title(tmp_path: Path) -> None:
    from handgrad.export.runtime import gradescope_results

    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\ns001,Ada,ada@x.edu\ns002,Bo,bo@x.edu\n")
    out = tmp_path / "set"
    run = subprocess.run([sys.executable, "-m", "handgrad", "generate", "--roster", str(roster),
                          "--out", str(out), "-f", "json"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    variants = load_variants(out)
    root = tmp_path / "root"
    with zipfile.ZipFile(write(variants, tmp_path / "autograder.zip")) as zipped:
        zipped.extractall(root / "source")
        index = json.loads(zipped.read("handgrad_variants.json"))
    assert "s001" not in index["title"]
    (root / "submission").mkdir()
    answer = template_document(variants[1].solution)
    for q in variants[1].solution.quantities:
        answer[q.section][q.key] = np.round(np.asarray(q.value, dtype=float), 4).tolist()
    (root / "submission" / "answer.json").write_text(json.dumps(answer))
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "bo@x.edu"}]}))
    output = gradescope_results(root)["output"]
    assert output.splitlines()[0] == "Variant s002"
    assert "s001" not in output


def test_messages_name_the_file_not_the_server_path(autograder: Path, python3: Path,
                                                    tmp_path: Path) -> None:
    answer = _answers()
    answer["forward"]["h9"] = [1, 2, 3]
    result = _run(autograder, tmp_path, python3, {"answer.json": json.dumps(answer)})
    assert result["score"] == 0 and "answer.json: " in result["output"]
    assert str(tmp_path) not in result["output"] and "/submission" not in result["output"]


# ------------------------------------------------------ Problem 1: the gradients as formulas

RIGHT = {"dW2": "outer(a1, yhat - ys)", "db2": r"\hat{y} - y^{s}",
         "dW1": "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))", "db1": "(W2 @ (yhat - ys)) * (h1 > 0)"}


def _derivation(formulas: dict[str, str]) -> str:
    return "[derivation]\n" + "".join(f"{name} = '{text}'\n" for name, text in formulas.items())


def test_a_derivation_section_is_a_test_per_formula(autograder: Path, python3: Path,
                                                    tmp_path: Path) -> None:
    formulas = {**RIGHT, "dW2": "(a1 @ (yhat - ys).T).T", "db1": "(W2 @ (yhat - ys)) * (h1 > 0"}
    answer = _toml(_answers()) + _derivation(formulas)
    result = _run(autograder, tmp_path, python3, {"answer.toml": answer})
    tests = {t["name"]: t for t in result["tests"]}
    assert len(tests) == 20  # 16 numbers and the 4 asked formulas, a point each
    assert [name for name in tests if name.startswith("derivation.")] == [
        "derivation.dW2", "derivation.db2", "derivation.dW1", "derivation.db1"]
    assert all(t["max_score"] == 1.0 for t in tests.values())
    assert result["score"] == 18
    dW2 = tests["derivation.dW2"]["output"]
    assert dW2.startswith("wrong") and "likely cause (transposed)" in dW2
    assert "read as: (a1 @ (yhat - ys).T).T" in dW2 and "a right one: " in dW2
    db2 = tests["derivation.db2"]
    assert db2["score"] == 1.0 and "read as: yhat - ys" in db2["output"]  # LaTeX, read back
    db1 = tests["derivation.db1"]["output"].splitlines()
    assert "likely cause (unreadable)" in db1[1]
    assert db1[3].index("^") == len(db1[2])  # the caret under where the reading stopped
    assert "Problem 1: the formulas" in result["output"]
    assert "16 correct" in result["output"]  # the numbers, counted apart


def test_formulas_alone_and_steps_carried_forward(autograder: Path, python3: Path,
                                                  tmp_path: Path) -> None:
    answer = _derivation({**RIGHT, "dz": "ys - yhat", "db2": "dz"})
    result = _run(autograder, tmp_path, python3, {"answer.toml": answer})
    tests = {t["name"]: t for t in result["tests"]}
    # the numbers are missing tests, as ever; the step dz is not a test (not asked), and db2
    # is right in terms of it
    assert [name for name in tests if name.startswith("derivation.")] == [
        "derivation.dW2", "derivation.db2", "derivation.dW1", "derivation.db1"]
    assert len(tests) == 20 and tests["forward.h1"]["output"] == "missing"
    assert tests["derivation.db2"]["output"].startswith("carried forward")
    # the step dz scores nothing, so its mistake is charged at db2, the first scored formula it
    # reaches (as on the class sheet)
    assert tests["derivation.db2"]["score"] == 0.0 and "charged here" in tests[
        "derivation.db2"]["output"]
    assert result["score"] == 3
    assert "No numbers given." in result["output"]
    assert "dz_sign" in result["output"]  # the step's mistake is in the report
