"""`handgrad train` and `handgrad predict`: parse, call handgrad.train, hand results on.

JSON output (run.json, `train -f json`, `predict -f json`) is always strict JSON: a number that
is not finite is written as null (a loss of an empty part, the throughput of an untimeably
short run); predictions are never NaN, since a row the model cannot compute is an error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from handgrad.cli.common import format_option, parse_layers, write_output
from handgrad.core.activations import ACTIVATION_NAMES, OUTPUT_NAMES


@click.command()
@click.option("--data", default="digits", show_default=True,
              help="digits, iris, wine, breast_cancer, mnist (5,000 images), or a CSV (up to"
              " 256 MiB of text) or NPZ (up to 2 GiB of arrays) file.")
@click.option("--target", help="The label column (CSV) or array (NPZ; default y) of your file.")
@click.option("--layers", help="Layer sizes d,n1,...,q; ... takes d or q from the data "
              "(e.g. ...,32,...). Default: d,256,q. At most 100,000 units a layer and"
              " 50,000,000 parameters.")
@click.option("--activation", type=click.Choice(ACTIVATION_NAMES), default="relu",
              show_default=True)
@click.option("--leaky-slope", type=float, default=0.01, show_default=True)
@click.option("--loss", type=click.Choice(["cross_entropy", "squared_error"]),
              default="cross_entropy", show_default=True)
@click.option("--output-activation", type=click.Choice(OUTPUT_NAMES),
              default="softmax", show_default=True, help="ŷ = g(z); cross-entropy needs softmax.")
@click.option("--label-smoothing", type=float, default=0.0, show_default=True, help="ε")
@click.option("--smoothing", type=click.Choice(["uniform", "others"]), default="uniform",
              show_default=True, help="yˢ = (1−ε)y + ε/q, or ε/(q−1) to each other class.")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "nesterov", "adam"]),
              default="adam", show_default=True)
@click.option("--learning-rate", "--lr", type=float,
              help="η; default 0.1 (sgd), 0.05 (momentum, nesterov), 0.001 (adam).")
@click.option("--momentum", type=float, default=0.9, show_default=True)
@click.option("--weight-decay", type=float, default=0.0, show_default=True, help="λ: g + λθ.")
@click.option("--schedule", type=click.Choice(["constant", "step", "cosine"]),
              default="constant", show_default=True)
@click.option("--step-size", type=click.IntRange(1), default=30, show_default=True,
              help="Epochs between learning-rate cuts (--schedule step).")
@click.option("--gamma", type=float, default=0.1, show_default=True,
              help="The factor of each cut (--schedule step).")
@click.option("--epochs", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option("--patience", type=click.IntRange(0), default=10, show_default=True,
              help="Stop after this many epochs without a better validation loss and keep the"
              " best epoch's parameters; 0: never stop early.")
@click.option("--validation", type=float, default=0.1, show_default=True,
              help="Fraction of the rows held out to watch (0: none).")
@click.option("--test", type=float, default=0.2, show_default=True,
              help="Fraction of the rows held out for the final test.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seeds the initial weights, the split and the shuffling.")
@click.option("--backend", type=click.Choice(["auto", "numpy", "numba", "numba-loops",
                                              "numba-blas", "numba-blas-torch", "torch"]),
              default="auto", show_default=True,
              help="The training step: auto times NumPy and the compiled (numba) step on the"
              " first batch and keeps the fastest (remembered per shape and run length; a path"
              " whose import the run is too short to repay is not tried); numba-loops,"
              " numba-blas or numba-blas-torch (its products through torch's BLAS) names one"
              " compiled mode (run.json's \"step\": a rerun takes the same path); torch runs"
              " the same formulas on torch tensors (with --device cuda, on a GPU).")
@click.option("--device", default="cpu", show_default=True,
              help="cpu, or cuda (cuda:N) for the torch step on a GPU, captured as a CUDA graph.")
@click.option("--out", type=click.Path(path_type=Path),
              help="A new or empty folder for model.npz, run.json and plots; default"
              " runs/DATA-TIME (numbered -2, -3, ... if taken).")
@click.option("--force", is_flag=True,
              help="Replace the earlier run in --out (all of its files, old plots included).")
@click.option("--plot", is_flag=True, help="Also write curves.png and confusion.png.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@format_option(["terminal", "json"], "terminal", "terminal: progress and summary; json: run.json.")
def train(**options: Any) -> None:
    """Train an MLP on real data with the solver's engine; save the model and run.json."""
    from rich.console import Console

    from handgrad.core.ops import Activation
    from handgrad.train.data import load_dataset
    from handgrad.train.loop import DEFAULT_HIDDEN, TrainConfig
    from handgrad.train.loop import train as run_training

    layers = parse_layers(options["layers"])
    data = load_dataset(options["data"], options["target"])
    d, q = data.X.shape[1], data.n_classes
    if layers is None:
        layers = [None, DEFAULT_HIDDEN, None]
    if layers[0] is None:
        layers[0] = d
    if layers[-1] is None:
        layers[-1] = q
    activation = Activation(options["activation"], leaky_slope=options["leaky_slope"])
    config = TrainConfig(
        layers=tuple(int(n) for n in layers if n is not None), activation=activation,
        output=options["output_activation"], loss=options["loss"],
        label_smoothing=options["label_smoothing"], smoothing=options["smoothing"],
        optimizer=options["optimizer"], learning_rate=options["learning_rate"],
        momentum=options["momentum"], weight_decay=options["weight_decay"],
        schedule=options["schedule"], step_size=options["step_size"], gamma=options["gamma"],
        epochs=options["epochs"], batch_size=options["batch_size"],
        patience=options["patience"] or None, validation=options["validation"],
        test=options["test"], dtype=options["dtype"], seed=options["seed"],
        backend=options["backend"], device=options["device"],
    )
    from handgrad.train.runs import check_run_folder

    folder = options["out"] or Path("runs") / f"{data.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if options["out"] is not None:  # refused before training, not after it
        check_run_folder(folder.expanduser(), options["force"])
    terminal = options["output_format"] == "terminal"
    console = Console(stderr=not terminal)
    if terminal and not options["quiet"]:
        from handgrad.render.training import progress_bar

        bar, update = progress_bar(console, config.epochs)
        with bar:
            result = run_training(data, config, update)
    else:
        result = run_training(data, config)
    written = _save_run(result, folder, options["plot"], options["force"],
                        numbered=options["out"] is None)
    if terminal:
        from handgrad.render.training import run_summary

        shown = str(folder) if options["out"] is not None else os.path.relpath(written)
        console.print(run_summary(result, shown))
    else:
        write_output(result.to_json(), None)


def _save_run(result: Any, folder: Path, plot: bool, force: bool = False,
              numbered: bool = False) -> Path:
    """Write model.npz, run.json (and the plots) as one run folder; returns the folder.

    They are written into a fresh hidden folder renamed into place at the end, so an
    interruption leaves the earlier run whole (or nothing), never a mix of two runs.
    """
    from handgrad.train.model import save_model
    from handgrad.train.runs import write_run_folder

    def write(staging: Path) -> None:
        save_model(result.model, staging / "model.npz")
        write_output(result.to_json(), staging / "run.json")
        if plot:
            from handgrad.render.plots import plot_confusion, plot_curves

            title = f"{result.dataset}: " + " → ".join(str(n) for n in result.model.arch.layers)
            plot_curves(result.history, staging / "curves.png", title)
            plot_confusion(result.confusion, result.model.classes, staging / "confusion.png",
                           f"{result.dataset}: test part")

    return write_run_folder(folder, write, force=force, numbered=numbered)


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("rows", type=click.Path(path_type=Path))
@format_option(["terminal", "csv", "json"], "terminal", "How to give the predictions.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to this file.")
def predict(model: Path, rows: Path, output_format: str, output: Path | None) -> None:
    """Predict the class of each row of a CSV (columns named as in training) or NPZ (array X)."""
    import numpy as np

    from handgrad.train.data import DataError
    from handgrad.train.model import load_model

    trained = load_model(model)
    X = read_rows(rows, trained.feature_names)
    try:
        probabilities = trained.predict_proba(X)
    except DataError as error:  # it names the row and feature; this names the file
        raise DataError(f"{rows.name}: {error}") from None
    predicted = np.argmax(probabilities, axis=1)
    classes = trained.classes
    if output_format == "json":
        from handgrad.render.training import prediction_json

        write_output(prediction_json(predicted, probabilities, classes), output)
    elif output_format == "csv" or output is not None:
        from handgrad.render.training import prediction_csv

        write_output(prediction_csv(predicted, probabilities, classes), output)
    else:
        from rich.console import Console

        from handgrad.render.training import prediction_table

        Console().print(prediction_table(predicted, probabilities, classes))


def read_rows(path: Path, features: tuple[str, ...]) -> Any:
    """Feature rows from a CSV with a header naming the model's features, or an NPZ's X."""
    import numpy as np

    from handgrad.train.data import DataError, load_features
    from handgrad.train.files import check_regular

    check_regular(path, DataError, "CSV or NPZ file of rows")  # a FIFO would hang the read
    return np.asarray(load_features(path, features))
