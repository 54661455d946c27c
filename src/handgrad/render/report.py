"""The whole homework answer in one document: Problem 1's derivation, the schematic, Problem 2's
numbers (exact where the problem allows, with decimals) and the verification table."""

from __future__ import annotations

import shutil

from handgrad.derive.steps import Derivation
from handgrad.render.derivation import derivation_blocks
from handgrad.render.document import Block, Figure, Heading, Note, solution_document
from handgrad.solution import Solution

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
