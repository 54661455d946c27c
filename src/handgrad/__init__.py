"""handgrad: backpropagation worked by hand and checked by machine."""

from typing import Any

from handgrad.core.network import Architecture
from handgrad.errors import HandgradError, ProblemError
from handgrad.problem import Problem, default_problem_path, load_problem
from handgrad.solution import GradientCheck, Kink, Quantity, Solution
from handgrad.solver import solve

# Training pulls in scikit-learn (and to_torch PyTorch): they load on first use, so that
# `import handgrad` and `handgrad solve` stay fast.
# (`train_model` is handgrad.train.loop.train: the name `train` is the subpackage's.)
_LAZY = {
    "MLPClassifier": ("handgrad.train.estimator", "MLPClassifier"),
    "Model": ("handgrad.train.model", "Model"),
    "TrainConfig": ("handgrad.train.loop", "TrainConfig"),
    "load_dataset": ("handgrad.train.data", "load_dataset"),
    "load_model": ("handgrad.train.model", "load_model"),
    "save_model": ("handgrad.train.model", "save_model"),
    "to_torch": ("handgrad.train.torch_export", "to_torch"),
    "train_model": ("handgrad.train.loop", "train"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'handgrad' has no attribute {name!r}")


__all__ = [
    "Architecture",
    "GradientCheck",
    "HandgradError",
    "Kink",
    "MLPClassifier",
    "Model",
    "Problem",
    "ProblemError",
    "Quantity",
    "Solution",
    "TrainConfig",
    "default_problem_path",
    "load_dataset",
    "load_model",
    "load_problem",
    "save_model",
    "solve",
    "to_torch",
    "train_model",
]
__version__ = "0.1.0"
