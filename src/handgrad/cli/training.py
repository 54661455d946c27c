"""`handgrad train` and `handgrad predict`: parse, call handgrad.train, hand results on."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import click

from handgrad.cli.common import format_option, parse_layers, write_output
from handgrad.core.activations import ACTIVATION_NAMES, OUTPUT_NAMES
from handgrad.errors import HandgradError


@click.command()
@click.option("--data", default="digits", show_default=True,
              help="digits, iris, wine, breast_cancer, mnist (5,000 images), or a CSV/NPZ file.")
@click.option("--target", help="The label column (CSV) or array (NPZ; default y) of your file.")
@click.option("--layers", help="Layer sizes d,n1,...,q; ... takes d or q from the data "
              "(e.g. ...,32,...). Default: d,256,q.")
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
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder for model.npz, run.json and plots; default runs/DATA-TIME.")
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
    )
    folder = options["out"] or Path("runs") / f"{data.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if folder.exists() and not folder.is_dir():
        raise HandgradError(f"--out {folder}: is a file; give a folder")
    terminal = options["output_format"] == "terminal"
    console = Console(stderr=not terminal)
    if terminal and not options["quiet"]:
        from handgrad.render.training import progress_bar

        bar, update = progress_bar(console, config.epochs)
        with bar:
            result = run_training(data, config, update)
    else:
        result = run_training(data, config)
    _save_run(result, folder, options["plot"])
    record = result.record()
    if terminal:
        from handgrad.render.training import run_summary

        console.print(run_summary(result, str(folder)))
    else:
        write_output(json.dumps(record, indent=2), None)


def _save_run(result: Any, folder: Path, plot: bool) -> None:
    from handgrad.train.model import save_model

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HandgradError(f"--out {folder}: cannot make the folder ({error.strerror})") from None
    save_model(result.model, folder / "model.npz")
    write_output(json.dumps(result.record(), indent=2), folder / "run.json")
    if plot:
        from handgrad.render.plots import plot_confusion, plot_curves

        title = f"{result.dataset}: " + " → ".join(str(n) for n in result.model.arch.layers)
        plot_curves(result.history, folder / "curves.png", title)
        plot_confusion(result.confusion, result.model.classes, folder / "confusion.png",
                       f"{result.dataset}: test part")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("rows", type=click.Path(path_type=Path))
@format_option(["terminal", "csv", "json"], "terminal", "How to give the predictions.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to this file.")
def predict(model: Path, rows: Path, output_format: str, output: Path | None) -> None:
    """Predict the class of each row of a CSV (columns named as in training) or NPZ (array X)."""
    import numpy as np

    from handgrad.train.model import load_model

    trained = load_model(model)
    X = read_rows(rows, trained.feature_names)
    probabilities = trained.predict_proba(X)
    predicted = np.argmax(probabilities, axis=1)
    classes = trained.classes
    if output_format == "json":
        items = [
            {"row": i, "predicted": classes[k],
             "probabilities": dict(zip(classes, map(float, p), strict=True))}
            for i, (k, p) in enumerate(zip(predicted, probabilities, strict=True))
        ]
        write_output(json.dumps(items, indent=2), output)
    elif output_format == "csv" or output is not None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["row", "predicted", *[f"p_{c}" for c in classes]])
        for i, (k, p) in enumerate(zip(predicted, probabilities, strict=True)):
            writer.writerow([i, classes[k], *[f"{v:.6g}" for v in p]])
        write_output(buffer.getvalue(), output)
    else:
        from rich.console import Console

        from handgrad.render.training import prediction_table

        Console().print(prediction_table(predicted, probabilities, classes))


def read_rows(path: Path, features: tuple[str, ...]) -> Any:
    """Feature rows from a CSV with a header naming the model's features, or an NPZ's X."""
    import numpy as np

    from handgrad.train.data import DataError, load_features

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return np.asarray(load_features(path, features))
