"""`MLPClassifier`: handgrad's engine as a scikit-learn estimator, with label smoothing.

It trains with the same step objects (`backend`: auto measures NumPy against the compiled step's
modes, or one named: numpy, numba, numba-loops, numba-blas, numba-blas-torch, torch) and
`Optimizer` as `handgrad train` and keeps its result as
a `Model`, so a fitted estimator can be saved (`save`), exported (`handgrad.to_torch`) and asked
for the worked gradient step on any sample (`explain_step`). Unlike scikit-learn's own
MLPClassifier it standardises the features itself (fitted on the data given to the first fit)
and offers `label_smoothing` with both conventions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from handgrad.core import ops
from handgrad.core.activations import ACTIVATIONS
from handgrad.core.network import Architecture
from handgrad.problem import initial_params
from handgrad.solution import Solution
from handgrad.train.backend_choice import BACKENDS, make_step
from handgrad.train.data import DataError, Standardizer, fit_standardizer, standardize
from handgrad.train.loop import targets_for
from handgrad.train.model import Model, save_model
from handgrad.train.optim import Optimizer


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron classifier trained by handgrad's backprop.

    Parameters follow scikit-learn's MLPClassifier where they mean the same thing;
    `label_smoothing` ε and `smoothing` ("uniform": yˢ = (1 − ε)y + ε/q, "others": ε/(q − 1) to
    each wrong class) are the additions. `optimizer` is one of sgd, momentum, nesterov, adam;
    `weight_decay` λ adds λθ to every gradient (torch's convention, biases included). `backend`
    is "auto" (NumPy or a compiled mode, whichever is measured fastest for the shapes), "numpy",
    "numba", "numba-loops", "numba-blas", "numba-blas-torch" (the compiled passes with torch's
    matrix products) or "torch" (the same formulas on CPU tensors). Training
    stops when the epoch's mean training loss has not improved by `tol` for `n_iter_no_change`
    epochs, or after `max_iter` epochs.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        optimizer: str = "adam",
        learning_rate_init: float = 0.001,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        label_smoothing: float = 0.0,
        smoothing: str = "uniform",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        shuffle: bool = True,
        standardize: bool = True,
        dtype: str = "float64",
        backend: str = "auto",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.label_smoothing = label_smoothing
        self.smoothing = smoothing
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.standardize = standardize
        self.dtype = dtype
        self.backend = backend
        self.random_state = random_state

    # ------------------------------------------------------------------------ fitting

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train from fresh parameters for up to `max_iter` epochs."""
        X, y = validate_data(self, X, y, reset=True, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self._initialise(X, unique_labels(y))
        self._epochs(X, y, self.max_iter, stop_when_flat=True)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over (X, y); the first call needs `classes` (every label that will occur)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=[every label]")
            self._initialise(X, unique_labels(classes))
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the first call's {self.classes_}")
        unseen = np.setdiff1d(unique_labels(y), self.classes_)
        if unseen.size:
            raise ValueError(f"labels {unseen.tolist()} are not among classes {self.classes_}")
        self._epochs(X, y, 1, stop_when_flat=False)
        return self

    def _initialise(self, X: np.ndarray, classes: np.ndarray) -> None:
        self._validate_settings()
        if len(classes) < 2:
            raise ValueError(
                f"MLPClassifier needs samples of at least 2 classes; got 1 class: {classes[0]!r}"
            )
        self.classes_ = classes
        layers = (X.shape[1], *self._hidden(), len(classes))
        act = ops.Activation(self.activation)  # type: ignore[arg-type]
        arch = Architecture(layers, act, "softmax", "in_out", "cross_entropy", "mean")
        rng = check_random_state(self.random_state)
        self._rng = np.random.default_rng(rng.randint(0, 2**31 - 1))
        dtype = np.dtype(self.dtype)
        params = {
            k: v.astype(dtype)
            for k, v in initial_params(arch, int(self._rng.integers(2**31))).items()
        }
        features = tuple(
            str(f) for f in getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])])
        )
        try:  # scikit-learn's convention for bad input is ValueError
            standardizer = (
                fit_standardizer(X, features, "X") if self.standardize
                else Standardizer(np.zeros(X.shape[1]), np.ones(X.shape[1]))
            )
        except DataError as error:
            raise ValueError(str(error)) from None
        self.model_ = Model(
            arch, params, standardizer, tuple(str(c) for c in classes), features,
            float(self.label_smoothing), self.smoothing,  # type: ignore[arg-type]
            float(self.learning_rate_init),
        )
        self._optimizer = Optimizer(
            self.optimizer,  # type: ignore[arg-type]
            float(self.learning_rate_init), momentum=float(self.momentum),
            weight_decay=float(self.weight_decay),
        )
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self.t_ = 0
        self.best_loss_ = math.inf
        self._no_improvement = 0

    def _validate_settings(self) -> None:
        problems = []
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation={self.activation!r} is not one of "
                            f"{', '.join(ACTIVATIONS)}")
        if self.optimizer not in ("sgd", "momentum", "nesterov", "adam"):
            problems.append(f"optimizer={self.optimizer!r} is not one of sgd, momentum, "
                            "nesterov, adam")
        if self.smoothing not in ("uniform", "others"):
            problems.append(f"smoothing={self.smoothing!r} is not 'uniform' or 'others'")
        if not 0 <= self.label_smoothing <= 1:
            problems.append(f"label_smoothing={self.label_smoothing} is not in [0, 1]")
        if not self.learning_rate_init > 0:
            problems.append(f"learning_rate_init={self.learning_rate_init} must be > 0")
        if self.max_iter < 1:
            problems.append(f"max_iter={self.max_iter} must be ≥ 1")
        if self.batch_size != "auto" and not (
            isinstance(self.batch_size, int | np.integer) and self.batch_size >= 1
        ):
            problems.append(f"batch_size={self.batch_size!r} must be 'auto' or a positive int")
        if self.backend not in BACKENDS:
            problems.append(f"backend={self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.dtype not in ("float32", "float64"):
            problems.append(f"dtype={self.dtype!r} must be 'float32' or 'float64'")
        if any(int(n) < 1 for n in self._hidden()):
            problems.append(f"hidden_layer_sizes={self.hidden_layer_sizes!r} must be ≥ 1 each")
        if problems:
            raise ValueError("; ".join(problems))

    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        return (int(sizes),) if np.isscalar(sizes) else tuple(int(n) for n in sizes)  # type: ignore[arg-type]

    def _epochs(self, X: np.ndarray, y: np.ndarray, epochs: int, stop_when_flat: bool) -> None:
        model = self.model_
        dtype = model.params["W1"].dtype
        labels = np.searchsorted(self.classes_, y)
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        try:
            standardized = standardize(X, model.standardizer, dtype, model.feature_names, "X")
        except DataError as error:  # a value the model's dtype cannot hold, named
            raise ValueError(str(error)) from None
        targets = targets_for(
            labels, len(self.classes_), "cross_entropy", self.label_smoothing,
            self.smoothing, dtype,  # type: ignore[arg-type]
        )
        fused = make_step(model.arch, model.params, batch, self.backend,  # type: ignore[arg-type]
                          self._optimizer, probe=(standardized, targets),
                          steps=epochs * -(-n // batch))
        rows = fused.prepare(standardized)
        for _ in range(epochs):
            order = self._rng.permutation(n) if self.shuffle else np.arange(n)
            total = 0.0
            for start in range(0, n, batch):
                chosen = order[start : start + batch]
                xb, yb = fused.batch_buffers(len(chosen))
                np.take(rows, chosen, axis=0, out=xb)
                np.take(targets, chosen, axis=0, out=yb)
                total += fused.train(xb, yb, self._optimizer) * len(chosen)
                self.t_ += len(chosen)
            self.n_iter_ += 1
            loss = total / n
            if not math.isfinite(loss):
                raise ValueError("training diverged (the loss is not finite); lower "
                                 "learning_rate_init")
            self.loss_curve_.append(loss)
            if loss > self.best_loss_ - self.tol:
                self._no_improvement += 1
            else:
                self._no_improvement = 0
            self.best_loss_ = min(self.best_loss_, loss)
            if stop_when_flat and self._no_improvement > self.n_iter_no_change:
                break
        sync = getattr(fused, "sync", None)  # a GPU step copies its parameters back
        if sync is not None:
            sync()
        # plain arrays again: the step's buffers are views that pickling would not keep
        model.params = {k: np.array(v) for k, v in fused.params.items()}

    # --------------------------------------------------------------------- predicting

    def predict_proba(self, X: Any) -> np.ndarray:
        """ŷ = softmax(z) for each row: (n_samples, n_classes), columns in `classes_` order."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        try:
            return self.model_.predict_proba(X).astype(np.float64)
        except DataError as error:  # a row the model's dtype cannot carry, named
            raise ValueError(str(error)) from None

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        probabilities = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(probabilities, axis=1)]

    # ------------------------------------------------------------------- explaining

    def explain_step(self, x: Any, y: Any) -> Solution:
        """The worked gradient step (every quantity, checked) of the fitted network on one sample.

        x is one raw feature row, y its label (one of `classes_`); the step uses the
        estimator's loss settings and learning_rate_init.
        """
        from handgrad.solver import solve
        from handgrad.train.explain import example_problem

        check_is_fitted(self, "model_")
        row = np.asarray(x, dtype=float).reshape(-1)
        where = np.flatnonzero(self.classes_ == y)
        if where.size == 0:
            raise ValueError(f"label {y!r} is not one of classes_ {self.classes_.tolist()}")
        return solve(example_problem(self.model_, row, int(where[0]), f"sample with label {y}"))

    def save(self, path: str | Path) -> Path:
        """Write the fitted network as a handgrad model file (`handgrad predict` reads it)."""
        check_is_fitted(self, "model_")
        return save_model(self.model_, path)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices W1, W2, ... (in_out layout), as scikit-learn's MLP names them."""
        params = self.model_.params
        return [params[f"W{k}"] for k in range(1, self.model_.arch.depth + 1)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        params = self.model_.params
        return [params[f"b{k}"] for k in range(1, self.model_.arch.depth + 1)]

