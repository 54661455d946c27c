"""The backprop schematic: its structure, its labels, and the files it writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import handgrad
from handgrad.render.graph import solution_graph, write_graph


def _seed() -> handgrad.Solution:
    return handgrad.solve(handgrad.load_problem())


def test_seed_graph_has_the_homeworks_chain_and_values() -> None:
    source = solution_graph(_seed()).source
    # forward chain x → (W1ᵀx + b1) → h1 → ReLU → a1 → (W2ᵀa1 + b2) → z → softmax → ŷ → L
    for edge in (
        "x -> lin1",
        "lin1 -> h1",
        "h1 -> act1",
        "act1 -> a1",
        "a1 -> lin2",
        "lin2 -> z",
        "z -> out",
        "out -> yhat",
        "yhat -> loss",
        "loss -> L",
        "y -> smooth",
        "smooth -> ys",
        "ys -> loss",
        "W1 -> lin1",
        "b2 -> lin2",
    ):
        assert edge in source, edge
    assert "[-13, 2, -5]" in source  # h1 with its value
    assert "[0.265, 0.0132, 0.721]" in source  # ŷ at 3 digits
    assert "∂L/∂z = ŷ − yˢ" in source
    assert source.count("style=dashed") >= 9  # the backward edges


def test_three_hidden_layers_are_drawn_layer_by_layer() -> None:
    problem = handgrad.load_problem(
        {
            "network": {"layers": [2, 4, 4, 4, 3], "activation": "tanh"},
            "data": {"x": [1.0, -1.0], "label": 2},
            "optimizer": {"learning_rate": 0.1},
        }
    )
    source = solution_graph(handgrad.solve(problem)).source
    for layer in (1, 2, 3):
        assert f"lin{layer} -> h{layer}" in source and f"act{layer} -> a{layer}" in source
    assert "lin4 -> z" in source


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_graph_command_renders_with_dot(tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"seed{suffix}"
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "graph", "-o", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    data = output.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data


def test_without_dot_the_source_is_written_and_the_fix_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(handgrad.HandgradError, match="apt-get install graphviz"):
        write_graph(_seed(), tmp_path / "seed.svg")
    assert "digraph backprop" in (tmp_path / "seed.dot").read_text(encoding="utf-8")


def test_unknown_suffix_is_a_clear_error(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "handgrad", "graph", "-o", str(tmp_path / "seed.jpg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and ".svg, .png or .dot" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("kind", ["folder", "fifo", "dangling link"])
def test_graph_output_onto_what_is_not_a_file_is_one_clear_line(tmp_path, kind) -> None:
    """`graph -o` writes through atomic.write_file like every other command: a folder was a
    traceback, a FIFO hung, a dangling link was a traceback."""
    import os

    target = tmp_path / ("out.dot" if kind == "fifo" else "out.svg")
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(tmp_path / "nowhere" / "x.svg")
    result = subprocess.run([sys.executable, "-m", "handgrad", "graph", "-o", str(target)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("handgrad: error: -o ") and "Traceback" not in result.stderr
