"""PNG plots of a training run (matplotlib, Agg): loss and accuracy curves, confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib  # lazy: only --plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, float]], path: Path, title: str) -> Path:
    """Loss (left) and accuracy (right) per epoch, training and validation."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for part, style in (("train", "-"), ("validation", "--")):
        if f"{part}_loss" in history[0]:
            loss_ax.plot(epochs, [r[f"{part}_loss"] for r in history], style, label=part)
            acc_ax.plot(epochs, [100 * r[f"{part}_accuracy"] for r in history], style, label=part)
    loss_ax.set(xlabel="epoch", ylabel="loss L", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion(confusion: np.ndarray, classes: tuple[str, ...], path: Path, title: str) -> Path:
    """The test part's confusion matrix as a heat map with the counts written in."""
    plt = _pyplot()
    q = len(classes)
    size = min(12.0, 2.5 + 0.5 * q)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), layout="constrained")
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8, label="test rows")
    ticks = np.arange(q)
    slanted = q > 6 and max(len(c) for c in classes) > 3  # long names would overlap
    ax.set_xticks(ticks, labels=classes, rotation=45 if slanted else 0,
                  ha="right" if slanted else "center")
    ax.set_yticks(ticks, labels=classes)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    if q <= 30:
        threshold = confusion.max() / 2
        for i in range(q):
            for j in range(q):
                color = "white" if confusion[i, j] > threshold else "black"
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", color=color,
                        fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
