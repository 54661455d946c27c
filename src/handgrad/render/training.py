"""A training run in the terminal (the live progress bar, the summary and the confusion matrix)
and predictions as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from handgrad.text import shown as text_shown
from handgrad.train.loop import RunResult

MAX_CONFUSION_CLASSES = 20  # larger matrices go to --plot and run.json only


def progress_bar(console: Console, epochs: int) -> tuple[Progress, Any]:
    """A rich progress bar over epochs that shows the latest loss and accuracies."""
    bar = Progress(
        TextColumn("[bold]epoch"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task("train", total=epochs, metrics="")

    def update(epoch: int, record: dict[str, float]) -> None:
        parts = [f"loss {record['train_loss']:.4f}", f"acc {record['train_accuracy']:.2%}"]
        if "validation_loss" in record:
            parts += [
                f"val loss {record['validation_loss']:.4f}",
                f"val acc {record['validation_accuracy']:.2%}",
            ]
        bar.update(task, completed=epoch + 1, metrics="  ".join(parts))

    return bar, update


def _fmt(value: float, percent: bool = False) -> str:
    if value != value:  # NaN: an empty part
        return "–"
    return f"{value:.2%}" if percent else f"{value:.4f}"


def summary_table(result: RunResult) -> Table:
    """Loss and accuracy of each part, with sizes, time and throughput in the caption."""
    table = Table(title="Result", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    table.add_column("part")
    table.add_column("rows", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_column("loss", justify="right")
    parts = [("train", result.train), ("validation", result.validation), ("test", result.test)]
    for name, metrics in parts:
        if metrics is not None:
            table.add_row(
                name, str(result.split_sizes[name]), _fmt(metrics.accuracy, True),
                _fmt(metrics.loss),
            )
    return table


def timing_line(result: RunResult) -> str:
    stopped = f", stopped early (best epoch {result.best_epoch})" if result.stopped_early else ""
    if result.interrupted:
        stopped = f", interrupted (Ctrl-C; kept the best epoch, {result.best_epoch})"
    return (
        f"{len(result.history)} epochs{stopped} in {result.seconds:.2f} s "
        f"(training {result.train_seconds:.2f} s, {result.samples_per_second:,.0f} samples/s)"
    )


def confusion_table(confusion: np.ndarray, classes: tuple[str, ...]) -> Table:
    """Rows: the true class; columns: the predicted class; the diagonal in bold."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("true \\ predicted")
    for name in classes:
        table.add_column(escape(name), justify="right")
    for i, name in enumerate(classes):
        cells = [
            f"[bold]{count}[/bold]" if i == j else (str(count) if count else "[dim]·[/dim]")
            for j, count in enumerate(confusion[i])
        ]
        table.add_row(escape(name), *cells)
    return table


def run_summary(result: RunResult, folder: str) -> Group:
    """Everything printed after the progress bar."""
    arch = result.model.arch
    parts: list[Any] = [summary_table(result), timing_line(result)]
    if len(result.model.classes) <= MAX_CONFUSION_CLASSES:
        parts.append("[bold]Confusion matrix[/bold] (test part; rows: true, columns: predicted)")
        parts.append(confusion_table(result.confusion, result.model.classes))
    layers = " → ".join(str(n) for n in arch.layers)
    parts.append(f"network {layers} ({arch.hidden.name}), saved in {folder}/")
    return Group(*parts)


def prediction_table(
    predicted: np.ndarray, probabilities: np.ndarray, classes: tuple[str, ...], limit: int = 50
) -> Table:
    """One row per input: the predicted class and its probability, then every class's ŷ."""
    table = Table(title="Predictions", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD)
    table.add_column("row", justify="right")
    table.add_column("predicted")
    shown = classes if len(classes) <= 10 else ()
    for name in shown:
        table.add_column(escape(f"ŷ[{text_shown(name)}]"), justify="right")
    if not shown:
        table.add_column("ŷ of the predicted class", justify="right")
    for i in range(min(limit, len(predicted))):
        k = int(predicted[i])
        values = [f"{p:.4f}" for p in probabilities[i]] if shown else [f"{probabilities[i, k]:.4f}"]
        table.add_row(str(i), Text(text_shown(classes[k])), *values)
    if len(predicted) > limit:
        table.caption = f"first {limit} of {len(predicted)} rows; --format csv -o FILE for all"
        table.caption_justify = "left"
    return table


# A cell a spreadsheet would read as a formula (OWASP's CSV injection): = + - @, and tab or
# carriage return, which some spreadsheets strip before looking at the next character.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(cell: str) -> str:
    """`cell` with a leading ' when a spreadsheet would run it as a formula ('=cmd|...');
    a plain number such as -1 is left as it is (a spreadsheet reads it as a number)."""
    if cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def prediction_csv(
    predicted: np.ndarray, probabilities: np.ndarray, classes: tuple[str, ...]
) -> str:
    """row, predicted, p_<class>...: one line per input; class names made spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", "predicted", *[f"p_{c}" for c in classes]])
    for i, (k, p) in enumerate(zip(predicted, probabilities, strict=True)):
        writer.writerow([i, spreadsheet_safe(classes[k]), *[f"{v:.6g}" for v in p]])
    return buffer.getvalue()


def prediction_json(
    predicted: np.ndarray, probabilities: np.ndarray, classes: tuple[str, ...]
) -> str:
    """[{row, predicted, probabilities: {class: ŷ}}], strict JSON (the model never gives NaN:
    a row it cannot compute is an error before this)."""
    items = [
        {"row": i, "predicted": classes[k],
         "probabilities": dict(zip(classes, map(float, p), strict=True))}
        for i, (k, p) in enumerate(zip(predicted, probabilities, strict=True))
    ]
    return json.dumps(items, indent=2, allow_nan=False)
