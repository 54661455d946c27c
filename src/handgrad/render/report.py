"""The whole homework answer in one document: Problem 1's derivation, the schematic, Problem 2's
numbers (exact where the problem allows, with decimals) and the verification table."""

from __future__ import annotations

import re
import shutil
from typing import Any

from handgrad.derive.steps import Derivation
from handgrad.render.derivation import derivation_blocks
from handgrad.render.document import (
    LINE_WIDTH_PT,
    SMALLEST_TEXT_PT,
    TEXT_HEIGHT_PT,
    Block,
    Figure,
    Heading,
    Note,
    solution_document,
)
from handgrad.solution import Solution

SCHEMATIC = "schematic"
FIGURE_HEIGHT = 0.85 * TEXT_HEIGHT_PT  # a figure leaves room on its page for its caption
READABLE_PT = SMALLEST_TEXT_PT + 1  # what a part aims for: a point to spare
PNG_DPI = 150  # sharp when printed at the sizes a figure is scaled to
CAPTION = (
    "forward pass (solid) with values; backward pass (dashed) with gradients (an array too"
    " large to list shows its shape)"
)


def report_blocks(derivation: Derivation, solution: Solution, digits: int = 6) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"Homework answer: {solution.problem.name}", 1),
        Heading("Problem 1: the gradients, derived", 2),
        *derivation_blocks(derivation)[1:],
        Heading("The backprop schematic", 2),
    ]
    figures = schematic(solution)
    if not figures:
        blocks.append(Note("The schematic needs graphviz's dot program: apt-get install graphviz"))
    blocks += figures
    numbers = solution_document(solution, digits)
    numbers[0] = Heading("Problem 2: one gradient-descent step, worked", 2)
    return blocks + numbers


def schematic(solution: Solution) -> list[Figure]:
    """The schematic drawn top to bottom, in parts (runs of layers, the loss last) each as long
    as fits a page with its smallest text at least READABLE_PT; none without graphviz."""
    if shutil.which("dot") is None:
        return []
    depth = solution.problem.architecture.depth
    stages = depth + 1  # the weight layers, then the output and the loss
    parts: list[tuple[range, Any, float]] = []
    start = 1
    while start <= stages:  # each part takes as many stages as keep its text readable
        part = _drawn(solution, range(start, start + 1))
        for stop in range(start + 2, stages + 2):
            longer = _drawn(solution, range(start, stop))
            if _smallest_text(longer[2]) < READABLE_PT:
                break
            part = longer
        parts.append(part)
        start = part[0].stop
    figures = []
    for number, (layers, graph, scale) in enumerate(parts, start=1):
        name = SCHEMATIC if len(parts) == 1 else f"{SCHEMATIC}-{number}"
        svg = graph.pipe(format="svg").decode("utf-8")
        svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype inside an HTML page
        graph.graph_attr |= {"dpi": str(PNG_DPI), "bgcolor": "white"}  # print, not screen
        caption = CAPTION if len(parts) == 1 else f"{_part_title(layers, depth)}: {CAPTION}"
        width = round(scale * _natural_size(svg)[0] / LINE_WIDTH_PT, 3)
        figures.append(Figure(svg, graph.pipe(format="png"), f"{name}.png", caption, width))
    return figures


def _drawn(solution: Solution, layers: range) -> tuple[range, Any, float]:
    """A part drawn, with the scale it takes to fit the page (never above 1)."""
    from handgrad.render.graph import solution_graph

    graph = solution_graph(solution, rankdir="TB", layers=layers, title=False)
    width, height = _natural_size(graph.pipe(format="svg").decode("utf-8"))
    return layers, graph, min(1.0, LINE_WIDTH_PT / width, FIGURE_HEIGHT / height)


def _natural_size(svg: str) -> tuple[float, float]:
    """The drawing's width and height in points, as graphviz writes them on the <svg> element."""
    found = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    if found is None:
        raise ValueError("graphviz wrote an SVG without a size in points")
    return float(found.group(1)), float(found.group(2))


def _smallest_text(scale: float) -> float:
    from handgrad.render.graph import EDGE_FONT

    return EDGE_FONT * scale


def _part_title(layers: range, depth: int) -> str:
    last = min(layers.stop - 1, depth)
    if layers.start > depth:
        return "The output and the loss"
    span = f"Layer {last}" if layers.start == last else f"Layers {layers.start}–{last}"
    return span + (", the output and the loss" if depth + 1 in layers else "")
