"""The worked gradient step of a trained model on one example: a Problem for the solver."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.errors import HandgradError
from handgrad.problem import Problem, validate_problem
from handgrad.train.model import Model


def example_problem(model: Model, x_raw: Any, label: int, title: str) -> Problem:
    """One gradient step of `model` on the raw feature row x_raw with class index `label`."""
    x = np.asarray(x_raw, dtype=float).reshape(-1)
    if x.shape[0] != model.arch.layers[0]:
        raise HandgradError(
            f"the example has {x.shape[0]} features, the model expects {model.arch.layers[0]}"
        )
    if not 0 <= label < len(model.classes):
        raise HandgradError(f"class index {label} is out of range 0..{len(model.classes) - 1}")
    return validate_problem(model.problem_document(x, label, title), "<model>")


def instance_problem(model: Model, instance: int) -> Problem:
    """The step on row `instance` (0-based) of the data set the model was trained on."""
    from handgrad.train.data import load_dataset

    source = model.data.get("source")
    if not source:
        raise HandgradError("the model does not record its training data; use the Python API")
    data = load_dataset(source, model.data.get("target"))
    if not 0 <= instance < len(data.y):
        raise HandgradError(
            f"--instance {instance}: the data set '{source}' has rows 0..{len(data.y) - 1}"
        )
    if data.classes != model.classes:
        raise HandgradError(f"the data set '{source}' no longer has the model's classes")
    title = (
        f"{data.name}, row {instance} (class {data.classes[data.y[instance]]}),"
        " x standardised as in training"
    )
    return example_problem(model, data.X[instance], int(data.y[instance]), title)
