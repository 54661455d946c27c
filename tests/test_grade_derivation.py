"""Grading Problem 1: formulas read in two syntaxes, graded for every size, mistakes named.

Every formula here is written by hand, as a student would write it; none is built from the
grader's or the engine's functions. A formula's verdict comes from evaluating it on random
instances against the engine's gradient, so a wrong hand formula marked correct (or the
reverse) fails these tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from handgrad.grade import grade_document, grade_file
from handgrad.grade.derivation import (
    derivation_names,
    expected_formulas,
    grade_derivation,
    make_instances,
    read_derivation,
)
from handgrad.grade.formula import (
    FormulaError,
    detect_syntax,
    evaluate,
    formula_latex,
    formula_text,
    read_formula,
)
from handgrad.grading.rubric import Rubric, score
from handgrad.problem import load_problem, validate_problem

SEED = load_problem("homework3")
BATCH = load_problem("deep_batch")  # 3-4-3-2, out_in, ReLU, a batch of 3, mean
DEEP_TANH = validate_problem({
    "network": {"layers": [3, 4, 3, 2], "activation": "tanh", "layout": "out_in"},
    "params": {"W1": [[1, 0, -1], [0, 1, 1], [1, 1, 0], [-1, 0, 1]], "b1": [0, 0, 0, 0],
               "W2": [[1, 0, 1, 0], [0, 1, 0, 1], [1, -1, 0, 0]], "b2": [0, 0, 0],
               "W3": [[1, 0, -1], [0, 1, 1]], "b3": [0, 0]},
    "data": {"x": [1, 2, 3], "y": [0, 1]},
    "loss": {"label_smoothing": 0.1},
    "optimizer": {"learning_rate": 0.1},
}, "<deep tanh>")


def verdict(problem, name, formula, others=None, syntax=None):
    """One formula's verdict, graded with the problem's right steps before it given (by hand,
    in STEPS): a step the answer does not give is `undefined_step`, never its true value."""
    steps = next((table for known, table in STEPS if known is problem), {}) \
        if syntax is None else {}
    order = derivation_names(problem)
    earlier = {step: text for step, text in steps.items()
               if step in order and order.index(step) < order.index(name)}
    formulas = {**earlier, **(others or {}), name: formula}
    items = grade_derivation(problem, formulas, syntax)
    return next(item for item in items if item.name == name)


# ------------------------------------------------------------------------- correct forms

SEED_CORRECT = {
    "dW2": [
        "outer(a1, yhat - ys)",
        "a1 @ (yhat - ys).T",
        "a @ (yhat - ys).T",
        "np.outer(a1, dz)",
        "a1 * (yhat - ys).T",  # entry-wise, by broadcasting a column against a row
        "relu(W1.T @ x + b1) @ (softmax(W2.T @ relu(W1.T @ x + b1) + b2) - ys).T",
        "-(a1 @ (ys - yhat).T)",
        "a1 @ (yhat - (1 - eps) * y - eps / q).T",
        r"a_1 (\hat{y} - y^{s})^\top",
        r"a_{1}\left(\hat{y}-y^{s}\right)^{T}",
        r"\frac{\partial L}{\partial W_2} = a_1 \left(\frac{\partial L}{\partial z}\right)^{\top}",
        r"\mathbf{a}_1 \cdot (\hat{\mathbf{y}} - \mathbf{y}^s)^\intercal",
        "a1 @ (ŷ − yˢ)ᵀ",
        "a_1 (ŷ − yˢ)ᵀ",
    ],
    "db2": ["yhat - ys", "dz", r"\hat{y} - y^{s}", "softmax(z) - ((1 - eps) * y + eps / q)"],
    "dW1": [
        "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))",
        "x @ ((W2 @ (yhat - ys)) * relu_prime(h1)).T",
        "x @ (W2 @ dz * (h > 0)).T",
        "outer(x, dh1)",
        "x * ((W2 @ dz) * (a1 > 0)).T",  # 1[a > 0] = 1[h > 0] for ReLU
        r"x \left( W_2 (\hat{y} - y^{s}) \odot \mathbb{1}[h_1 > 0] \right)^\top",
        r"x\,\Big(\big(W_{2}\frac{\partial L}{\partial z}\big)\odot\mathbb{1}_{\{h_1>0\}}\Big)^T",
        r"x \left(\operatorname{ReLU}'(h_1) \odot W_2 (\hat y - y^s)\right)^\top",
    ],
    "db1": [
        "W2 @ (yhat - ys) * (h1 > 0)",
        "(h1 > 0) * (W2 @ dz)",
        "diag(relu_prime(h1)) @ W2 @ (yhat - ys)",
        r"\operatorname{diag}(\mathbb{1}[h_1 > 0]) W_2 (\hat{y} - y^{s})",
        r"\frac{\partial L}{\partial h_1}",
    ],
}


@pytest.mark.parametrize(("name", "formula"), [
    (name, formula) for name, forms in SEED_CORRECT.items() for formula in forms])
def test_correct_formulas_in_many_spellings_are_correct(name: str, formula: str) -> None:
    item = verdict(SEED, name, formula)
    assert item.status == "correct", (formula, item.cause, item.explanation)
    assert item.read and item.read_latex


def test_the_full_softmax_jacobian_is_correct_with_a_note() -> None:
    for formula in ["(diag(yhat) - outer(yhat, yhat)) @ (-ys / yhat)",
                    r"(\operatorname{diag}(\hat{y}) - \hat{y}\hat{y}^\top)(-y^s / \hat{y})"]:
        item = verdict(SEED, "dz", formula)
        assert (item.status, item.cause) == ("correct", "full_jacobian_unsimplified")
    item = verdict(SEED, "dW2", "a1 @ ((diag(yhat) - yhat @ yhat.T) @ (-ys / yhat)).T")
    assert (item.status, item.cause) == ("correct", "full_jacobian_unsimplified")
    # ... and the plain form is correct without one
    assert verdict(SEED, "dz", "yhat - ys").cause is None


def test_a_wrong_jacobian_is_wrong() -> None:
    item = verdict(SEED, "dz", "(diag(yhat) + outer(yhat, yhat)) @ (-ys / yhat)")
    assert item.status == "wrong"


# ----------------------------------------------------------------------- cause by cause

SEED_MISTAKES = [
    ("dz", "ys - yhat", "dz_sign"),
    ("dz", "yhat - y", "no_smoothing"),
    ("dW2", "outer(a1, ys - yhat)", "dz_sign"),
    ("dW2", "a1 @ (yhat - y).T", "no_smoothing"),
    ("dW2", "outer(yhat - ys, a1)", "outer_order"),
    ("dW2", "(yhat - ys) @ a1.T", "outer_order"),
    ("dW2", r"(\hat{y} - y^{s}) a_1^\top", "outer_order"),
    ("dW2", "(a1 @ (yhat - ys).T).T", "transposed"),
    ("db2", "(yhat - ys).T", "transposed"),  # a row where the course's column belongs
    ("dW1", "outer(x, W2 @ (yhat - ys))", "missing_relu_mask"),
    ("dh1", "W2 @ dz", "missing_relu_mask"),
    ("db1", "W2 @ (yhat - ys)", "missing_relu_mask"),
    ("dh1", "W2 @ dz * a1", "mask_on_wrong_quantity"),  # ReLU(h) where ReLU'(h) belongs
    ("dh1", "W2 @ (dz * (h1 > 0))", "mask_on_wrong_quantity"),  # inside the product
    ("dW1", "outer(x, W2 @ (yhat - ys) * relu(h1))", "mask_on_wrong_quantity"),
    ("da1", "W2.T @ dz", "layout"),  # fits the seed's square W2 only
    ("dh1", "W2.T @ dz * (h1 > 0)", "layout"),
    ("dW1", "outer(x, W2 @ (ys - yhat) * (h1 > 0))", "dz_sign"),
    ("db1", "W2 @ (yhat - y) * (h1 > 0)", "no_smoothing"),
    ("dW1", "outer(dh1, x)", "outer_order"),
]


@pytest.mark.parametrize(("name", "formula", "cause"), SEED_MISTAKES)
def test_each_mistake_is_named(name: str, formula: str, cause: str) -> None:
    item = verdict(SEED, name, formula)
    assert (item.status, item.cause) == ("wrong", cause), item.explanation
    assert item.explanation


def test_a_formula_right_only_for_square_matrices_is_wrong_with_its_cause() -> None:
    W2 = SEED.params["W2"]
    assert W2.shape[0] == W2.shape[1]  # the seed's W2 is square: W2ᵀ fits where W2 belongs
    item = verdict(SEED, "da1", "W2.T @ (yhat - ys)")
    assert (item.status, item.cause) == ("wrong", "layout")
    assert "n and q" in item.explanation and "cannot multiply q × n by q × 1" in item.explanation
    # a formula equal to the gradient at equal sizes only, with no known mistake to name
    item = verdict(SEED, "da1", "W2 @ eye(n) @ dz")
    assert (item.status, item.cause) == ("wrong", "wrong_shape")
    assert "only when the sizes are equal" in item.explanation


def test_a_wrong_shape_is_said_in_the_problems_symbols() -> None:
    item = verdict(SEED, "dW2", "(yhat - ys) @ a1.T")
    assert "your ∂L/∂W2 is q × n; with z = W2ᵀa1 + b2 it must be n × q" in item.explanation
    item = verdict(SEED, "dW2", "W2.T")
    assert (item.status, item.cause) == ("wrong", "wrong_shape")


def test_a_value_matching_no_mistake_is_wrong_without_a_cause() -> None:
    item = verdict(SEED, "dW2", "outer(a1, yhat + ys)")
    assert (item.status, item.cause) == ("wrong", None)
    assert "none of the known mistakes" in item.explanation


# ---------------------------------------------------------------------- carried forward


def test_a_later_formula_is_graded_in_terms_of_the_students_own_earlier_ones() -> None:
    formulas = {"dz": "ys - yhat", "dW2": "outer(a1, dz)", "db2": "dz", "da1": "W2 @ dz",
                "dh1": "da1", "dW1": "outer(x, dh1)", "db1": "dh1"}
    items = {item.name: item for item in grade_derivation(SEED, formulas)}
    assert (items["dz"].status, items["dz"].cause) == ("wrong", "dz_sign")
    for name in ("dW2", "db2", "da1"):
        assert items[name].status == "carried_forward", name
    assert items["da1"].inputs == ("derivation.dz",)
    assert (items["dh1"].status, items["dh1"].cause) == ("wrong", "missing_relu_mask")
    assert items["dW1"].status == "carried_forward"
    assert items["dW1"].inputs == ("derivation.dh1",)


def test_carried_forward_needs_the_right_step_from_the_students_values() -> None:
    formulas = {"dz": "yhat - ys", "dh1": "W2 @ dz", "dW1": "outer(dh1, x)"}  # wrong dh1
    items = {item.name: item for item in grade_derivation(SEED, formulas)}
    assert (items["dW1"].status, items["dW1"].cause) == ("wrong", "outer_order")
    # a right earlier step: the later one is simply correct
    items = {item.name: item for item in grade_derivation(
        SEED, {"dz": "yhat - ys", "dh1": "W2 @ dz * (h1 > 0)", "dW1": "outer(x, dh1)"})}
    assert items["dW1"].status == "correct"
    # a name the student did not give is not its true gradient: see undefined_step below


def test_a_formula_cannot_use_a_later_gradient() -> None:
    item = verdict(SEED, "dz", "W2.T @ da1")
    assert (item.status, item.cause) == ("wrong", "unreadable")
    assert "computed from it" in item.explanation


# ------------------------------------------------------------------------------ batches


@pytest.mark.parametrize(("name", "formula", "status", "cause"), [
    ("dz", "(yhat - ys) / B", "correct", None),
    ("dz", "yhat - ys", "wrong", "missing_batch_mean"),
    ("dW3", "dz @ a2.T", "correct", None),  # out_in: W is fan_out × fan_in
    ("dW3", "(yhat - ys) @ a2.T / B", "correct", None),
    ("dW3", "(yhat - ys) @ a2.T", "wrong", "missing_batch_mean"),
    ("dW3", "a2 @ dz.T", "wrong", "outer_order"),
    ("db3", "dz @ ones(B)", "correct", None),
    ("db3", "sum(dz, axis=1)", "correct", None),
    ("db3", r"\frac{\partial L}{\partial z}\,\mathbf{1}_{B}", "correct", None),
    ("db3", "dz", "wrong", "missing_bias_gradient_sum"),
    ("db3", "sum(dz, axis=0)", "wrong", "wrong_shape"),
    ("da2", "W3.T @ dz", "correct", None),
    ("da2", "W3 @ dz", "wrong", "layout"),
    ("dh2", "da2 * (h2 > 0)", "correct", None),
    ("dh1", "W2.T @ (W3.T @ dz * (h2 > 0)) * (h1 > 0)", "correct", None),
    ("dh1", "W2.T @ (W3.T @ dz) * (h1 > 0)", "wrong", "missing_relu_mask"),
    ("dW1", "dh1 @ x.T", "correct", None),
    ("db1", "dh1 @ ones(B)", "correct", None),
    ("dW1", "((W2.T @ (W3.T @ ((yhat - y) / B) * (h2 > 0))) * (h1 > 0)) @ x.T", "wrong",
     "no_smoothing"),
])
def test_a_batch(name: str, formula: str, status: str, cause: str | None) -> None:
    item = verdict(BATCH, name, formula)
    assert (item.status, item.cause) == (status, cause), item.explanation


def test_the_batch_is_checked_at_distinct_sizes_and_with_one_instance() -> None:
    distinct, squares = make_instances(BATCH)
    batches = [inst.sizes["B"] for inst in distinct]
    assert 1 in batches and any(b > 1 for b in batches)
    for inst in distinct:
        sizes = [inst.sizes[k] for k in ("d", "n1", "n2", "q")]
        assert len(set(sizes)) == 4 and inst.sizes["B"] not in sizes
    assert all(inst.square for inst in squares)


# ----------------------------------------------------------- a deeper network, tanh, out_in


@pytest.mark.parametrize(("name", "formula", "status", "cause"), [
    ("dW3", "dz @ a2.T", "correct", None),
    ("dW3", r"(\hat{y} - y^{s}) a_2^\top", "correct", None),
    ("dh2", "da2 * (1 - a2 ** 2)", "correct", None),
    ("dh2", "W3.T @ dz * (1 - tanh(h2) ** 2)", "correct", None),
    ("dh2", r"\frac{\partial L}{\partial a_2} \odot (1 - a_2^{2})", "correct", None),
    ("dh2", "da2 * tanh_prime(h2)", "correct", None),
    ("dh2", "da2 * f_prime(h2)", "correct", None),
    ("dh2", "da2", "wrong", "missing_activation_derivative"),
    ("dh2", "da2 * (1 - h2 ** 2)", "wrong", "mask_on_wrong_quantity"),
    ("da2", "W3 @ dz", "wrong", "layout"),
    ("da1", "W2.T @ dh2", "correct", None),
    ("dW1", "dh1 @ x.T", "correct", None),
    ("dW1", "x @ dh1.T", "wrong", "outer_order"),
    ("dW1", "(W2.T @ ((W3.T @ (yhat - ys)) * (1 - a2 ** 2)) * (1 - a1 ** 2)) @ x.T", "correct",
     None),
    ("dW1", "(W2.T @ ((W3.T @ (ys - yhat)) * (1 - a2 ** 2)) * (1 - a1 ** 2)) @ x.T", "wrong",
     "dz_sign"),
    ("db1", "W2.T @ (W3.T @ dz * (1 - a2 ** 2))", "wrong", "missing_activation_derivative"),
])
def test_a_deeper_tanh_network_in_the_out_in_layout(name: str, formula: str, status: str,
                                                    cause: str | None) -> None:
    item = verdict(DEEP_TANH, name, formula)
    assert (item.status, item.cause) == (status, cause), item.explanation


def test_names_follow_the_problem() -> None:
    assert derivation_names(SEED) == ("dyhat", "dz", "dW2", "db2", "da1", "dh1", "dW1", "db1")
    assert derivation_names(BATCH)[:4] == ("dyhat", "dz", "dW3", "db3")
    item = verdict(BATCH, "dW3", "outer(dz, a)")  # `a` is a1 only in a 2-layer net
    assert item.cause == "unreadable" and "unknown name 'a'" in item.explanation


def test_dyhat_and_dz_from_it() -> None:
    assert verdict(SEED, "dyhat", "-ys / yhat").status == "correct"
    assert verdict(SEED, "dyhat", "ys / yhat").cause == "dz_sign"
    assert verdict(SEED, "dyhat", "-y / yhat").cause == "no_smoothing"
    items = {i.name: i for i in grade_derivation(SEED, {
        "dyhat": "-y / yhat", "dz": "(diag(yhat) - outer(yhat, yhat)) @ dyhat"})}
    assert items["dz"].status == "carried_forward"


# -------------------------------------------------------------------- reading, showing back


def test_syntax_is_detected_and_can_be_forced() -> None:
    assert detect_syntax("outer(x, dh1)") == "numpy"
    assert detect_syntax(r"x \delta^\top") == "latex"
    assert verdict(SEED, "db2", "yhat - ys", syntax="latex").status == "correct"
    item = verdict(SEED, "db2", "yhat @ ys.T", syntax="latex")  # '@' is not LaTeX
    assert item.cause == "unreadable"


@pytest.mark.parametrize("formula", [
    "outer(x, W2 @ (yhat - ys) * (h1 > 0))", "-(a1 @ (ys - yhat).T) / B",
    "diag(relu_prime(h1)) @ W2 @ dz", "sum(dz, axis=1) + ones(q) * eps ** 2",
    "da1 * (1 - a1 ** 2) - maximum(h1, 0)", "exp(log(yhat)) - softmax(z)", "dh1 @ x.T",
])
def test_latex_shown_back_reads_as_the_same_formula(formula: str) -> None:
    node = read_formula(formula, "numpy")
    again = read_formula(formula_latex(node), "latex")
    if "outer" not in formula:  # outer(u, v) is shown as u vᵀ, read back as a product
        assert formula_text(again) == formula_text(node)
    inst = make_instances(SEED)[0][0]
    env = {**inst.env, **inst.truth}
    first = evaluate(node, env, inst.symbols, inst.functions)
    assert np.allclose(evaluate(again, env, inst.symbols, inst.functions), first)


def test_read_derivation_shows_how_each_formula_was_read() -> None:
    read = read_derivation(SEED, {"dW1": r"x \left(\frac{\partial L}{\partial h_1}\right)^\top",
                                  "db1": "dh1 +"})
    assert read["dW1"].text == "x @ dh1.T"
    assert read["dW1"].latex == r"x\,\left(\frac{\partial L}{\partial h_{1}}\right)^{\top}"
    assert read["db1"].error is not None and read["db1"].error.position == 5
    assert read["db1"].to_dict()["error"].startswith("expected a value")


def test_expected_formulas_are_correct_alone_in_both_syntaxes() -> None:
    """Each expected formula, fed back to the grader alone (no step given), is correct: it is
    written out in the network's quantities, and so is its LaTeX form."""
    for problem in (SEED, BATCH, DEEP_TANH, SIGMOID_SQUARED, SOFTMAX_SQUARED, TANH_SUM,
                    SIGMOID_MEAN, LEAKY, OTHERS):
        order = set(derivation_names(problem))
        shown = {i.name: i for i in grade_derivation(problem, {})}
        for name, formula in expected_formulas(problem).items():
            assert not read_formula(formula, "numpy").names() & order, (name, formula)
            alone = grade_derivation(problem, {name: formula})
            item = next(i for i in alone if i.name == name)
            assert item.status == "correct", (name, formula, item.explanation)
            latex = item.expected_latex
            assert "mathbb" not in latex and latex == formula_latex(read_formula(formula))
            again = next(i for i in grade_derivation(problem, {name: latex}, "latex")
                         if i.name == name)
            assert again.status == "correct", (name, latex, again.explanation)
            if name in shown:  # a missing one shows the same right formula
                assert shown[name].expected == formula


def test_expected_formulas_are_written_out_in_the_networks_quantities() -> None:
    seed = expected_formulas(SEED)
    assert seed["dW1"] == "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))"
    assert seed["db1"] == "(W2 @ (yhat - ys)) * (h1 > 0)"
    assert seed["dW2"] == "outer(a1, yhat - ys)"
    item = verdict(SEED, "dW1", "x @ dh1.T")
    assert item.expected == seed["dW1"]
    assert item.expected_latex == (r"x\,\left(W_{2}\,\left(\hat{y} - y^{s}\right) \odot "
                                   r"\mathbf{1}\left[h_{1} > 0\right]\right)^{\top}")
    batch = expected_formulas(BATCH)  # out_in, a batch, the mean
    assert batch["dW3"] == "((yhat - ys) / B) @ a2.T"
    assert batch["dW1"] == "((W2.T @ ((W3.T @ ((yhat - ys) / B)) * (h2 > 0))) * (h1 > 0)) @ x.T"
    assert batch["db1"].endswith("@ ones(B)")
    tanh = expected_formulas(DEEP_TANH)
    assert tanh["dW1"] == ("outer((W2.T @ ((W3.T @ (yhat - ys)) * (1 - a2 ** 2))) * "
                           "(1 - a1 ** 2), x)")
    sigmoid = expected_formulas(SIGMOID_SQUARED)  # sigmoid output, squared error
    assert sigmoid["dW2"] == "outer(a1, (yhat - y) * yhat * (1 - yhat))"


# -------------------------------------------------------------- unreadable and hostile


@pytest.mark.parametrize(("formula", "words", "position"), [
    ("outer(x, dh1", "expected ')'", 12),
    ("a1 @@ dz", "expected a value", 4),
    ("a1 @ dzz.T", "unknown name 'dzz'", 5),
    ("a1 ** n", "an exponent must be a number", 6),
    (r"x \left(\frac{\partial L}{\partial h_1}\right)^{\dagger}", "superscript", 47),
    (r"a_1 (\hat{y} - y^{s})^\top &", "aligned", 27),
    ("foo(a1)", "unknown function 'foo'", 0),
    ("", "empty", 0),
])
def test_an_unreadable_formula_points_at_the_position(formula: str, words: str,
                                                      position: int) -> None:
    item = verdict(SEED, "dW2", formula, others={"db2": "dz"})
    assert (item.status, item.cause) == ("wrong", "unreadable")
    assert words in item.explanation
    assert item.position == position
    others = {i.name: i for i in grade_derivation(SEED, {"dz": "yhat - ys", "dW2": formula,
                                                         "db2": "dz"})}
    assert others["db2"].status == "correct"  # the rest is still graded


HOSTILE = [
    "x ** 99999999",
    "a1 ** 1e308",
    "(" * 5000 + "x" + ")" * 5000,
    "-" * 5000 + "x",
    r"\frac{" * 3000 + "x" + "}{2}" * 3000,
    "x + " * 100 + "x",  # long but readable: it is evaluated, on small sizes
    "x+" * 999 + "x",  # a chain as deep as the length allows
    "x" + ".T" * 995,
    "x" + "*x" * 990,
    "\\exp " * 399 + "x",
    "\\mathbf " * 249 + "x",
    "a1" * 100_000,
    "eye(1000000000) @ x",
    "ones(10 ** 10)",
    "1e999 * x",
    "9" * 5000,
    "x\x1b[2J\u202e",
    "outer(" * 30 + "x, x" + ")" * 30,
    r"\mathbb{1}[" * 100 + "h_1 > 0" + "]" * 100,
]


@pytest.mark.parametrize("formula", HOSTILE)
def test_hostile_formulas_get_a_clear_answer_at_once(formula: str) -> None:
    start = time.perf_counter()
    item = verdict(SEED, "dW1", formula)
    elapsed = time.perf_counter() - start  # measured, not asserted (speed is for bench/)
    assert item.status == "wrong"
    assert item.explanation and "Traceback" not in item.explanation
    assert "\x1b" not in item.explanation and "\u202e" not in item.explanation
    assert len(item.explanation) < 600
    print(f"{formula[:20]!r}: {elapsed * 1000:.1f} ms, {item.cause}: {item.explanation[:80]}")


def test_formula_errors_have_a_caret() -> None:
    with pytest.raises(FormulaError) as caught:
        read_formula("a1 @ (dz", "numpy")
    text = str(caught.value)
    assert "(at character 9)" in text
    assert text.splitlines()[-1].index("^") == 2 + 8


# ----------------------------------------------------------- the answer file and the CLI


ANSWER = """
[backward]
dz = [-0.5346, -0.0868, 0.6214]
[derivation]
dz = "yhat - ys"
dW2 = 'a_1 (\\hat{y} - y^{s})^\\top'
db2 = "ys - yhat"
dh1 = "W2 @ dz"
dW1 = "outer(x, dh1)"
db1 = "dh1 +"
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True,
                          text=True, timeout=120)


def test_grade_json_has_derivation_items(tmp_path) -> None:
    path = tmp_path / "answer.toml"
    path.write_text(ANSWER, encoding="utf-8")
    result = run_cli("grade", "homework3", str(path), "-f", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    items = {i["name"]: i for i in data["items"] if i["section"] == "derivation"}
    assert items["dW2"]["status"] == "correct"
    assert items["dW2"]["read_latex"] == r"a_{1}\,\left(\hat{y} - y^{s}\right)^{\top}"
    assert (items["db2"]["status"], items["db2"]["cause"]) == ("wrong", "dz_sign")
    assert items["dW1"]["status"] == "carried_forward" and items["dW1"]["inputs"] == ["dh1"]
    assert items["db1"]["cause"] == "unreadable" and items["db1"]["position"] == 5
    assert data["derivation"]["first_wrong"] == "db2"
    assert data["first_wrong"] is None  # Problem 2's numbers: dz given is right


def test_grade_terminal_and_markdown_show_how_formulas_were_read(tmp_path) -> None:
    path = tmp_path / "answer.toml"
    path.write_text(ANSWER, encoding="utf-8")
    text = run_cli("grade", "homework3", str(path)).stdout
    assert "Problem 1: the derivation" in text and "a1 @ (yhat - ys).T" in text
    assert "dh1 +\n" in text and "     ^" in text
    markdown = run_cli("grade", "homework3", str(path), "-f", "markdown").stdout
    assert "$a_{1}\\,\\left(\\hat{y} - y^{s}\\right)^{\\top}$" in markdown
    assert "| `db2` | $y^{s} - \\hat{y}$ | ✗ wrong | dz_sign |" in markdown


def test_syntax_option_and_bad_derivation_sections(tmp_path) -> None:
    path = tmp_path / "answer.toml"
    path.write_text('[derivation]\ndW2 = "a1 @ dz.T"\n', encoding="utf-8")
    data = json.loads(run_cli("grade", "homework3", str(path), "-f", "json", "--syntax",
                              "latex").stdout)
    item = next(i for i in data["items"] if i["name"] == "dW2" and i["section"] == "derivation")
    assert item["cause"] == "unreadable"
    path.write_text('[derivation]\ndW3 = "a1 @ dz.T"\ndW1 = 3\n', encoding="utf-8")
    result = run_cli("grade", "homework3", str(path))
    assert result.returncode == 2
    assert "derivation.dW3: not a gradient of this problem" in result.stderr
    assert "derivation.dW1: a formula is text" in result.stderr
    assert "Traceback" not in result.stderr


def test_derivation_items_count_in_the_score() -> None:
    report = grade_document(SEED, {"derivation": {"dz": "yhat - ys", "dW2": "outer(a1, dz)",
                                                  "db2": "dz", "dW1": "outer(x, W2 @ dz)"}})
    scored = score(report, Rubric())
    assert scored.verdicts["derivation.dW2"] == "correct"
    assert scored.verdicts["derivation.dW1"] == "wrong"
    assert scored.verdicts["derivation.db1"] == "missing"
    assert scored.earned["derivation.dW2"] == 1.0 and scored.earned["derivation.dW1"] == 0.0


def test_an_answer_without_a_derivation_is_graded_as_before(tmp_path) -> None:
    path = tmp_path / "answer.toml"
    path.write_text("[backward]\ndz = [0.2654, 0.0132, -0.2786]\n", encoding="utf-8")
    report = grade_file(SEED, path)
    assert not report.formulas and "derivation" not in report.to_dict()


def test_values_are_float64_columns_in_the_course_convention() -> None:
    distinct, _ = make_instances(SEED)
    inst = distinct[0]
    d, n, q = inst.sizes["d"], inst.sizes["n"], inst.sizes["q"]
    assert inst.env["x"].shape == (d, 1) and inst.env["h1"].shape == (n, 1)
    assert inst.env["W1"].shape == (d, n) and inst.env["b2"].shape == (q, 1)
    # h1 = W1ᵀx + b1, by hand
    assert np.allclose(inst.env["W1"].T @ inst.env["x"] + inst.env["b1"], inst.env["h1"])


# ------------------------------------------------------------ review 16: what broke it


def _problem(network: dict, loss: dict | None = None, data: dict | None = None) -> object:
    return validate_problem({
        "network": {"seed": 3, **network},
        "data": data or {"x": [1, 2], "y": [1, 0, 0]},
        "loss": loss or {},
        "optimizer": {"learning_rate": 0.1},
    }, "<review 16>")


SIGMOID_SQUARED = load_problem("regression")  # tanh hidden, sigmoid output, squared error
SOFTMAX_SQUARED = _problem({"layers": [2, 3, 3], "output": "softmax"},
                           {"kind": "squared_error"})
TANH_SUM = _problem({"layers": [3, 4, 2], "activation": "tanh"}, {"reduction": "sum"},
                    {"x": [[1, 0, 2], [0, 1, -1], [2, -1, 1]], "label": [0, 1, 1]})
SIGMOID_MEAN = _problem({"layers": [2, 3, 2], "activation": "sigmoid", "output": "identity"},
                        {"kind": "squared_error"},
                        {"x": [[0, 2], [1, 1], [2, 0]], "y": [[1, 0], [0, 1], [0.5, 0.5]]})
LEAKY = _problem({"layers": [2, 3, 3], "activation": "leaky_relu", "leaky_slope": 0.1},
                 {"label_smoothing": 0.3})
OTHERS = _problem({"layers": [2, 3, 3]}, {"label_smoothing": 0.2, "smoothing": "others"})


def test_a_later_step_using_an_earlier_one_of_the_wrong_shape_is_graded() -> None:
    items = {item.name: item for item in grade_derivation(SEED, {
        "dz": "yhat - ys", "dW2": "a1 @ dz.T", "db2": "dz", "da1": "W2 * dz.T",
        "dh1": "da1 * (h1 > 0)", "dW1": "x @ dh1.T", "db1": "dh1"})}
    assert items["da1"].cause == "wrong_shape" and "n × q" in items["da1"].explanation
    assert items["dh1"].status == "wrong" and items["dh1"].cause == "wrong_shape"
    assert items["dW1"].status == "wrong" and items["db1"].status == "wrong"
    assert items["dW2"].status == "correct"
    small = {item.name: item for item in grade_derivation(SEED, {"dh1": "W2", "dW1": "dh1"})}
    assert small["dh1"].cause == "wrong_shape" and small["dW1"].status == "wrong"


def test_one_student_with_a_wrong_shape_does_not_stop_the_class(tmp_path) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "s1.toml").write_text(
        '[derivation]\ndz = "yhat - ys"\nda1 = "W2 * dz.T"\ndh1 = "da1 * (h1 > 0)"\n'
        'dW1 = "x @ dh1.T"\n', encoding="utf-8")
    (answers / "s2.toml").write_text('[derivation]\ndW2 = "a1 @ dz.T"\n', encoding="utf-8")
    result = run_cli("grade", "homework3", str(answers), "--csv", str(tmp_path / "g.csv"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    sheet = (tmp_path / "g.csv").read_text(encoding="utf-8")
    assert "s1" in sheet and "s2" in sheet


@pytest.mark.parametrize("formula", ["dz \\", "\\", "a_1 \\"])
def test_a_backslash_at_the_end_is_unreadable_with_its_position(formula: str) -> None:
    with pytest.raises(FormulaError, match="backslash at the end") as caught:
        read_formula(formula, "latex")
    assert caught.value.position == len(formula) - 1
    assert verdict(SEED, "dz", formula, syntax="latex").cause == "unreadable"


def test_a_backslash_before_a_line_break_is_a_space() -> None:
    assert formula_text(read_formula("\\hat{y} - y^s \\\n", "latex")) == "yhat - ys"
    assert verdict(SEED, "dz", "\\hat{y} - y^s \\\n").status == "correct"


def test_no_assert_guards_the_readers() -> None:
    from pathlib import Path

    import handgrad.grade.formula as module

    assert "assert " not in Path(module.__file__).read_text(encoding="utf-8")


DEEP9 = _problem({"layers": [3, 4, 4, 4, 4, 4, 4, 4, 4, 2]}, data={"x": [1, 2, 3], "y": [0, 1]})


def test_a_derivation_deeper_than_8_layers_is_a_user_error(tmp_path) -> None:
    from handgrad.errors import HandgradError

    with pytest.raises(HandgradError, match="up to 8 weight layers"):
        grade_derivation(DEEP9, {"dW1": "x @ dh1.T"})
    # without formulas (a class whose other answers have some): all missing, no error
    assert {item.status for item in grade_derivation(DEEP9, {})} == {"missing"}
    (tmp_path / "p.toml").write_text(
        '[network]\nlayers = [3, 4, 4, 4, 4, 4, 4, 4, 4, 2]\nseed = 1\n[data]\nx = [1, 2, 3]\n'
        'y = [0, 1]\n[optimizer]\nlearning_rate = 0.1\n', encoding="utf-8")
    (tmp_path / "a.toml").write_text('[derivation]\ndW1 = "x @ dh1.T"\n', encoding="utf-8")
    result = run_cli("grade", str(tmp_path / "p.toml"), str(tmp_path / "a.toml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "up to 8 weight layers" in result.stderr and len(result.stderr.splitlines()) == 1


def test_latex_entrywise_product_is_looser_than_juxtaposition() -> None:
    mask_first = r"\mathbb{1}[h_2 > 0] \odot W_3^\top \frac{\partial L}{\partial z}"
    assert formula_text(read_formula(mask_first, "latex")) == "(h2 > 0) * (W3.T @ dz)"
    assert verdict(BATCH, "dh2", mask_first).status == "correct"
    assert formula_text(read_formula(r"a \circ b \cdot c", "latex")) == "a * (b @ c)"
    # NumPy-like keeps Python's precedence: * and @ equal, left to right
    assert formula_text(read_formula("(h2 > 0) * W3.T @ dz", "numpy")) == \
        "(h2 > 0) * W3.T @ dz"
    item = verdict(BATCH, "dh2", "(h2 > 0) * W3.T @ dz")
    assert item.status == "wrong"
    assert "only when the sizes are equal" not in item.explanation


def test_equal_size_instances_have_masks_that_vary_along_rows() -> None:
    _, squares = make_instances(BATCH)
    batches = [inst for inst in squares if inst.sizes["B"] > 1]
    assert len(batches) >= 3
    for inst in batches:
        for name in ("h1", "h2"):
            mask = inst.env[name] > 0
            assert np.all(mask.any(axis=1) & ~mask.all(axis=1))


@pytest.mark.parametrize(("name", "formula", "read"), [
    ("dW1", r"x \, dh_1^T", "x @ dh1.T"),
    ("dW1", r"x (dh_1)^\top", "x @ dh1.T"),
    ("dh1", r"da_1 \odot \mathbb{1}[h_1 > 0]", "da1 * (h1 > 0)"),
    ("dW2", r"a_1 \, d z^T", "a1 @ dz.T"),
    ("db1", r"dh_1", "dh1"),
    ("dW1", r"x \, \frac{dL}{dh_1}^T", "x @ dh1.T"),
    ("db1", "dh1", "dh1"),
])
def test_d_before_a_quantity_is_its_gradient(name: str, formula: str, read: str) -> None:
    item = verdict(SEED, name, formula)
    assert (item.read, item.status) == (read, "correct")


def test_dW_and_db_written_with_d_in_latex() -> None:
    items = {i.name: i for i in grade_derivation(SEED, {"dz": "yhat - ys",
                                                        "dW2": r"a_1\, dz^\top",
                                                        "da1": r"W_2\, dz",
                                                        "db1": r"db_1" if False else "dh1"})}
    assert items["dW2"].status == "correct" and items["da1"].status == "correct"
    node = read_formula(r"dW_1 + db_1", "latex")
    assert formula_text(node) == "dW1 + db1"


def test_otimes_is_the_outer_product() -> None:
    item = verdict(SEED, "dW1", r"x \otimes \frac{\partial L}{\partial h_1}")
    assert (item.read, item.status) == ("outer(x, dh1)", "correct")
    assert verdict(SEED, "dW2", r"a_1 \otimes (\hat{y} - y^s)").status == "correct"


def test_explanations_follow_the_problem() -> None:
    sign = verdict(SIGMOID_SQUARED, "dz", "(y - yhat) * yhat * (1 - yhat)")
    assert sign.cause == "dz_sign"
    assert "yˢ" not in sign.explanation and "ŷ ⊙ (1 − ŷ)" in sign.explanation
    # softmax + squared error: the Jacobian form is the expected one, with no note
    jacobian = verdict(SOFTMAX_SQUARED, "dz", "(diag(yhat) - outer(yhat, yhat)) @ (yhat - y)")
    assert (jacobian.status, jacobian.cause) == ("correct", None)
    sigmoid = verdict(SIGMOID_SQUARED, "dz", "diag(yhat * (1 - yhat)) @ (yhat - y)")
    assert (sigmoid.status, sigmoid.cause) == ("correct", None)
    # a diag(...yhat...) that is not the Jacobian gives no note
    assert verdict(SEED, "dW2", "a1 @ (diag(yhat) @ ones(q) - ys).T").cause is None
    # the Jacobian written another way still gets it, under softmax + cross-entropy
    kept = verdict(SEED, "dz", "(diag(yhat) - yhat @ yhat.T) @ dyhat")
    assert kept.cause == "full_jacobian_unsimplified"
    wrong_place = verdict(SIGMOID_MEAN, "dh1", "da1 * h1 * (1 - h1)")
    assert wrong_place.cause == "mask_on_wrong_quantity"
    assert "tanh" not in wrong_place.explanation and "1[h > 0]" not in wrong_place.explanation
    assert "a ⊙ (1 − a)" in wrong_place.explanation
    tanh = verdict(TANH_SUM, "dh1", "da1 * (1 - h1 ** 2)")
    assert "1 − a²" in tanh.explanation and "1[h > 0]" not in tanh.explanation


@pytest.mark.parametrize(("problem", "name", "formula"), [
    (BATCH, "db3", "np.sum(dz, axis=1, keepdims=True)"),
    (BATCH, "db3", "dz.sum(axis=1)"),
    (BATCH, "db3", "dz.sum(axis=1, keepdims=True)"),
    (BATCH, "db3", "np.sum(dz, axis=-1)"),
    (BATCH, "db3", "dz @ np.ones((B, 1))"),
    (BATCH, "db3", "dz @ ones(B, 1)"),
    (SEED, "dW2", "a1.dot(dz.T)"),
    (SEED, "da1", "W2.dot(dz)"),
    (SEED, "dh1", "da1 * (h1 > 0).astype(float)"),
    (SEED, "dh1", "da1 * (h1 > 0).astype(np.float64)"),
    (SEED, "dh1", "np.where(h1 > 0, da1, 0)"),
    (SEED, "dh1", "da1 * np.heaviside(h1, 0)"),
    (SEED, "dh1", "da1 * (a1 != 0)"),
    (SEED, "dW2", "a1 @ dz.T  # the outer product"),
    (SEED, "dW2", "a1 @ dz.T;"),
    (SEED, "dW2", r"a_1 (\hat{y} - y^s)^\mathsf{T}"),
    (BATCH, "dz", r"\tfrac{1}{B}(\hat{y} - y^s)"),
    (BATCH, "dz", r"\dfrac{\hat{y} - y^s}{B}"),
    (TANH_SUM, "dh1", r"\frac{\partial L}{\partial a_1} \odot (1 - \tanh^2(h_1))"),
    (TANH_SUM, "dh1", r"\frac{\partial L}{\partial a_1} \odot \operatorname{sech}^2(h_1)"),
    (TANH_SUM, "dh1", "da1 / np.cosh(h1) ** 2"),
    (SEED, "dh1", r"W_2 (\hat{y} - y^s) \odot 1_{h_1 > 0}"),
    (SEED, "dh1", r"W_2 (\hat{y} - y^s) \odot H(h_1)"),
    (SEED, "dW2", r"a_1 (\hat{y} - y^s)^\top."),
    (SEED, "dW2", r"a_1 (\hat{y} - y^s)^\top,"),
    (SEED, "dW2", r"a_1 (\hat{y} - y^s)^\top \in \mathbb{R}^{n \times q}"),
])
def test_common_correct_spellings_are_read(problem, name: str, formula: str) -> None:
    item = verdict(problem, name, formula)
    assert item.status == "correct", (item.cause, item.explanation)


def test_the_new_spellings_read_back_from_latex() -> None:
    for formula in ("where(h1 > 0, da1, 0)", "da1 * heaviside(h1, 0)", "da1 * (a1 != 0)",
                    "da1 * sech(h1) ** 2", "da1 / cosh(h1) ** 2"):
        node = read_formula(formula, "numpy")
        assert formula_text(read_formula(formula_latex(node), "latex")) == formula_text(node)


@pytest.mark.parametrize(("problem", "others", "name", "formula", "cause"), [
    (SIGMOID_SQUARED, {}, "dz", "yhat - y", "missing_output_derivative"),
    (TANH_SUM, {}, "dz", "(yhat - ys) / B", "extra_batch_mean"),
    (TANH_SUM, {}, "dW1", "x @ dh1.T / B", "extra_batch_mean"),
    (BATCH, {}, "dW3", "dz @ a2.T / B", "extra_batch_mean"),
    (TANH_SUM, {}, "dh1", "da1 * (h1 > 0)", "wrong_activation_derivative"),
    (SIGMOID_MEAN, {}, "dh1", "da1 * (h1 > 0)", "wrong_activation_derivative"),
    (LEAKY, {}, "dh1", "da1 * (h1 > 0)", "wrong_activation_derivative"),
    (OTHERS, {}, "dz", "yhat - (1 - eps) * y - eps / q", "wrong_smoothing"),
    (SEED, {}, "dz", "2 * (yhat - ys)", "wrong_factor"),
    (SIGMOID_MEAN, {}, "dyhat", "2 * (yhat - y) / B", "wrong_factor"),
])
def test_more_mistakes_are_named(problem, others, name: str, formula: str, cause: str) -> None:
    from handgrad.grade.derivation import explain

    item = verdict(problem, name, formula, others)
    assert (item.status, item.cause) == ("wrong", cause), item.explanation
    assert item.explanation.endswith(explain(cause, problem))
    assert "none of the known mistakes" not in item.explanation


def test_new_causes_have_words() -> None:
    from handgrad.grade.records import DERIVATION_EXPLANATIONS

    for cause in ("missing_output_derivative", "extra_batch_mean", "wrong_activation_derivative",
                  "wrong_smoothing", "wrong_factor"):
        assert DERIVATION_EXPLANATIONS[cause]


def test_steps_after_one_that_fits_only_equal_sizes_are_carried_forward() -> None:
    items = {item.name: item for item in grade_derivation(SEED, {
        "dz": "yhat - ys", "da1": "W2.T @ dz", "dh1": "da1 * (h1 > 0)", "dW1": "x @ dh1.T"})}
    assert (items["da1"].status, items["da1"].cause) == ("wrong", "layout")
    assert items["dh1"].status == "carried_forward"
    assert items["dW1"].status == "carried_forward"
    # a later step that is wrong in terms of it too is not carried forward
    assert verdict(SEED, "dh1", "da1", {"da1": "W2.T @ dz"}).status == "wrong"


def test_markdown_escapes_an_unreadable_formula(tmp_path) -> None:
    from handgrad.render.grade import render_grade_markdown

    report = grade_document(SEED, {"derivation": {
        "dW2": "a1 ` <img src=x onerror=alert(1)> ` @ dz.T",
        "db2": "x\n```\n# heading\n```", "da1": "<b>hi</b> | x"}})
    markdown = render_grade_markdown(report)
    row = next(line for line in markdown.splitlines() if line.startswith("| `dW2`"))
    assert "``a1 ` <img src=x onerror=alert(1)> ` @ dz.T``" in row
    assert "\n# heading" not in markdown
    # outside code spans and fenced blocks no HTML is left
    outside, fence = [], ""
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```") and (not fence or stripped == fence):
            fence = "" if fence else stripped
            continue
        if not fence:
            outside.append(line)
    text = "\n".join(outside).replace("`<b>hi</b> \\| x`", "").replace(
        "``a1 ` <img src=x onerror=alert(1)> ` @ dz.T``", "")
    assert "<b>" not in text and "<img" not in text


def test_sum_keywords_are_explicit() -> None:
    with pytest.raises(FormulaError, match="needs the values"):
        read_formula("sum(axis=1)", "numpy")
    with pytest.raises(FormulaError, match="no argument 'where'"):
        read_formula("sum(dz, where=1)", "numpy")
    assert formula_text(read_formula("mean(dz, axis=1, keepdims=True)", "numpy")) == \
        "mean(dz, axis=1)"


def test_an_empty_derivation_says_so(tmp_path) -> None:
    from handgrad.grade.answers import AnswerError

    for text in ("[derivation]\n", '[derivation]\ndz = ""\n'):
        path = tmp_path / "answer.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(AnswerError, match=r"\[derivation\] section no formula"):
            grade_file(SEED, path)


def test_H_called_is_the_heaviside_step() -> None:
    assert formula_text(read_formula(r"H(h_1)", "latex")) == "heaviside(h1, 0)"
    assert verdict(SEED, "dh1", r"\frac{\partial L}{\partial a_1} \odot H(h_1)").status == \
        "correct"


# the right steps of each problem, by hand, each in terms of the one before it (verdict gives
# those before the graded formula)
STEPS = [
    (SEED, {"dyhat": "-ys / yhat", "dz": "yhat - ys", "da1": "W2 @ dz",
            "dh1": "da1 * (h1 > 0)"}),
    (BATCH, {"dyhat": "-ys / yhat / B", "dz": "(yhat - ys) / B", "da2": "W3.T @ dz",
             "dh2": "da2 * (h2 > 0)", "da1": "W2.T @ dh2", "dh1": "da1 * (h1 > 0)"}),
    (DEEP_TANH, {"dyhat": "-ys / yhat", "dz": "yhat - ys", "da2": "W3.T @ dz",
                 "dh2": "da2 * (1 - a2 ** 2)", "da1": "W2.T @ dh2",
                 "dh1": "da1 * (1 - a1 ** 2)"}),
    (TANH_SUM, {"dyhat": "-ys / yhat", "dz": "yhat - ys", "da1": "W2 @ dz",
                "dh1": "da1 * (1 - a1 ** 2)"}),
    (SIGMOID_MEAN, {"dyhat": "(yhat - y) / B", "dz": "(yhat - y) / B", "da1": "W2 @ dz",
                    "dh1": "da1 * a1 * (1 - a1)"}),
    (LEAKY, {"dyhat": "-ys / yhat", "dz": "yhat - ys", "da1": "W2 @ dz",
             "dh1": "da1 * np.where(h1 > 0, 1, 0.1)"}),
]


# ------------------------------------------------- a step the answer does not give: not free


def test_a_step_not_given_is_not_taken_at_its_true_value() -> None:
    items = {i.name: i for i in grade_derivation(SEED, {
        "dW2": "a1 @ dz.T", "db2": "dz", "dW1": "x @ dh1.T", "db1": "dh1"})}
    for name in ("dW2", "db2", "dW1", "db1"):
        assert (items[name].status, items[name].cause) == ("wrong", "undefined_step"), name
    words = items["dW1"].explanation
    assert "uses ∂L/∂h1, which your answer does not derive" in words
    assert "x, W1, W2, h1" in words and "give dh1 too" in words
    assert items["dW1"].expected == "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))"
    assert "give dz too" in items["db2"].explanation
    # given and right: correct; given and wrong: carried forward, as before
    steps = {"dz": "yhat - ys", "dh1": "W2 @ dz * (h1 > 0)"}
    right = {i.name: i for i in grade_derivation(SEED, {**steps, "dW1": "x @ dh1.T",
                                                        "db2": "dz"})}
    assert right["dW1"].status == right["db2"].status == "correct"
    wrong = {i.name: i for i in grade_derivation(SEED, {"dz": "ys - yhat", "db2": "dz"})}
    assert wrong["db2"].status == "carried_forward"


def test_a_step_not_given_counts_through_the_steps_that_use_it() -> None:
    items = {i.name: i for i in grade_derivation(SEED, {
        "da1": "W2 @ dz", "dh1": "da1 * (h1 > 0)", "dW1": "x @ dh1.T", "db1": "dh1"})}
    assert items["da1"].cause == "undefined_step"
    for name in ("dh1", "dW1", "db1"):
        assert (items[name].status, items[name].cause) == ("wrong", "undefined_step"), name
        assert "∂L/∂z (through your" in items[name].explanation
        assert "give dz too" in items[name].explanation
    # written out in the network's quantities, a formula needs no step
    assert verdict(SEED, "dW1", "outer(x, W2 @ (yhat - ys) * (h1 > 0))", syntax="numpy"
                   ).status == "correct"
    # deeper, with a batch: a formula using dz, dh2 alone
    item = next(i for i in grade_derivation(BATCH, {"dW2": "dh2 @ a1.T"}) if i.name == "dW2")
    assert (item.status, item.cause) == ("wrong", "undefined_step")
    assert "∂L/∂h2" in item.explanation


def test_an_unreadable_step_derives_nothing_for_its_dependents() -> None:
    """Garbage for dz must not make `dW2 = a1 @ dz.T` correct: what cannot be read is not
    given (the step itself is `unreadable`, its dependents `undefined_step`)."""
    items = {i.name: i for i in grade_derivation(SEED, {"dz": "yhat -", "db2": "dz",
                                                        "dW2": "a1 @ dz.T"})}
    assert items["dz"].cause == "unreadable"
    assert (items["db2"].status, items["db2"].cause) == ("wrong", "undefined_step")
    assert (items["dW2"].status, items["dW2"].cause) == ("wrong", "undefined_step")
    assert "not readable" in items["dW2"].explanation


def test_undefined_step_has_words_everywhere() -> None:
    from handgrad.grade.derivation import explain
    from handgrad.grade.records import DERIVATION_CAUSES, DERIVATION_EXPLANATIONS

    assert "undefined_step" in DERIVATION_CAUSES
    assert "does not derive" in DERIVATION_EXPLANATIONS["undefined_step"]
    assert "(x, W1, W2, …, yhat, ys, …)" in explain("undefined_step", BATCH)
    assert "(x, W1, W2, h1, yhat, ys, …)" in explain("undefined_step", SEED)


def test_the_relu_mask_is_shown_in_latex_that_katex_draws() -> None:
    node = read_formula("da1 * (h1 > 0)", "numpy")
    latex = formula_latex(node)
    assert latex == r"\frac{\partial L}{\partial a_{1}} \odot \mathbf{1}\left[h_{1} > 0\right]"
    for written in (latex, r"da_1 \odot \mathbb{1}[h_1 > 0]", r"da_1 \odot \mathbf{1}[h_1 > 0]"):
        assert formula_text(read_formula(written, "latex")) == "da1 * (h1 > 0)"


def test_a_formula_that_fits_only_equal_sizes_has_its_caret() -> None:
    item = verdict(SEED, "da1", "W2 @ eye(n) @ dz")
    assert item.cause == "wrong_shape"
    assert item.position is not None
    assert f"(at character {item.position + 1})" in item.explanation
    layout = verdict(SEED, "da1", "W2.T @ (yhat - ys)")
    assert layout.cause == "layout" and layout.position == 5
