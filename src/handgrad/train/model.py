"""A trained model: architecture, conventions, parameters and the standardisation it expects.

Saved as one `.npz` file: the parameters W1, b1, ... as arrays and a JSON text `meta` with
everything else (no pickles, so loading a file runs no code). Saving writes a temporary file
beside the target, flushes it to disk and renames it over the target, so an interrupted save
leaves the old model (or none), never half of one.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handgrad.atomic import atomic_write
from handgrad.core import network, ops
from handgrad.core.network import Architecture
from handgrad.errors import HandgradError
from handgrad.train.data import Standardizer

FORMAT = "handgrad-model"
VERSION = 1


class ModelError(HandgradError):
    """A file that is not a usable handgrad model."""


@dataclass
class Model:
    """What a prediction or a worked step needs; parameters in the in_out layout."""

    arch: Architecture
    params: dict[str, np.ndarray]
    standardizer: Standardizer
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    label_smoothing: float = 0.0
    smoothing: ops.Smoothing = "uniform"
    learning_rate: float = 0.1
    data: dict[str, Any] = field(default_factory=dict)  # where the training data came from

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """ŷ (N, q) for raw feature rows X (N, d), standardised as in training."""
        X = np.asarray(X, dtype=self.params["W1"].dtype)
        rows = self.standardizer.transform(X).astype(X.dtype)
        return np.asarray(network.predict(self.params, rows, self.arch))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (N,) into `classes`."""
        return np.argmax(self.predict_proba(X), axis=1)

    def problem_document(self, x_raw: np.ndarray, label: int, title: str) -> dict[str, Any]:
        """A problem file's content for one gradient step on one raw example: what `solve` reads."""
        x = self.standardizer.transform(np.asarray(x_raw, float).reshape(1, -1))[0]
        act = self.arch.hidden
        network_section: dict[str, Any] = {
            "layers": list(self.arch.layers),
            "activation": act.name,
            "output": self.arch.output,
            "layout": "in_out",
        }
        if act.name == "leaky_relu":
            network_section["leaky_slope"] = float(act.leaky_slope)
        if act.name == "relu":
            network_section["relu_grad_at_zero"] = float(act.relu_grad_at_zero)
        loss: dict[str, Any] = {"kind": self.arch.loss, "reduction": self.arch.reduction}
        data: dict[str, Any] = {"x": x.tolist()}
        if self.arch.loss == "cross_entropy":
            loss["label_smoothing"] = self.label_smoothing
            loss["smoothing"] = self.smoothing
            data["label"] = int(label)
        else:
            data["y"] = np.eye(self.arch.layers[-1])[label].tolist()
        return {
            "title": title,
            "network": network_section,
            "params": {k: np.asarray(v, float).tolist() for k, v in self.params.items()},
            "data": data,
            "loss": loss,
            "optimizer": {"learning_rate": self.learning_rate, "steps": 1},
        }

    def meta(self) -> dict[str, Any]:
        act = self.arch.hidden
        return {
            "format": FORMAT,
            "version": VERSION,
            "layers": list(self.arch.layers),
            "activation": act.name,
            "leaky_slope": float(act.leaky_slope),
            "relu_grad_at_zero": float(act.relu_grad_at_zero),
            "output": self.arch.output,
            "loss": self.arch.loss,
            "reduction": self.arch.reduction,
            "label_smoothing": self.label_smoothing,
            "smoothing": self.smoothing,
            "learning_rate": self.learning_rate,
            "classes": list(self.classes),
            "feature_names": list(self.feature_names),
            "dtype": str(self.params["W1"].dtype),
            "data": self.data,
        }


def save_model(model: Model, path: str | Path) -> Path:
    """Write the model atomically to `path` (a .npz file); return the path."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ModelError(f"{path}: a model file's name ends in .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.ascontiguousarray(value) for name, value in model.params.items()}
    arrays["standardize_mean"] = model.standardizer.mean
    arrays["standardize_scale"] = model.standardizer.scale
    arrays["meta"] = np.array(json.dumps(model.meta()))
    atomic_write(path, lambda stream: np.savez(stream, **arrays))  # type: ignore[arg-type]
    return path


def load_model(path: str | Path) -> Model:
    """Read a model written by `save_model`; anything else is a clear ModelError."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ModelError(f"{path}: not a handgrad model (not a readable .npz: {err})") from None
    if "meta" not in arrays:
        raise ModelError(f"{path}: not a handgrad model (an .npz file without handgrad's meta)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError:
        raise ModelError(f"{path}: not a handgrad model (its meta is not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not a handgrad model (format marker missing)")
    if meta.get("version") != VERSION:
        raise ModelError(
            f"{path}: model format version {meta.get('version')}; this handgrad reads {VERSION}"
        )
    try:
        return _model_from(meta, arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"{path}: a damaged handgrad model ({err})") from None


def _model_from(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Model:
    layers = tuple(int(n) for n in meta["layers"])
    act = ops.Activation(
        meta["activation"], meta["leaky_slope"], meta["relu_grad_at_zero"]
    )
    arch = Architecture(layers, act, meta["output"], "in_out", meta["loss"], meta["reduction"])
    params = {name: arrays[name] for name in arch.parameter_names()}
    for layer in range(1, arch.depth + 1):
        if params[f"W{layer}"].shape != arch.weight_shape(layer):
            raise ValueError(f"W{layer} has shape {params[f'W{layer}'].shape}")
        if params[f"b{layer}"].shape != (layers[layer],):
            raise ValueError(f"b{layer} has shape {params[f'b{layer}'].shape}")
    mean, scale = arrays["standardize_mean"], arrays["standardize_scale"]
    if mean.shape != (layers[0],) or scale.shape != (layers[0],):
        raise ValueError("the standardisation does not match the input size")
    classes = tuple(str(c) for c in meta["classes"])
    if len(classes) != layers[-1]:
        raise ValueError(f"{len(classes)} class names for {layers[-1]} outputs")
    return Model(
        arch,
        params,
        Standardizer(mean, scale),
        classes,
        tuple(str(f) for f in meta["feature_names"]),
        float(meta["label_smoothing"]),
        meta["smoothing"],
        float(meta["learning_rate"]),
        dict(meta.get("data") or {}),
    )
