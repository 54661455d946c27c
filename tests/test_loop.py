"""train/loop.py: the loop's accuracy, optimizers and schedules, reproducibility, early stopping,
Ctrl-C, refused settings, values the run's dtype cannot carry, and run.json as strict JSON."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from handgrad.core import ops
from handgrad.core.network import Architecture
from handgrad.errors import HandgradError
from handgrad.train.data import DataError, Dataset, Standardizer, load_dataset
from handgrad.train.loop import Metrics, TrainConfig, evaluate, train
from handgrad.train.model import Model


@pytest.fixture(scope="module")
def iris_run():
    return train(load_dataset("iris"), TrainConfig(layers=(4, 8, 3), epochs=30, patience=None,
                                                   learning_rate=0.01, label_smoothing=0.2))


def test_iris_learns_in_100_epochs():
    # seed 0's 30 test rows hold 4–5 that these small networks miss (seeds 1–5 reach 93–100%)
    config = TrainConfig(layers=(4, 16, 3), epochs=100, learning_rate=0.01, patience=None)
    result = train(load_dataset("iris"), config)
    assert result.test.accuracy >= 0.85
    assert result.train.accuracy >= 0.95
    assert len(result.history) == 100
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_digits_default_settings_reach_96_percent():
    result = train(load_dataset("digits"), TrainConfig(epochs=15))
    assert result.test.accuracy >= 0.96
    assert result.confusion.sum() == result.split_sizes["test"]
    assert np.trace(result.confusion) / result.confusion.sum() == pytest.approx(
        result.test.accuracy)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_every_optimizer_and_schedule_learns_wine(optimizer):
    rate = 0.01 if optimizer == "adam" else None  # 80 steps: Adam's default 0.001 is too slow
    for schedule in ("constant", "step", "cosine"):
        config = TrainConfig(layers=(13, 16, 3), optimizer=optimizer, schedule=schedule,
                             step_size=5, gamma=0.5, epochs=20, patience=None, weight_decay=1e-4,
                             label_smoothing=0.1, smoothing="others", learning_rate=rate)
        result = train(load_dataset("wine"), config)
        assert result.test.accuracy >= 0.85, (optimizer, schedule)


def test_schedule_sets_each_epochs_learning_rate():
    config = TrainConfig(epochs=6, schedule="step", step_size=2, gamma=0.5, optimizer="sgd",
                         learning_rate=0.2, patience=None)
    result = train(load_dataset("iris"), config)
    assert [r["learning_rate"] for r in result.history] == [0.2, 0.2, 0.1, 0.1, 0.05, 0.05]


def test_squared_error_float64_and_deep_networks_train():
    config = TrainConfig(layers=(4, 8, 8, 3), activation=ops.Activation("tanh"),
                         loss="squared_error", output="sigmoid", dtype="float64",
                         optimizer="adam", learning_rate=0.01, epochs=60, patience=None)
    result = train(load_dataset("iris"), config)
    assert result.model.params["W1"].dtype == np.float64
    assert result.test.accuracy >= 0.8


def test_same_seed_gives_bit_identical_runs():
    config = TrainConfig(epochs=5, seed=7, patience=None)
    first, second = (train(load_dataset("digits"), config) for _ in range(2))
    for name, value in first.model.params.items():
        assert np.array_equal(value, second.model.params[name])
    strip = {"seconds", "train_seconds", "samples_per_second", "history"}
    one = {k: v for k, v in first.record().items() if k not in strip}
    two = {k: v for k, v in second.record().items() if k not in strip}
    assert one == two
    other = train(load_dataset("digits"), TrainConfig(epochs=5, seed=8, patience=None))
    assert not np.array_equal(other.model.params["W1"], first.model.params["W1"])


def test_early_stopping_keeps_the_best_epoch():
    config = TrainConfig(epochs=300, patience=3, learning_rate=0.05, optimizer="adam")
    result = train(load_dataset("wine"), config)
    assert result.stopped_early and len(result.history) < 300
    best = min(r["validation_loss"] for r in result.history)
    assert result.history[result.best_epoch - 1]["validation_loss"] == best
    assert result.validation is not None
    assert result.validation.loss == pytest.approx(best, rel=1e-5)


def test_a_run_shows_itself_in_jupyter(iris_run):
    shown = iris_run._repr_markdown_()
    assert "| test | 30 |" in shown and "4 → 8 → 3" in shown


def test_ctrl_c_ends_training_but_keeps_the_best_finished_epoch():
    def interrupt_after_three(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    result = train(load_dataset("wine"), TrainConfig(epochs=50, patience=None),
                   interrupt_after_three)
    assert result.interrupted and len(result.history) == 3
    assert result.record()["interrupted"] is True
    best = min(r["validation_loss"] for r in result.history)
    assert result.validation is not None
    assert result.validation.loss == pytest.approx(best, rel=1e-5)


def test_ctrl_c_before_any_epoch_finishes_is_passed_on(monkeypatch):
    from handgrad.train import loop
    from handgrad.train.fused import FusedStep

    class Interrupted(FusedStep):
        def advance(self, x, target, optimizer):
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "make_step", lambda arch, params, batch, *a, **k:
                        Interrupted(arch, params, batch))
    with pytest.raises(KeyboardInterrupt):  # nothing finished, nothing to keep
        train(load_dataset("wine"), TrainConfig(epochs=5))


def test_bad_settings_are_refused_together():
    with pytest.raises(HandgradError) as caught:
        train(load_dataset("iris"), TrainConfig(epochs=0, learning_rate=-1.0))
    assert "--epochs" in str(caught.value) and "--learning-rate" in str(caught.value)
    with pytest.raises(HandgradError, match="ends with 4, but the data have 3 classes"):
        train(load_dataset("iris"), TrainConfig(layers=(4, 8, 4)))


def test_divergence_is_a_clear_error():
    config = TrainConfig(optimizer="sgd", learning_rate=1e30, epochs=3, dtype="float32")
    with pytest.raises(HandgradError, match="diverged"):
        train(load_dataset("iris"), config)


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_run_json_is_strict_json_with_null_for_what_is_not_finite(iris_run):
    # a run too short to time has an infinite throughput; an empty part a NaN loss
    odd = dataclasses.replace(iris_run, train_seconds=0.0,
                              validation=Metrics(math.nan, math.nan))
    record = _strict_json(odd.to_json())  # before: bare Infinity and NaN
    assert record["samples_per_second"] is None
    assert record["validation_loss"] is None
    assert record["test_loss"] == pytest.approx(iris_run.test.loss)


def _tiny(value: float) -> Dataset:
    """20 rows, two classes, features a and b; data row 11 has b = value."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    X[10, 1] = value
    return Dataset("tiny.csv", X, np.arange(20) % 2, ("p", "q"), ("a", "b"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_feature_of_1e308_is_an_error_naming_its_row_and_column(seed):
    # before: the row went to NaN (a NaN validation or test loss, bare NaN in run.json) with a
    # RuntimeWarning; wherever the split puts row 11, it is named now
    config = TrainConfig(layers=(2, 4, 2), epochs=2, seed=seed, validation=0.2, test=0.2)
    with pytest.raises(DataError) as caught:
        train(_tiny(1e308), config)
    message = str(caught.value)
    assert message.startswith("tiny.csv: feature 'b'") and "row 11" in message


def _all_ones_model() -> Model:
    """2 → 2 ReLU → 2 softmax with W1 all 1 and W2 columns +1, −1 (float32): a row of two
    features of 3e38 makes h = 6e38 = inf, so z = (inf, −inf) and the loss NaN."""
    arch = Architecture((2, 2, 2), ops.Activation("relu"), "softmax", "in_out", "cross_entropy",
                        "mean")
    params = {"W1": np.ones((2, 2), np.float32), "b1": np.zeros(2, np.float32),
              "W2": np.array([[1, -1], [1, -1]], np.float32), "b2": np.zeros(2, np.float32)}
    return Model(arch, params, Standardizer(np.zeros(2), np.ones(2)), ("p", "q"), ("a", "b"))


def test_an_overflow_in_the_network_names_the_row_or_says_diverged():
    model = _all_ones_model()
    X = np.array([[0.1, 0.2], [3e38, 1.0e38]], dtype=np.float32)
    target = np.eye(2, dtype=np.float32)
    with pytest.raises(DataError) as caught:  # before: a NaN loss, and a RuntimeWarning
        evaluate(model, X, np.array([0, 1]), target, rows=np.array([4, 9]), name="tiny.csv",
                 typical=3.0)
    message = str(caught.value)
    assert message.startswith("tiny.csv: row 10 overflows the network's float32")
    assert "feature 'a' lies 3e+38 standard deviations" in message
    with pytest.raises(HandgradError, match="training diverged"):  # no farther out than training
        evaluate(model, X, np.array([0, 1]), target, typical=math.inf)


def test_layers_beyond_what_a_model_file_holds_are_refused_before_training():
    with pytest.raises(HandgradError, match=r"100,000 at most"):
        train(load_dataset("iris"), TrainConfig(layers=(4, 200_000, 3), epochs=1))
    with pytest.raises(HandgradError, match=r"parameters, more than handgrad works with"):
        train(load_dataset("iris"), TrainConfig(layers=(4, 99_000, 600, 3), epochs=1))
    with pytest.raises(HandgradError, match=r"1,001 weight layers"):
        train(load_dataset("iris"), TrainConfig(layers=(4, *[2] * 1000, 3), epochs=1))
