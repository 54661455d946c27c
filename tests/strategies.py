"""Random but well-posed problems, as the dicts a problem file would hold."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]


@st.composite
def problems(draw: st.DrawFn, max_depth: int = 4, max_width: int = 5) -> dict[str, Any]:
    """A problem dict covering depths, sizes, activations, outputs, losses and conventions."""
    depth = draw(st.integers(1, max_depth))
    output = draw(st.sampled_from(["softmax", "sigmoid", "identity"]))
    loss = (
        "squared_error"
        if output != "softmax"
        else draw(st.sampled_from(["cross_entropy", "squared_error"]))
    )
    q_min = 2 if output == "softmax" else 1
    layers = [draw(st.integers(1, max_width)) for _ in range(depth)]
    layers.append(draw(st.integers(q_min, max_width)))
    layout = draw(st.sampled_from(["in_out", "out_in"]))
    batch = draw(st.one_of(st.none(), st.integers(1, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.5, 1.0, 2.0]))
    params = {}
    for layer in range(1, depth + 1):
        fan_in, fan_out = layers[layer - 1], layers[layer]
        shape = (fan_in, fan_out) if layout == "in_out" else (fan_out, fan_in)
        params[f"W{layer}"] = (scale * rng.standard_normal(shape)).tolist()
        params[f"b{layer}"] = (scale * rng.standard_normal(fan_out)).tolist()
    rows = batch or 1
    x = rng.standard_normal((rows, layers[0]))
    q = layers[-1]
    if loss == "cross_entropy":
        if draw(st.booleans()):
            y = np.eye(q)[rng.integers(0, q, rows)]
        else:
            y = rng.dirichlet(np.ones(q), rows)
            y /= y.sum(axis=1, keepdims=True)  # exact sums within the loader's tolerance
    else:
        y = rng.standard_normal((rows, q))
    loss_table: dict[str, Any] = {"kind": loss, "reduction": draw(st.sampled_from(["mean", "sum"]))}
    if loss == "cross_entropy":
        loss_table["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.3, 0.5, 1.0]))
        loss_table["smoothing"] = draw(st.sampled_from(["uniform", "others"]))
    network: dict[str, Any] = {
        "layers": layers,
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "output": output,
        "layout": layout,
    }
    if network["activation"] == "leaky_relu":
        network["leaky_slope"] = draw(st.sampled_from([0.01, 0.2]))
    return {
        "network": network,
        "params": params,
        "data": {
            "x": x.tolist() if batch else x[0].tolist(),
            "y": y.tolist() if batch else y[0].tolist(),
        },
        "loss": loss_table,
        "optimizer": {"learning_rate": draw(st.sampled_from([0.01, 0.1, 0.5]))},
    }
