"""The whole homework's answer as records: Problem 1's derivation and Problem 2's worked step.

The report renderer (`render.report`) lays these out; this module computes them, so that no
renderer runs the solver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handgrad.derive.steps import Derivation, derive
from handgrad.errors import HandgradError
from handgrad.limits import exact_is_quick
from handgrad.precision import Precision
from handgrad.problem import Problem, load_problem
from handgrad.solution import Solution
from handgrad.solver import solve


def report_solution(
    problem: Problem | str | Path | Mapping[str, Any] | None,
) -> tuple[Derivation, Solution]:
    """The derivation and the worked step, in exact numbers where they come in about a second
    (`limits.exact_is_quick`), in float64 otherwise."""
    loaded = problem if isinstance(problem, Problem) else load_problem(problem)
    solution = None
    if exact_is_quick(loaded):
        with contextlib.suppress(HandgradError):  # over the solver's bounds for exact numbers
            solution = solve(loaded, Precision("exact"))
    return derive(loaded), solution or solve(loaded)
