"""The training loop: mini-batches, schedules, early stopping, metrics, the run record.

Each epoch shuffles the training rows with the run's seeded generator, gathers each mini-batch
into the step's own buffers and runs the step object (`FusedStep`, `CompiledStep` or `TorchStep`,
as `backend_choice.make_step` picks it: measured, or forced by `backend`) with an `Optimizer`'s
rule, then measures loss and accuracy on the
training and validation parts with the reference forward pass (`core.network.forward`).
Given the same settings and seed, a run is bit-for-bit repeatable on the same machine when it
takes the same step: `backend="auto"` remembers its measured choice in a cache file, and where
that file cannot be written it says so once on stderr, since a rerun then measures again and
may take the other path (other rounding). `RunResult.step` (run.json's "step": numpy,
numba-loops, numba-blas, numba-blas-torch, torch-cpu, torch-cuda) is itself a `backend` value
that takes that path without measuring (`torch` with `device`, for the last two).
A feature the run's dtype cannot carry (standardised, or through the network) is a DataError
naming its row and column, never a NaN loss; `RunResult.to_json` is always valid JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from handgrad.core import network, ops
from handgrad.core.network import Architecture
from handgrad.errors import HandgradError
from handgrad.problem import initial_params
from handgrad.settings import MAX_LAYER_SIZE
from handgrad.train.backend_choice import BACKENDS, Backend, device_problem, make_step
from handgrad.train.data import Dataset, Split, fit_standardizer, overflow_error, split, standardize
from handgrad.train.model import MAX_MODEL_LAYERS, MAX_MODEL_PARAMETERS, Model
from handgrad.train.optim import Optimizer, OptimizerName, Schedule, ScheduleName

DEFAULT_LEARNING_RATES = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.001}
DEFAULT_HIDDEN = 256


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; `layers` None means d → 256 → q."""

    layers: tuple[int, ...] | None = None
    activation: ops.Activation = field(default_factory=lambda: ops.Activation("relu"))
    output: network.Output = "softmax"
    loss: network.LossKind = "cross_entropy"
    label_smoothing: float = 0.0
    smoothing: ops.Smoothing = "uniform"
    optimizer: OptimizerName = "adam"
    learning_rate: float | None = None  # None: the optimizer's default
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: ScheduleName = "constant"
    step_size: int = 30
    gamma: float = 0.1
    epochs: int = 50
    batch_size: int = 32
    patience: int | None = 10  # epochs without a better validation loss; None: never stop early
    validation: float = 0.1
    test: float = 0.2
    dtype: Literal["float32", "float64"] = "float32"
    seed: int = 0
    backend: Backend = "auto"  # auto: the fastest step measured for the shapes
    device: str = "cpu"  # cuda: the torch step on the GPU

    @property
    def base_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        settings = asdict(self)
        settings["activation"] = self.activation.name
        if self.activation.name == "leaky_relu":
            settings["leaky_slope"] = self.activation.leaky_slope
        settings["learning_rate"] = self.base_learning_rate
        settings["layers"] = list(self.layers) if self.layers else None
        return settings


@dataclass(frozen=True)
class Metrics:
    loss: float
    accuracy: float


@dataclass
class RunResult:
    """A finished run: the model, per-epoch history and the final metrics."""

    model: Model
    config: TrainConfig
    dataset: str
    history: list[dict[str, float]]
    train: Metrics
    validation: Metrics | None
    test: Metrics
    confusion: np.ndarray  # (q, q): rows the true class, columns the predicted one
    seconds: float  # the whole run, data preparation included
    train_seconds: float  # inside the epochs only
    samples: int  # training examples processed
    stopped_early: bool
    best_epoch: int
    split_sizes: dict[str, int]
    interrupted: bool = False  # Ctrl-C ended training early; the best finished epoch is kept
    step: str = "numpy"  # the step that trained: numpy, numba-MODE, torch-DEVICE

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds > 0 else math.inf

    def _repr_markdown_(self) -> str:
        """The summary as Jupyter shows it: each part's accuracy and loss, and the timing."""
        layers = " → ".join(str(n) for n in self.model.arch.layers)
        lines = [f"**{self.dataset}**: {layers}, {len(self.history)} epochs in "
                 f"{self.seconds:.2f} s ({self.samples_per_second:,.0f} samples/s)", "",
                 "| part | rows | accuracy | loss |", "|---|---:|---:|---:|"]
        for name, metrics in (("train", self.train), ("validation", self.validation),
                              ("test", self.test)):
            if metrics is not None:
                lines.append(f"| {name} | {self.split_sizes[name]} | {metrics.accuracy:.2%} |"
                             f" {metrics.loss:.4f} |")
        return "\n".join(lines) + "\n"

    def record(self) -> dict[str, Any]:
        """What run.json holds: settings, history and the final metrics."""
        record: dict[str, Any] = {
            "data": self.dataset,
            "settings": self.config.to_dict(),
            "layers": list(self.model.arch.layers),
            "classes": list(self.model.classes),
            "split_sizes": self.split_sizes,
            "history": self.history,
            "epochs": len(self.history),
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
            "train_accuracy": self.train.accuracy,
            "train_loss": self.train.loss,
            "test_accuracy": self.test.accuracy,
            "test_loss": self.test.loss,
            "confusion_matrix": self.confusion.tolist(),
            "seconds": self.seconds,
            "train_seconds": self.train_seconds,
            "samples_per_second": self.samples_per_second,
            "step": self.step,
        }
        if self.validation is not None:
            record["validation_accuracy"] = self.validation.accuracy
            record["validation_loss"] = self.validation.loss
        return record

    def to_json(self) -> str:
        """run.json's text: `record()` as strict JSON, a number that is not finite as null."""
        return json.dumps(json_safe(self.record()), indent=2, allow_nan=False)


def json_safe(value: Any) -> Any:
    """`value` with every float that is not finite replaced by None.

    JSON has no NaN or infinity; Python writes them as bare NaN and Infinity, which strict
    parsers refuse. A throughput of a run too short to time (inf) becomes null, by design.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


Progress = Callable[[int, dict[str, float]], None]


def resolve_layers(config: TrainConfig, d: int, q: int) -> tuple[int, ...]:
    """The layer sizes for data with d features and q classes; checks given sizes against both."""
    if config.layers is None:
        return (d, DEFAULT_HIDDEN, q)
    layers = config.layers
    if len(layers) < 2:
        raise HandgradError("--layers needs at least the input and output sizes, e.g. 64,128,10")
    if layers[0] != d:
        raise HandgradError(f"--layers starts with {layers[0]}, but the data have {d} features")
    if layers[-1] != q:
        raise HandgradError(f"--layers ends with {layers[-1]}, but the data have {q} classes")
    # the bounds load_model applies: a model that train writes always loads back
    if max(layers) > MAX_LAYER_SIZE:
        raise HandgradError(
            f"--layers: a layer of {max(layers):,} units is more than handgrad works with"
            f" ({MAX_LAYER_SIZE:,} at most)"
        )
    if len(layers) - 1 > MAX_MODEL_LAYERS:
        raise HandgradError(
            f"--layers: {len(layers) - 1:,} weight layers, more than handgrad works with"
            f" ({MAX_MODEL_LAYERS:,} at most)"
        )
    count = sum(a * b + b for a, b in itertools.pairwise(layers))
    if count > MAX_MODEL_PARAMETERS:
        raise HandgradError(
            f"--layers: {count:,} parameters, more than handgrad works with"
            f" ({MAX_MODEL_PARAMETERS:,} at most)"
        )
    return layers


def targets_for(
    labels: np.ndarray, q: int, loss: str, epsilon: float, smoothing: ops.Smoothing, dtype: Any
) -> np.ndarray:
    """yˢ (smoothed one-hot) for cross-entropy, the one-hot y for squared error; (N, q)."""
    target = network.target_for(np.eye(q)[labels], loss, epsilon, smoothing)  # type: ignore[arg-type]
    return np.asarray(target, dtype=dtype)


def evaluate(
    model: Model, X: np.ndarray, labels: np.ndarray, target: np.ndarray,
    rows: np.ndarray | None = None, name: str = "", typical: float = math.inf,
) -> Metrics:
    """Loss (the training objective) and accuracy on standardised rows X, by the reference pass.

    A row whose pass overflows is a DataError naming it (`rows` maps X's rows to the data
    set's, `name` is the data's), unless none of its features lies farther from the mean than
    `typical` (the training rows' largest |x|): then the parameters, not the row, are to blame.
    """
    if len(labels) == 0:
        return Metrics(math.nan, math.nan)
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, by row
        fwd = network.forward(model.params, X, target, model.arch)
    if not math.isfinite(float(fwd.loss)):
        finite = np.isfinite(np.asarray(fwd.per_instance)) & np.isfinite(fwd.yhat).all(axis=1)
        bad = np.flatnonzero(~finite)
        if bad.size and np.abs(X[bad[0]]).max() > typical:
            raise overflow_error(X, int(bad[0]), X.dtype, model.feature_names, name, rows)
        raise HandgradError(
            "training diverged: the loss overflowed although the parameters are finite;"
            " lower --learning-rate"
        )
    accuracy = float(np.mean(np.argmax(fwd.yhat, axis=1) == labels))
    return Metrics(float(fwd.loss), accuracy)


def train(
    data: Dataset, config: TrainConfig = TrainConfig(), progress: Progress | None = None
) -> RunResult:
    """Train a network on `data` as `config` says; `progress(epoch, record)` after each epoch."""
    started = time.perf_counter()
    _check(config)
    dtype = np.dtype(config.dtype)
    q = data.n_classes
    layers = resolve_layers(config, data.X.shape[1], q)
    arch = Architecture(layers, config.activation, config.output, "in_out", config.loss, "mean")
    parts = split(data.y, config.validation, config.test, config.seed)
    features = data.feature_names
    standardizer = fit_standardizer(data.X[parts.train], features, data.name, parts.train)
    rows = {name: standardize(data.X[idx], standardizer, dtype, features, data.name, idx)
            for name, idx in _parts(parts)}
    indices = dict(_parts(parts))
    labels = {name: data.y[idx] for name, idx in _parts(parts)}
    # the farthest a training row lies from the mean: an overflow on a row no farther out is
    # the parameters' doing (divergence), on a row beyond it the row's own (see evaluate)
    typical = float(np.abs(rows["train"]).max(initial=0.0))
    targets = {
        name: targets_for(labels[name], q, config.loss, config.label_smoothing, config.smoothing,
                          dtype)
        for name in rows
    }

    params = {k: v.astype(dtype) for k, v in initial_params(arch, config.seed).items()}
    batch_size = min(config.batch_size, len(parts.train))
    optimizer = Optimizer(
        config.optimizer, config.base_learning_rate, momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    fused = make_step(arch, params, batch_size, config.backend, optimizer,
                      probe=(rows["train"], targets["train"]), device=config.device,
                      steps=config.epochs * -(-len(parts.train) // batch_size))
    model = Model(
        arch, fused.params, standardizer, data.classes, data.feature_names,
        config.label_smoothing, config.smoothing, config.base_learning_rate,
        {"source": data.source or data.name, "target": data.target, "seed": config.seed,
         "validation": config.validation, "test": config.test},
    )
    schedule = Schedule(config.schedule, config.step_size, config.gamma)
    x_train = fused.prepare(rows["train"])  # in the step's form: no conversion per batch
    y_train = targets["train"]
    shuffler = np.random.default_rng(config.seed + 1)
    sync = getattr(fused, "sync", None)  # a GPU step copies its parameters back per epoch

    history: list[dict[str, float]] = []
    best = (math.inf, 0, [w.copy() for w in fused.weights])
    train_seconds, samples, stopped_early = 0.0, 0, False
    n_train = len(parts.train)
    interrupted = False
    try:
        for epoch in range(config.epochs):
            epoch_start = time.perf_counter()
            optimizer.learning_rate = schedule.learning_rate(
                config.base_learning_rate, epoch, config.epochs
            )
            order = shuffler.permutation(n_train)
            # overflow on the way to divergence is reported once, by _require_finite, not as
            # a stream of NumPy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                for start in range(0, n_train, batch_size):
                    chosen = order[start : start + batch_size]
                    xb, yb = fused.batch_buffers(len(chosen))  # the step's own buffers
                    np.take(x_train, chosen, axis=0, out=xb)
                    np.take(y_train, chosen, axis=0, out=yb)
                    fused.advance(xb, yb, optimizer)  # the loss stays in the step, unasked
            if sync is not None:
                sync()
            train_seconds += time.perf_counter() - epoch_start
            samples += n_train
            _require_finite(fused.weights, epoch)
            record = _epoch_record(model, rows, labels, targets, epoch, optimizer.learning_rate,
                                   indices, data.name, typical)
            record["seconds"] = time.perf_counter() - started
            history.append(record)
            watched = record.get("validation_loss", record["train_loss"])
            if watched < best[0]:
                best = (watched, epoch, [w.copy() for w in fused.weights])
            if progress is not None:
                progress(epoch, record)
            if config.patience is not None and epoch - best[1] >= config.patience:
                stopped_early = True
                break
    except KeyboardInterrupt:
        # Ctrl-C ends training, not the run: what the finished epochs learned is kept
        if not history:
            raise
        interrupted = True
        for weights, kept in zip(fused.weights, best[2], strict=True):
            weights[...] = kept  # the best finished epoch, never a half-done one
    if config.patience is not None and not interrupted:  # early stopping keeps the best epoch
        for weights, kept in zip(fused.weights, best[2], strict=True):
            weights[...] = kept

    final = {name: evaluate(model, rows[name], labels[name], targets[name], indices[name],
                            data.name, typical)
             for name in rows}
    predicted = model_predictions(model, rows["test"])
    confusion = np.zeros((q, q), dtype=int)
    np.add.at(confusion, (labels["test"], predicted), 1)
    return RunResult(
        model, config, data.name, history, final["train"],
        final["validation"] if len(parts.validation) else None, final["test"], confusion,
        time.perf_counter() - started, train_seconds, samples, stopped_early, best[1] + 1,
        {name: len(idx) for name, idx in _parts(parts)}, interrupted, step_name(fused),
    )


def step_name(step: Any) -> str:
    """numpy, numba-loops, numba-blas, numba-blas-torch or torch-DEVICE: which step object
    trained."""
    mode = getattr(step, "mode", "numpy")
    return mode if mode in ("numpy",) or mode.startswith("torch") else f"numba-{mode}"


def model_predictions(model: Model, standardized: np.ndarray) -> np.ndarray:
    return np.argmax(network.predict(model.params, standardized, model.arch), axis=1)


def _parts(parts: Split) -> list[tuple[str, np.ndarray]]:
    return [("train", parts.train), ("validation", parts.validation), ("test", parts.test)]


def _epoch_record(
    model: Model, rows: dict[str, np.ndarray], labels: dict[str, np.ndarray],
    targets: dict[str, np.ndarray], epoch: int, learning_rate: float,
    indices: dict[str, np.ndarray], source: str, typical: float,
) -> dict[str, float]:
    record: dict[str, float] = {"epoch": epoch + 1, "learning_rate": learning_rate}
    for name in ("train", "validation"):
        if len(labels[name]):
            metrics = evaluate(model, rows[name], labels[name], targets[name], indices[name],
                               source, typical)
            record[f"{name}_loss"] = metrics.loss
            record[f"{name}_accuracy"] = metrics.accuracy
    return record


def _require_finite(weights: list[np.ndarray], epoch: int) -> None:
    if not all(np.isfinite(w).all() for w in weights):
        raise HandgradError(
            f"training diverged in epoch {epoch + 1}: a parameter became infinite or NaN;"
            " lower --learning-rate"
        )


def _check(config: TrainConfig) -> None:
    problems = []
    if config.epochs < 1:
        problems.append("--epochs must be at least 1")
    if config.batch_size < 1:
        problems.append("--batch-size must be at least 1")
    if config.base_learning_rate <= 0 or not math.isfinite(config.base_learning_rate):
        problems.append("--learning-rate must be a positive number")
    if not 0 <= config.label_smoothing <= 1:
        problems.append("--label-smoothing ε must be between 0 and 1")
    if config.loss != "cross_entropy" and config.label_smoothing:
        problems.append("--label-smoothing applies to the cross-entropy loss only")
    if config.loss == "cross_entropy" and config.output != "softmax":
        problems.append("the cross-entropy loss needs the softmax output")
    if config.weight_decay < 0:
        problems.append("--weight-decay must be ≥ 0")
    if config.patience is not None and config.patience < 1:
        problems.append("--patience must be at least 1")
    if config.backend not in BACKENDS:
        problems.append(f"--backend must be one of {', '.join(BACKENDS)}")
    device_error = device_problem(config.device)
    if device_error:
        problems.append(device_error)
    elif config.device != "cpu" and config.backend not in ("auto", "torch"):
        problems.append(f"--device {config.device} runs the torch step; --backend"
                        f" {config.backend} runs on the CPU only")
    if problems:
        raise HandgradError("; ".join(problems))
