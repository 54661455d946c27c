"""The seed homework (Problem 2), worked here by hand in plain Python and compared with solve().

The hand computation uses only `math` and lists, never the engine. Column-vector notation:
h = W1ᵀx + b1, a = ReLU(h), z = W2ᵀa + b2, ŷ = softmax(z), L = −Σ yˢᵢ ln ŷᵢ.

    x = [0, 2]ᵀ, so W1ᵀx = 0·(row 1 of W1) + 2·(row 2 of W1) = 2·[-5, 2, -1] = [-10, 4, -2]
    h = [-10, 4, -2] + [-3, -2, -3] = [-13, 2, -5]             only unit 2 is active
    a = [0, 2, 0]
    W2ᵀa = 2·(row 2 of W2) = 2·[-2, -4, -2] = [-4, -8, -4]
    z = [-4, -8, -4] + [4, 5, 5] = [0, -3, 1]
    ŷ = [1, e⁻³, e] / (1 + e⁻³ + e) ≈ [0.265388, 0.013213, 0.721399]
    yˢ = 0.7·[1, 0, 0] + 0.3/3 = [0.8, 0.1, 0.1]
    L = −(0.8 ln ŷ₁ + 0.1 ln ŷ₂ + 0.1 ln ŷ₃)
    ∂L/∂z = ŷ − yˢ;  ∂L/∂W2 = a (∂L/∂z)ᵀ: only row 2 is non-zero, = 2·∂L/∂z
    ∂L/∂a = W2 ∂L/∂z;  ∂L/∂h = ∂L/∂a ⊙ [0, 1, 0]
    ∂L/∂W1 = x (∂L/∂h)ᵀ: row 1 is 0 (x₁ = 0), row 2 = 2·∂L/∂h
    θ ← θ − 0.1·∂L/∂θ
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import handgrad

W1 = [[-5, 2, 2], [-5, 2, -1]]
B1 = [-3, -2, -3]
W2 = [[3, -4, 1], [-2, -4, -2], [-4, -2, 3]]
B2 = [4, 5, 5]
X = [0, 2]
Y = [1, 0, 0]
EPS, ETA = 0.3, 0.1


def hand_worked() -> dict[str, object]:
    """Every quantity of Problem 2, computed from the formulas above with lists and math."""
    h = [sum(X[i] * W1[i][j] for i in range(2)) + B1[j] for j in range(3)]
    a = [max(v, 0.0) for v in h]
    z = [sum(a[i] * W2[i][j] for i in range(3)) + B2[j] for j in range(3)]
    total = sum(math.exp(v) for v in z)
    yhat = [math.exp(v) / total for v in z]
    ys = [(1 - EPS) * t + EPS / 3 for t in Y]
    loss = -sum(s * math.log(p) for s, p in zip(ys, yhat, strict=True))
    dz = [p - s for p, s in zip(yhat, ys, strict=True)]
    dW2 = [[a[i] * dz[j] for j in range(3)] for i in range(3)]
    da = [sum(W2[i][j] * dz[j] for j in range(3)) for i in range(3)]
    dh = [da[i] * (1.0 if h[i] > 0 else 0.0) for i in range(3)]
    dW1 = [[X[i] * dh[j] for j in range(3)] for i in range(2)]
    new_W1 = [[W1[i][j] - ETA * dW1[i][j] for j in range(3)] for i in range(2)]
    new_b1 = [B1[j] - ETA * dh[j] for j in range(3)]
    new_W2 = [[W2[i][j] - ETA * dW2[i][j] for j in range(3)] for i in range(3)]
    new_b2 = [B2[j] - ETA * dz[j] for j in range(3)]
    # the loss after the step, by the same hand formulas at the new parameters
    h2 = [sum(X[i] * new_W1[i][j] for i in range(2)) + new_b1[j] for j in range(3)]
    a2 = [max(v, 0.0) for v in h2]
    z2 = [sum(a2[i] * new_W2[i][j] for i in range(3)) + new_b2[j] for j in range(3)]
    log_total = math.log(sum(math.exp(v) for v in z2))
    loss_after = -sum(s * (v - log_total) for s, v in zip(ys, z2, strict=True))
    return {
        "forward": {"h1": h, "a1": a, "z": z, "yhat": yhat, "ys": ys, "loss": loss},
        "backward": {"dz": dz, "dW2": dW2, "db2": dz, "da1": da, "dh1": dh, "dW1": dW1, "db1": dh},
        "update": {"W1": new_W1, "b1": new_b1, "W2": new_W2, "b2": new_b2, "loss": loss_after},
    }


@pytest.fixture(scope="module")
def solution() -> handgrad.Solution:
    return handgrad.solve(handgrad.load_problem())


def test_hand_values_match_the_closed_forms() -> None:
    """The hand computation itself, against the closed forms a student would write."""
    e = math.e
    expected = hand_worked()["forward"]
    assert expected["h1"] == [-13, 2, -5]
    assert expected["z"] == [0, -3, 1]
    denominator = 1 + e**-3 + e
    assert expected["yhat"] == pytest.approx(
        [1 / denominator, e**-3 / denominator, e / denominator], rel=1e-15
    )
    assert expected["yhat"][0] == pytest.approx(0.2653879288, rel=1e-9)


@pytest.mark.parametrize("section", ["forward", "backward", "update"])
def test_seed_matches_the_hand_computation_to_10_digits(
    solution: handgrad.Solution, section: str
) -> None:
    expected = hand_worked()[section]
    got = getattr(solution, section)
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(
            got[name],
            np.asarray(value, dtype=float),
            rtol=1e-10,
            atol=1e-12,
            err_msg=f"{section}.{name}",
        )


def test_seed_headline_numbers(solution: handgrad.Solution) -> None:
    """The numbers a student checks first, written out to 10 significant digits."""
    assert solution.forward["loss"] == pytest.approx(1.526562641, rel=1e-9)
    assert solution.update["loss"] == pytest.approx(1.216953727, rel=1e-9)
    assert solution.history == pytest.approx((1.526562641, 1.216953727), rel=1e-9)
    assert solution.update["b2"] == pytest.approx([4.053461207, 5.008678711, 4.937860082], rel=1e-9)
    # only unit 2 of the hidden layer is active, so only row 2 of W2 and entry (2, 2) of W1 move
    assert solution.update["W1"][1][1] == pytest.approx(1.965285155, rel=1e-9)


def test_seed_gradients_pass_the_finite_difference_check(solution: handgrad.Solution) -> None:
    (check,) = solution.checks
    assert check.method == "finite_differences"
    assert set(check.errors) == {"dW1", "db1", "dW2", "db2"}
    assert max(check.errors.values()) < 1e-7


def test_seed_has_no_kink_and_states_its_conventions(solution: handgrad.Solution) -> None:
    assert solution.kinks == ()
    said = " ".join(solution.conventions)
    assert "in_out" in said and "uniform" in said and "ReLU′(0) = 0" in said
