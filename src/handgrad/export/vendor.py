"""The part of handgrad that runs on a course platform, copied beside the export.

PrairieLearn runs a question's `server.py` on its own Python with NumPy and nothing of ours
installed; Gradescope runs `run_autograder` in an image where `setup.sh` installed NumPy alone.
Both get these modules as files: the solver, the generator, the grader and `export.runtime`
(the platform-side glue), and none of the renderers, the command line or the heavy optional
dependencies (rich, click, sympy, mpmath, torch). The tests import them on a Python whose path
holds only these files and NumPy, so a new module-level import outside this list fails there.
"""

from __future__ import annotations

from pathlib import Path

import handgrad

# paths inside the package, each imported (directly or not) by grade, generate and runtime
VENDORED = (
    "__init__.py",
    "atomic.py",
    "errors.py",
    "generate.py",
    "limits.py",
    "notation.py",
    "precision.py",
    "problem.py",
    "roster.py",
    "settings.py",
    "solution.py",
    "solver.py",
    "text.py",
    "verify.py",
    "words.py",
    "core/__init__.py",
    "core/activations.py",
    "core/backend.py",
    "core/network.py",
    "core/ops.py",
    "grade/__init__.py",
    "grade/answers.py",
    "grade/derivation.py",
    "grade/formula.py",
    "grade/formulas.py",
    "grade/judge.py",
    "grade/keys.py",
    "grade/recipes.py",
    "grade/records.py",
    "grade/rounding.py",
    "grade/tolerance.py",
    "export/__init__.py",
    "export/runtime.py",
)


def vendored_files(prefix: str) -> dict[str, bytes]:
    """{archive path: bytes} of every vendored module, under `prefix` + "handgrad/"."""
    package = Path(handgrad.__file__).parent
    return {f"{prefix}handgrad/{name}": (package / name).read_bytes() for name in VENDORED}
