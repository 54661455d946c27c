"""The whole homework answer in one document: Problem 1's derivation, the schematic, Problem 2's
numbers (exact where the problem allows, with decimals) and the verification table."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handgrad.derive.steps import Derivation, derive
from handgrad.errors import HandgradError
from handgrad.limits import exact_is_quick
from handgrad.precision import Precision
from handgrad.problem import Problem, load_problem
from handgrad.render.derivation import derivation_blocks
from handgrad.render.document import Block, Figure, Heading, Note, solution_document
from handgrad.solution import Solution
from handgrad.solver import solve

SCHEMATIC = "schematic.png"


def report_blocks(derivation: Derivation, solution: Solution, digits: int = 6) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"Homework answer: {solution.problem.name}", 1),
        Heading("Problem 1: the gradients, derived", 2),
        *derivation_blocks(derivation)[1:],
        Heading("The backprop schematic", 2),
    ]
    figure = schematic(solution)
    if figure is None:
        blocks.append(Note("The schematic needs graphviz's dot program: apt-get install graphviz"))
    else:
        blocks.append(figure)
    numbers = solution_document(solution, digits)
    numbers[0] = Heading("Problem 2: one gradient-descent step, worked", 2)
    return blocks + numbers


def schematic(solution: Solution) -> Figure | None:
    """The schematic as SVG and PNG, or None without graphviz's dot."""
    if shutil.which("dot") is None:
        return None
    from handgrad.render.graph import solution_graph

    graph = solution_graph(solution)
    svg = graph.pipe(format="svg").decode("utf-8")
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype inside an HTML page
    return Figure(
        svg,
        graph.pipe(format="png"),
        SCHEMATIC,
        "forward pass (solid) with values; backward pass (dashed) with gradients",
    )


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
