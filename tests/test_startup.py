"""`handgrad solve` stays light: heavy libraries load only in the commands that need them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "jax", "sympy", "mpmath", "matplotlib", "sklearn", "graphviz", "pydantic",
         "numba", "scipy")

PROBE = """
import sys
from handgrad.cli import main
sys.argv = ["handgrad", "solve"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))
sys.stderr.write("LOADED:" + ",".join(loaded) + "\\n")
"""


def test_solve_never_imports_heavy_libraries() -> None:
    run = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Forward pass" in run.stdout
    line = next(line for line in run.stderr.splitlines() if line.startswith("LOADED:"))
    assert line == "LOADED:", f"solve imported {line[7:]}"


TRAIN_PROBE = """
import sys
from handgrad.cli import main
sys.argv = ["handgrad", "train", "--data", "iris", "--epochs", "1", "--out", sys.argv[1],
            "--quiet", "--backend", "numpy"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "torch", "jax"})
sys.stderr.write("LOADED:" + ",".join(loaded) + "\\n")
"""


def test_training_on_a_bundled_set_imports_neither_scikit_learn_nor_torch(tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", TRAIN_PROBE, str(tmp_path / "run")],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, run.stderr
    line = next(line for line in run.stderr.splitlines() if line.startswith("LOADED:"))
    assert line == "LOADED:", f"train imported {line[7:]}"


SHORT_RUN_PROBE = """
import sys
from handgrad.cli import main
sys.argv = ["handgrad", "train", "--data", "iris", "--epochs", "2", "--out", sys.argv[1],
            "--quiet"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
sys.stderr.write("NUMBA:" + str("numba" in sys.modules) + "\\n")
"""


def test_a_short_auto_run_never_imports_numba(tmp_path) -> None:
    """auto weighs numba's fixed cost (import, cached kernels) against the whole run's NumPy
    estimate: a run of a few dozen steps takes NumPy without importing numba at all."""
    import json
    import os

    env = {**os.environ, "HANDGRAD_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run(
        [sys.executable, "-c", SHORT_RUN_PROBE, str(tmp_path / "run")],
        capture_output=True, text=True, check=False, env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "NUMBA:False" in run.stderr, run.stderr
    assert json.loads((tmp_path / "run" / "run.json").read_text())["step"] == "numpy"
