"""`handgrad train` and `handgrad predict` through subprocesses (exit status, message, no
traceback), and the run folder they write as one."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handgrad.errors import HandgradError
from handgrad.train.data import load_dataset
from handgrad.train.loop import TrainConfig, train
from handgrad.train.model import save_model
from tests.test_bad_input import assert_user_error


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _cli(*args, cwd=None, timeout=300):
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def test_cli_train_predict_and_solve_model(tmp_path):
    out = tmp_path / "run"
    done = _cli("train", "--data", "iris", "--layers", "...,16,...", "--epochs", "40",
                "--lr", "0.01", "--label-smoothing", "0.1", "--out", str(out), "--plot")
    assert done.returncode == 0, done.stderr
    assert "Confusion matrix" in done.stdout and "test" in done.stdout
    record = json.loads((out / "run.json").read_text())
    assert {"test_accuracy", "test_loss", "epochs", "seconds", "history", "settings"} <= set(record)
    assert record["settings"]["label_smoothing"] == 0.1 and record["layers"] == [4, 16, 3]
    for picture in ("curves.png", "confusion.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    rows = _write(tmp_path / "rows.npz", "")
    np.savez(rows, X=load_dataset("iris").X[:5])
    predicted = _cli("predict", str(out / "model.npz"), str(rows), "--format", "json")
    assert predicted.returncode == 0, predicted.stderr
    items = json.loads(predicted.stdout)
    assert len(items) == 5 and items[0]["predicted"] == "setosa"
    assert sum(items[0]["probabilities"].values()) == pytest.approx(1.0)

    worked = _cli("solve", "--model", str(out / "model.npz"), "--instance", "17", "-f", "json")
    assert worked.returncode == 0, worked.stderr
    solution = json.loads(worked.stdout)
    assert solution["problem"]["network"]["layers"] == [4, 16, 3]


def test_cli_default_run_reaches_96_percent_on_digits(tmp_path):
    """`handgrad train` with no settings: the issue's promise (its time is the benchmark's)."""
    done = _cli("train", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    record = json.loads((folder / "run.json").read_text())
    assert record["data"] == "digits" and record["layers"] == [64, 256, 10]
    assert record["test_accuracy"] >= 0.96
    assert (folder / "model.npz").is_file()


def test_cli_json_run_and_errors(tmp_path):
    done = _cli("train", "--data", "wine", "--epochs", "3", "--format", "json",
                "--out", str(tmp_path / "w"))
    assert done.returncode == 0 and json.loads(done.stdout)["epochs"] == 3
    for args, message in [
        (("train", "--data", "nope.csv"), "no such file"),
        (("train", "--layers", "64,x,10"), "'x' is not a layer size"),
        (("train", "--data", "iris", "--layers", "5,8,3"), "starts with 5"),
        (("predict", str(tmp_path / "none.npz"), "rows.csv"), "no such model"),
        (("solve", "--instance", "3"), "--instance applies to a trained --model"),
        (("solve", "--model", str(tmp_path / "w" / "model.npz")), "needs --instance"),
        (("solve", "--model", str(tmp_path / "w" / "model.npz"), "--instance", "999"),
         "has rows 0..177"),
    ]:
        failed = _cli(*args, cwd=tmp_path)
        assert failed.returncode == 2, (args, failed.stderr)
        assert message in failed.stderr and "Traceback" not in failed.stderr


def _failed(done: subprocess.CompletedProcess, message: str) -> None:
    """Exit status 2 with one line naming the problem: no traceback, no NumPy warning."""
    assert_user_error(done, message)
    assert "Warning" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


def _tiny_csv(path: Path, labels: tuple[str, ...] = ("p", "q"), rows: int = 40) -> Path:
    """Two features a, b and a label column, `rows` rows, the classes taking turns."""
    rng = np.random.default_rng(0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "label"])
        for i in range(rows):
            writer.writerow([f"{rng.normal():.4f}", f"{rng.normal():.4f}", labels[i % len(labels)]])
    return path


def _tiny_model(tmp_path: Path, labels: tuple[str, ...] = ("p", "q")) -> Path:
    data = load_dataset(_tiny_csv(tmp_path / "tiny.csv", labels), "label")
    result = train(data, TrainConfig(layers=(2, 4, len(labels)), epochs=2))
    return save_model(result.model, tmp_path / "tiny.npz")


# ------------------------------------------------------------------ CSV injection


def test_predict_csv_neutralises_cells_a_spreadsheet_would_run(tmp_path):
    formulas = ("=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+2", "-2+3")
    model = _tiny_model(tmp_path, formulas)
    rows = _write(tmp_path / "rows.csv", "a,b\n" + "0.1,0.2\n-1,1\n2,-2\n0,0\n" * 5)
    done = _cli("predict", str(model), str(rows), "-f", "csv")
    assert done.returncode == 0, done.stderr
    table = list(csv.reader(io.StringIO(done.stdout)))
    assert table[0][:2] == ["row", "predicted"] and len(table) == 21
    for row in table[1:]:  # before: =cmd|... as it was, which a spreadsheet runs
        assert row[1].startswith("'") and row[1][1:] in formulas, row


def test_spreadsheet_safe_follows_owasp_but_leaves_numbers():
    from handgrad.render.training import spreadsheet_safe

    for cell in ("=1+2", "+cmd", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-inf"):
        assert spreadsheet_safe(cell) == "'" + cell
    for cell in ("-1", "+3.5", "-2e-3", "setosa", "a=b", ""):
        assert spreadsheet_safe(cell) == cell


# ------------------------------------------------------------------ the run folder as one


@pytest.fixture(scope="module")
def two_runs():
    data = load_dataset("iris")
    config = TrainConfig(layers=(4, 4, 3), epochs=2, patience=None)
    return train(data, config), train(data, TrainConfig(layers=(4, 4, 3), epochs=3, seed=1))


def _contents(folder: Path) -> dict[str, bytes]:
    return {entry.name: entry.read_bytes() for entry in sorted(folder.iterdir())}


def test_an_interrupted_save_leaves_the_earlier_run_whole(tmp_path, two_runs, monkeypatch):
    from handgrad.cli import training

    out = tmp_path / "run"
    training._save_run(two_runs[0], out, True)
    before = _contents(out)
    assert set(before) == {"model.npz", "run.json", "curves.png", "confusion.png"}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after model.npz is written, before run.json

    monkeypatch.setattr(training, "write_output", killed)
    with pytest.raises(KeyboardInterrupt):
        training._save_run(two_runs[1], out, False, True)
    # before: the new model.npz beside the earlier run.json (and its plots)
    assert _contents(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary file or folder


def test_an_interrupted_swap_puts_the_earlier_run_back(tmp_path, two_runs, monkeypatch):
    from handgrad.cli import training
    from handgrad.train import runs

    out = tmp_path / "run"
    training._save_run(two_runs[0], out, True)
    before = _contents(out)
    real_rename = os.rename
    calls = []

    def rename(source, target):
        calls.append((Path(source).name, Path(target).name))
        if len(calls) == 3:  # the earlier run moved aside, the new one about to go in
            raise KeyboardInterrupt
        real_rename(source, target)

    monkeypatch.setattr(runs.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        training._save_run(two_runs[1], out, False, True)
    assert _contents(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_what_a_killed_writer_left_is_cleaned_or_put_back(tmp_path, two_runs):
    from handgrad.cli import training

    dead = subprocess.Popen(["true"])  # a process id that has ended
    dead.wait()
    out = tmp_path / "run"
    training._save_run(two_runs[0], out, False)
    earlier = _contents(out)
    # killed between moving the earlier run aside and renaming the new one in
    os.rename(out, tmp_path / f".run.{dead.pid}.abc123.old")
    (tmp_path / f".run.{dead.pid}.def456.run").mkdir()
    (tmp_path / ".run.notes").write_text("not ours")
    with pytest.raises(HandgradError, match="already holds a trained model"):
        training._save_run(two_runs[1], out, False)  # the earlier run is back, so: refused
    assert _contents(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.notes", "run"]


def test_a_run_that_appears_meanwhile_is_not_replaced_without_force(tmp_path):
    from handgrad.train.runs import write_run_folder

    out = tmp_path / "run"

    def write(staging: Path) -> None:
        (staging / "run.json").write_text("{}")
        out.mkdir()  # another run finished first
        (out / "model.npz").write_bytes(b"theirs")

    with pytest.raises(HandgradError, match="already holds a trained model"):
        write_run_folder(out, write)
    assert _contents(out) == {"model.npz": b"theirs"}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_train_over_an_earlier_run_needs_force_and_never_mixes_runs(tmp_path):
    data = _tiny_csv(tmp_path / "d.csv")
    out = tmp_path / "run"
    args = ("train", "--data", str(data), "--target", "label", "--layers", "2,4,2", "-q",
            "--out", str(out))
    assert _cli(*args, "--epochs", "2", "--plot").returncode == 0
    before = _contents(out)
    # before: silently overwritten, the earlier plots left beside the new model
    _failed(_cli(*args, "--epochs", "3"), "already holds a trained model")
    assert _contents(out) == before
    replaced = _cli(*args, "--epochs", "3", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert sorted(p.name for p in out.iterdir()) == ["model.npz", "run.json"]
    assert json.loads((out / "run.json").read_text())["epochs"] == 3
    (out / "notes.txt").write_text("mine")
    _failed(_cli(*args, "--epochs", "2", "--force"), "holds files that are not a training run's")
    assert (out / "notes.txt").read_text() == "mine"


def test_default_run_folders_are_numbered_not_replaced(tmp_path, two_runs):
    from handgrad.cli import training

    first = training._save_run(two_runs[0], tmp_path / "runs" / "iris-1", False, numbered=True)
    second = training._save_run(two_runs[1], tmp_path / "runs" / "iris-1", False, numbered=True)
    assert first.name == "iris-1" and second.name == "iris-1-2"
    assert json.loads((first / "run.json").read_text())["epochs"] == 2


# ------------------------------------------------------------------ special files as inputs


def test_special_files_as_inputs_are_clear_errors(tmp_path):
    model = _tiny_model(tmp_path)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    fifo_model = tmp_path / "fifo.npz"
    os.mkfifo(fifo_model)
    rows = _write(tmp_path / "rows.csv", "a,b\n1,2\n")
    truncated = tmp_path / "cut.csv.gz"
    whole = gzip.compress((tmp_path / "tiny.csv").read_bytes() * 20)
    truncated.write_bytes(whole[: len(whole) // 2])
    # before: the FIFOs hung (here: timed out), /dev/zero read until memory ran out, and the
    # truncated gzip ended in "Aborted!" with exit status 1
    for args, message in [
        (("train", "--data", str(fifo), "--target", "label"), "is a pipe (FIFO)"),
        (("train", "--data", str(zero), "--target", "label"), "is a device"),
        (("train", "--data", str(truncated), "--target", "label"), "cannot be read as a CSV"),
        (("predict", str(model), str(fifo)), "is a pipe (FIFO)"),
        (("predict", str(model), str(zero)), "is a device"),
        (("predict", str(fifo_model), str(rows)), "is a pipe (FIFO), not a regular file"),
    ]:
        _failed(_cli(*args, timeout=60), message)


def test_solve_model_whose_data_became_a_fifo_is_a_clear_error(tmp_path):
    model = _tiny_model(tmp_path)
    (tmp_path / "tiny.csv").unlink()
    os.mkfifo(tmp_path / "tiny.csv")  # before: solve --model waited on it forever
    _failed(_cli("solve", "--model", str(model), "--instance", "0", timeout=60),
            "tiny.csv: is a pipe (FIFO), not a regular file")


# ------------------------------------------------------------------ numbers and model files


def test_predict_with_a_value_beyond_the_models_float32_is_an_error(tmp_path):
    model = _tiny_model(tmp_path)
    rows = _write(tmp_path / "rows.csv", "a,b\n0.5,0.5\n1e39,0.5\n")
    # before: nan probabilities and a class, exit status 0; -f json wrote bare NaN
    for output in ("terminal", "json", "csv"):
        _failed(_cli("predict", str(model), str(rows), "-f", output),
                "rows.csv: feature 'a' in row 2 is 1e+39")


def test_train_on_a_feature_of_1e308_is_an_error_naming_row_and_column(tmp_path):
    data = _tiny_csv(tmp_path / "d.csv")
    lines = data.read_text().splitlines()
    lines[5] = "0.5,1e308,q"  # data row 5
    data.write_text("\n".join(lines) + "\n")
    # before: a NaN loss, bare NaN in run.json, RuntimeWarnings on stderr
    _failed(_cli("train", "--data", str(data), "--target", "label", "--layers", "2,4,2",
                 "--epochs", "2", "-q", "--out", str(tmp_path / "run")),
            "d.csv: feature 'b'")
    assert not (tmp_path / "run").exists()


def test_a_lying_model_file_is_exit_2(tmp_path):
    model = _tiny_model(tmp_path)
    with np.load(model) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["W1"] = np.full_like(arrays["W1"], np.nan)
    np.savez(tmp_path / "lie.npz", **arrays)
    rows = _write(tmp_path / "rows.csv", "a,b\n1,2\n")
    _failed(_cli("predict", str(tmp_path / "lie.npz"), str(rows)),
            "a damaged handgrad model: W1 holds NaN or infinite values")


def test_help_states_the_limits_the_code_applies():
    from click.testing import CliRunner

    from handgrad.cli.training import train as train_command
    from handgrad.settings import MAX_LAYER_SIZE
    from handgrad.train.data import MAX_CSV_CHARS, MAX_NPZ_BYTES
    from handgrad.train.model import MAX_MODEL_PARAMETERS

    shown = " ".join(CliRunner().invoke(train_command, ["--help"]).output.split())
    for limit in (f"{MAX_LAYER_SIZE:,} units", f"{MAX_MODEL_PARAMETERS:,} parameters",
                  f"{MAX_CSV_CHARS // 2**20} MiB", f"{MAX_NPZ_BYTES // 2**30} GiB"):
        assert limit in shown



@pytest.mark.parametrize("device", ["cuda:x", "cuda:", "cudafoo", "cuda:-1", "gpu"])
def test_a_malformed_device_is_one_line_not_a_traceback(tmp_path, device):
    done = _cli("train", "--data", "iris", "--epochs", "1", "--device", device,
                "--out", str(tmp_path / "run"), "-q")
    _failed(done, f"--device {device!r}: cpu, cuda or cuda:N")
    assert not (tmp_path / "run").exists()


NO_TORCH = """
import sys
sys.modules["torch"] = None  # as if it were not installed
from handgrad.cli import main
main()
"""


@pytest.mark.parametrize(("args", "named"), [(("--backend", "torch"), "--backend torch"),
                                             (("--device", "cuda"), "--device cuda"),
                                             (("--device", "cuda:1"), "--device cuda:1")])
def test_torch_not_installed_is_one_line_naming_the_install(tmp_path, args, named):
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "train", "--data", "iris", "--epochs", "1", *args,
         "--out", str(tmp_path / "run"), "-q"], capture_output=True, text=True, timeout=300)
    _failed(done, f"{named} needs torch, which is not installed")
    assert "pip install torch==2.13.0" in done.stderr
