"""The backprop schematic: the computational graph at the vector level, drawn with graphviz.

Forward: x → (W1ᵀx + b1) → h1 → ReLU → a1 → … → z → softmax → ŷ → L, with y → yˢ feeding the
loss and each parameter feeding its operation; every quantity labelled with its name, shape and
value. Backward: dashed reverse edges carrying each gradient and its value.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.atomic import WriteError, write_file
from handgrad.errors import HandgradError
from handgrad.notation import format_shape
from handgrad.render.numbers import format_number
from handgrad.solution import Solution

FORWARD = {"color": "#1f2937"}
BACKWARD = {"color": "#c2410c", "fontcolor": "#c2410c", "style": "dashed", "constraint": "false"}
SHOW_ENTRIES = 6  # vectors up to this long show their values; larger arrays show their shape
NODE_FONT = 11  # points, at the natural size
EDGE_FONT = 10  # the smallest text in the drawing (the title is 16)


def _value(value: Any, digits: int) -> str:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return format_number(array, digits)
    if array.ndim == 1 and array.size <= SHOW_ENTRIES:
        return "[" + ", ".join(format_number(v, digits) for v in array) + "]"
    if array.ndim == 2 and array.size <= 9:
        rows = ("[" + ", ".join(format_number(v, digits) for v in row) + "]" for row in array)
        return "\n".join(rows)
    return format_shape(array.shape)


def _label(name: str, value: Any, digits: int) -> str:
    shape = format_shape(np.shape(value))
    shown = _value(value, digits)
    # an array too large for its values shows its shape once, not twice
    return f"{name}  ({shape})" if shown == shape else f"{name}  ({shape})\n{shown}"


def solution_graph(
    solution: Solution,
    digits: int = 3,
    rankdir: str = "LR",
    layers: range | None = None,
    title: bool = True,
) -> Any:
    """A graphviz.Digraph of the first step's forward and backward pass.

    `layers` draws only those stages, starting from the previous one's output: the weight
    layers are 1 to depth, and depth + 1 is the output, the target and the loss. A deep net's
    schematic is drawn in parts, a figure each.
    """
    import graphviz  # lazy: only the schematic needs it

    problem, arch = solution.problem, solution.problem.architecture
    fwd, bwd = solution.forward, solution.backward
    batch = problem.batched
    upper = (lambda s: s.upper()) if batch else (lambda s: s)
    shown = layers if layers is not None else range(1, arch.depth + 2)
    graph_attr = {
        "rankdir": rankdir,
        "fontname": "Helvetica",
        "nodesep": "0.35" if rankdir == "LR" else "0.25",
        "ranksep": "0.45" if rankdir == "LR" else "0.3",
    }
    if title:
        graph_attr |= {
            "label": f"{solution.problem.name}: forward (solid) and backward (dashed)",
            "labelloc": "t",
            "fontsize": "16",
        }
    graph = graphviz.Digraph("backprop", graph_attr=graph_attr)
    graph.attr("node", fontname="Helvetica", fontsize=str(NODE_FONT))
    graph.attr("edge", fontname="Helvetica", fontsize=str(EDGE_FONT))

    def data(key: str, name: str, value: Any) -> None:
        graph.node(
            key,
            _label(name, value, digits),
            shape="box",
            style="rounded,filled",
            fillcolor="#eef2ff",
        )

    def op(key: str, text: str) -> None:
        graph.node(key, text, shape="ellipse", style="filled", fillcolor="#fef3c7")

    def param(name: str) -> None:
        graph.node(
            name,
            _label(name, problem.params[name], digits),
            shape="box",
            style="filled",
            fillcolor="#ecfdf5",
        )

    if shown.start == 1:
        data("x", upper("x"), problem.x if batch else problem.x[0])
        previous = "x"
    elif shown.start > arch.depth:  # the loss alone: it starts from z
        data("z", upper("z"), fwd["z"])
        previous = "z"
    else:
        previous = f"a{shown.start - 1}"
        data(previous, upper(previous), fwd[previous])
    layout_in_out = arch.layout == "in_out"
    for layer in (n for n in shown if n <= arch.depth):
        out_key = "z" if layer == arch.depth else f"h{layer}"
        inp = upper("x" if layer == 1 else f"a{layer - 1}")
        weight = f"W{layer}ᵀ{inp}" if layout_in_out else f"W{layer}{inp}"
        if batch:
            weight = f"{inp}W{layer}" if layout_in_out else f"{inp}W{layer}ᵀ"
        op(f"lin{layer}", f"{weight} + b{layer}")
        param(f"W{layer}")
        param(f"b{layer}")
        graph.edge(previous, f"lin{layer}", **FORWARD)
        graph.edge(f"W{layer}", f"lin{layer}", **FORWARD)
        graph.edge(f"b{layer}", f"lin{layer}", **FORWARD)
        data(out_key, upper(out_key), fwd[out_key])
        graph.edge(f"lin{layer}", out_key, **FORWARD)
        # the backward pass: gradients flow to the parameters and to the layer's input
        upstream = f"∂L/∂{upper(out_key)}"
        for name in (f"W{layer}", f"b{layer}"):
            graph.edge(
                f"lin{layer}",
                name,
                label=f"∂L/∂{name}\n{_value(bwd['d' + name], digits)}",
                **BACKWARD,
            )
        gradient = _value(bwd["d" + out_key], digits)
        graph.edge(out_key, f"lin{layer}", label=f"{upstream}\n{gradient}", **BACKWARD)
        if layer < arch.depth:
            act_key = f"a{layer}"
            op(f"act{layer}", arch.hidden.rule.label)
            graph.edge(out_key, f"act{layer}", **FORWARD)
            data(act_key, upper(act_key), fwd[act_key])
            graph.edge(f"act{layer}", act_key, **FORWARD)
            graph.edge(f"act{layer}", out_key, label=f"∂L/∂{upper(out_key)}", **BACKWARD)
            graph.edge(
                act_key,
                f"act{layer}",
                label=f"∂L/∂{upper(act_key)}\n{_value(bwd['d' + act_key], digits)}",
                **BACKWARD,
            )
            previous = act_key
    if arch.depth + 1 in shown:
        _loss(graph, solution, digits, data, op)
    return graph


def _loss(graph: Any, solution: Solution, digits: int, data: Any, op: Any) -> None:
    """The output, the (smoothed) target and the loss, with the gradient that starts it all."""
    problem, arch = solution.problem, solution.problem.architecture
    fwd, bwd = solution.forward, solution.backward
    batch = problem.batched
    upper = (lambda s: s.upper()) if batch else (lambda s: s)
    op("out", arch.output)
    graph.edge("z", "out", **FORWARD)
    data("yhat", "Ŷ" if batch else "ŷ", fwd["yhat"])
    graph.edge("out", "yhat", **FORWARD)
    op("loss", "cross-entropy" if arch.loss == "cross_entropy" else "½ Σ (ŷ − y)²")
    graph.edge("yhat", "loss", **FORWARD)
    data("y", upper("y"), problem.y if batch else problem.y[0])
    if "ys" in fwd:
        op("smooth", f"smoothing ε = {problem.spec.loss.label_smoothing:g}")
        data("ys", upper("y") + "ˢ", fwd["ys"])
        graph.edge("y", "smooth", **FORWARD)
        graph.edge("smooth", "ys", **FORWARD)
        graph.edge("ys", "loss", **FORWARD)
    else:
        graph.edge("y", "loss", **FORWARD)
    data("L", "L", fwd["loss"])
    graph.edge("loss", "L", **FORWARD)
    if "dyhat" in bwd:
        graph.edge("L", "yhat", label=f"∂L/∂ŷ\n{_value(bwd['dyhat'], digits)}", **BACKWARD)
        graph.edge("yhat", "z", label="∂L/∂z", **BACKWARD)
    else:
        graph.edge("L", "z", label="∂L/∂z = ŷ − yˢ", **BACKWARD)


def write_graph(solution: Solution, output: Path, digits: int = 3) -> Path:
    """Write the schematic as .svg, .png or .dot (by the suffix); returns the file written.

    Without graphviz's `dot` program an .svg or .png cannot be drawn: the .dot source is
    written beside it and a HandgradError says how to install graphviz.
    """
    suffix = output.suffix.lower()
    if suffix not in (".svg", ".png", ".dot", ".gv"):
        raise HandgradError(f"-o {output}: give a file ending in .svg, .png or .dot")
    graph = solution_graph(solution, digits)
    if suffix in (".dot", ".gv"):
        return _write(output, graph.source)
    if shutil.which("dot") is None:
        fallback = _write(output.with_suffix(".dot"), graph.source)
        raise HandgradError(
            f"graphviz's dot program is not installed, so {output.name} cannot be drawn; wrote"
            f" {fallback} instead. Install it with: apt-get install graphviz (or brew install"
            " graphviz), then run again"
        )
    return _write(output, graph.pipe(format=suffix[1:]))


def _write(path: Path, data: str | bytes) -> Path:
    """Through `atomic.write_file`: all or nothing, links written through, devices refused."""
    try:
        write_file(path, data)
    except WriteError as error:
        raise HandgradError(f"-o {path}: {error.reason}") from None
    return path
