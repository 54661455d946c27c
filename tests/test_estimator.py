"""handgrad.MLPClassifier as a scikit-learn estimator, and handgrad.to_torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import SkipTestWarning
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

import handgrad
from handgrad.core import ops
from handgrad.train.estimator import MLPClassifier

# Checks scikit-learn skips by itself here, and why (listed in the README too):
# - check_array_api_input: needs SCIPY_ARRAY_API=1 and an Array API library; the estimator
#   converts its input to NumPy and claims no Array API support.
EXPECTED_SKIPS = {"check_array_api_input"}


def test_passes_scikit_learns_estimator_checks():
    with warnings.catch_warnings():  # a skipped check warns; the skips are asserted below
        warnings.simplefilter("ignore", SkipTestWarning)
        results = check_estimator(MLPClassifier(max_iter=50, random_state=0), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed
    assert skipped <= EXPECTED_SKIPS
    assert len(results) > 40


def test_fits_digits_and_records_its_loss_curve():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    clf = MLPClassifier((64,), label_smoothing=0.1, max_iter=40, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95
    assert len(clf.loss_curve_) == clf.n_iter_ <= 40
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    proba = clf.predict_proba(X_test[:3])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.classes_.tolist() == list(range(10))


def test_label_smoothing_changes_the_fit_as_the_loss_says():
    """With ε, the minimiser of the smoothed loss cannot put probability 1 on the true class:
    the mean top probability on the training set stays clearly below 1."""
    X, y = load_iris(return_X_y=True)
    plain = MLPClassifier((32,), max_iter=500, learning_rate_init=0.01, random_state=0)
    smooth = MLPClassifier((32,), max_iter=500, learning_rate_init=0.01, random_state=0,
                           label_smoothing=0.3)
    top_plain = plain.fit(X, y).predict_proba(X).max(axis=1).mean()
    top_smooth = smooth.fit(X, y).predict_proba(X).max(axis=1).mean()
    assert top_smooth < 0.85 < top_plain
    # yˢ of the true class is 1 − ε + ε/q = 0.8: the fitted ŷ sits near it, not near 1
    assert top_smooth == pytest.approx(0.8, abs=0.06)


def test_partial_fit_continues_training_and_works_in_a_pipeline():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((16,), learning_rate_init=0.05, random_state=1)
    for _ in range(50):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 50 and clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="not among classes"):
        clf.partial_fit(X[:2], np.array([5, 5]))
    with pytest.raises(ValueError, match="needs classes"):
        MLPClassifier().partial_fit(X, y)
    scores = cross_val_score(make_pipeline(MLPClassifier((8,), max_iter=100, random_state=0,
                                                         learning_rate_init=0.02)), X, y, cv=3)
    assert scores.mean() > 0.85


def test_string_labels_and_explain_step():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((5,), max_iter=30, random_state=0, label_smoothing=0.1).fit(X, names)
    assert set(clf.predict(X[:10])) <= set(names)
    solution = clf.explain_step(X[60], names[60])
    assert solution.problem.architecture.layers == (4, 5, 3)
    assert solution.problem.spec.loss.label_smoothing == 0.1
    np.testing.assert_allclose(solution.problem.x, clf.model_.standardizer.transform(X[60:61]))
    np.testing.assert_allclose(solution.problem.y, [[0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="not one of classes_"):
        clf.explain_step(X[0], "rose")


def test_bad_parameters_are_value_errors():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="optimizer='lbfgs'"):
        MLPClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="label_smoothing=2"):
        MLPClassifier(label_smoothing=2).fit(X, y)


def test_values_beyond_the_dtype_are_value_errors_naming_the_feature():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((6,), max_iter=5, dtype="float32", random_state=0).fit(X, y)
    far = X[:2].copy()
    far[1, 2] = 1e39
    with pytest.raises(ValueError, match="feature 'x2' in row 2 is 1e\\+39"):  # before: NaN
        clf.predict_proba(far)
    huge = X.copy()
    huge[:, 0] *= 1e306  # its variance overflows float64
    with pytest.raises(ValueError, match="feature 'x0' cannot be standardised"):
        MLPClassifier((6,), max_iter=5).fit(huge, y)


def test_saved_estimator_is_a_handgrad_model(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier((6,), max_iter=20, random_state=0).fit(X, y)
    model = handgrad.load_model(clf.save(tmp_path / "clf.npz"))
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X), rtol=1e-12)


# -------------------------------------------------------------------------- to_torch


def test_to_torch_predictions_agree():
    torch = pytest.importorskip("torch")
    X, y = load_iris(return_X_y=True)
    for activation in ("relu", "tanh", "sigmoid", "leaky_relu"):
        clf = MLPClassifier((7, 5), activation=activation, max_iter=30, random_state=0)
        clf.fit(X, y)
        net = handgrad.to_torch(clf, probabilities=True)
        with torch.no_grad():
            theirs = net(torch.tensor(X)).numpy()
        np.testing.assert_allclose(theirs, clf.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_to_torch_float32_model_agrees_to_1e_6():
    torch = pytest.importorskip("torch")
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier((32,), max_iter=5, random_state=0, dtype="float32").fit(X, y)
    net = handgrad.to_torch(clf, probabilities=True)
    assert next(net.parameters()).dtype == torch.float32
    with torch.no_grad():
        theirs = net(torch.tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(theirs, clf.predict_proba(X), atol=1e-6)


def test_one_training_step_in_torch_equals_handgrads():
    torch = pytest.importorskip("torch")
    from handgrad.core import network
    from handgrad.core.network import Architecture
    from handgrad.train.data import Standardizer
    from handgrad.train.model import Model

    rng = np.random.default_rng(0)
    arch = Architecture((4, 6, 3), ops.Activation("relu"), "softmax", "in_out", "cross_entropy",
                        "mean")
    params = {"W1": rng.normal(size=(4, 6)), "b1": rng.normal(size=6),
              "W2": rng.normal(size=(6, 3)), "b2": rng.normal(size=3)}
    model = Model(arch, params, Standardizer(np.zeros(4), np.ones(4)), ("a", "b", "c"),
                  ("f1", "f2", "f3", "f4"))
    x, labels = rng.normal(size=(5, 4)), np.array([0, 2, 1, 1, 0])
    net = handgrad.to_torch(model, standardize=False)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(net(torch.tensor(x)), torch.tensor(labels),
                                             label_smoothing=0.2)
    loss.backward()
    optimizer.step()
    # handgrad's own step: the reference path and the homework's update rule
    ys = ops.smooth_labels(np.eye(3)[labels], 0.2, "uniform")
    fwd = network.forward(params, x, ys, arch)
    new = network.gradient_step(params, network.backward(fwd, arch).grads, 0.1)
    assert float(fwd.loss) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(net[0].weight.detach().numpy().T, new["W1"], rtol=1e-12)
    np.testing.assert_allclose(net[0].bias.detach().numpy(), new["b1"], rtol=1e-12)
    np.testing.assert_allclose(net[2].weight.detach().numpy().T, new["W2"], rtol=1e-12)
    np.testing.assert_allclose(net[2].bias.detach().numpy(), new["b2"], rtol=1e-12)


def test_partial_fit_may_switch_from_torch_to_numpy_and_numba():
    """The optimizer's state made by the torch step goes on as NumPy arrays: the same run as
    one on NumPy throughout (float64: equal but for rounding)."""
    pytest.importorskip("torch")
    X, y = load_iris(return_X_y=True)
    classes = np.unique(y)
    settings = dict(hidden_layer_sizes=(8,), random_state=0, dtype="float64")
    reference = MLPClassifier(backend="numpy", **settings)
    switched = MLPClassifier(backend="torch", **settings)
    for backend in ("torch", "numpy", "numba", "torch", "numpy"):
        switched.set_params(backend=backend)
        switched.partial_fit(X, y, classes=classes)
        reference.partial_fit(X, y, classes=classes)
    for mine, theirs in zip(switched.coefs_, reference.coefs_, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
