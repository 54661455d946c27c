"""`handgrad solve` stays light: heavy libraries load only in the commands that need them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "jax", "sympy", "mpmath", "matplotlib", "sklearn", "graphviz", "pydantic")

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
