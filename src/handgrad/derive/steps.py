"""Problem 1 as an answer key: every gradient derived step by step, each step checked by sympy.

The matrix forms are the solver's own formulas (the ones the engine evaluates), in the
problem's layout and batch form; the index forms spell out the same sums entry by entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from handgrad.core.activations import OUTPUTS
from handgrad.core.ops import Layout
from handgrad.derive.symbolic import check_backward
from handgrad.notation import Math, format_shape
from handgrad.problem import Problem, load_problem
from handgrad.solution import Solution
from handgrad.solver import solve

# hⱼ = Σᵢ W[i, j] aᵢ + bⱼ in the in_out layout (h = Wᵀa + b) and Σᵢ W[j, i] aᵢ + bⱼ in the
# out_in layout (h = Wa + b): the part of W that hⱼ reads, and so where ∂L/∂hⱼ lands in ∂L/∂W.
SLICE_OF_W: dict[Layout, str] = {"in_out": "column", "out_in": "row"}

# δℓ₊₁ carried back through Wℓ₊₁ to ∂L/∂aℓ: Wℓ₊₁ δℓ₊₁ when h = Wᵀa + b (in_out) and Wℓ₊₁ᵀ δℓ₊₁
# when h = Wa + b (out_in), for one instance as a column; with a batch's rows stacked (H = AW + 1bᵀ
# or H = AWᵀ + 1bᵀ) the same product is transposed, Δℓ₊₁ Wℓ₊₁ᵀ or Δℓ₊₁ Wℓ₊₁.
RECURSION: dict[Layout, tuple[str, str]] = {
    "in_out": ("(Wℓ₊₁ δℓ₊₁)", "(Δℓ₊₁ Wℓ₊₁ᵀ)"),
    "out_in": ("(Wℓ₊₁ᵀ δℓ₊₁)", "(Δℓ₊₁ Wℓ₊₁)"),
}


@dataclass(frozen=True)
class Step:
    """One step of the derivation."""

    quantity: str
    index_form: str
    matrix_form: str
    latex: str
    shape: str
    verified: bool | None  # None: a definition, nothing to check
    note: str = ""


@dataclass(frozen=True)
class Derivation:
    problem: Problem
    steps: tuple[Step, ...]
    conventions: tuple[str, ...]

    @property
    def verified(self) -> bool:
        return all(step.verified is not False for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.name,
            "conventions": list(self.conventions),
            "verified": self.verified,
            "steps": [
                {k: v for k, v in asdict(step).items() if k != "note" or v} for step in self.steps
            ],
        }

    def _repr_markdown_(self) -> str:
        from handgrad.render.derivation import render_derivation_markdown

        return render_derivation_markdown(self)


def derive(problem: Problem | Any) -> Derivation:
    """The derivation of every gradient of the problem's architecture, verified by sympy."""
    if not isinstance(problem, Problem):
        problem = load_problem(problem)
    solution = solve(problem)
    checks = check_backward(problem)
    return Derivation(problem, tuple(_steps(solution, checks)), solution.conventions)


def _steps(solution: Solution, checks: dict[str, bool]) -> list[Step]:
    problem = solution.problem
    arch = problem.architecture
    batch = problem.batched
    by_key = {q.key: q for q in solution.quantities if q.section == "backward"}
    forward = {q.key: q for q in solution.quantities if q.section == "forward"}
    rows = " for every row b of the batch" if batch else ""
    total = "summed over the rows b (÷ B for the mean)" if batch else ""
    chain = " → ".join(
        ["x"] + [f"h{ell} → a{ell}" for ell in range(1, arch.depth)] + ["z", "ŷ", "L"]
    )
    steps = [
        Step(
            "dependencies",
            chain + (" (yˢ from y feeds L)" if "ys" in forward else ""),
            chain,
            chain.replace("ŷ", r"\hat{y}").replace("→", r"\to"),
            "",
            None,
            "L depends on each parameter only through this chain, so the chain rule runs "
            "backwards along it" + rows,
        ),
    ]
    if arch.loss == "cross_entropy":
        steps.append(
            Step(
                "∂L/∂ŷᵢ",
                "∂L/∂ŷᵢ = −yˢᵢ / ŷᵢ",
                "∂L/∂ŷ = −yˢ ⊘ ŷ",
                r"\frac{\partial L}{\partial \hat{y}_i} = -\frac{y^{s}_i}{\hat{y}_i}",
                format_shape(forward["yhat"].shape),
                checks["dyhat"],
                "from L = −Σᵢ yˢᵢ ln ŷᵢ" + (f", {total}" if total else ""),
            )
        )
    else:
        steps.append(
            Step(
                "∂L/∂ŷᵢ",
                "∂L/∂ŷᵢ = ŷᵢ − yᵢ",
                "∂L/∂ŷ = ŷ − y",
                r"\frac{\partial L}{\partial \hat{y}_i} = \hat{y}_i - y_i",
                format_shape(forward["yhat"].shape),
                checks["dyhat"],
                "from L = ½ Σᵢ (ŷᵢ − yᵢ)²" + (f", {total}" if total else ""),
            )
        )
    output = OUTPUTS[arch.output]
    steps.append(
        Step(
            "∂ŷ/∂z",
            output.jacobian_index,
            output.jacobian_matrix,
            output.jacobian_latex,
            f"{arch.layers[-1]}×{arch.layers[-1]}",
            checks["jacobian"],
            f"the {arch.output} output's Jacobian",
        )
    )
    dz = by_key["dz"]
    if arch.fused_softmax_cross_entropy:
        index = (
            "∂L/∂zⱼ = Σᵢ (∂L/∂ŷᵢ)(∂ŷᵢ/∂zⱼ) = Σᵢ (−yˢᵢ/ŷᵢ)·ŷᵢ(δᵢⱼ − ŷⱼ) = −yˢⱼ + ŷⱼ Σᵢ yˢᵢ"
            " = ŷⱼ − yˢⱼ"
        )
        note = (
            "the sum collapses because Σᵢ yˢᵢ = (1 − ε) Σᵢ yᵢ + ε = 1 for a one-hot or any "
            "distribution y, under either smoothing convention. If the targets did not sum "
            "to 1 the last step would not hold: ∂L/∂z = ŷ Σᵢ yˢᵢ − yˢ"
        )
    else:
        index = "∂L/∂zⱼ = Σᵢ (∂L/∂ŷᵢ)(∂ŷᵢ/∂zⱼ)"
        note = "the chain rule through the output's Jacobian"
    steps.append(_from_quantity(dz, index, checks["dz"], note))
    for layer in range(arch.depth, 0, -1):
        out = "z" if layer == arch.depth else f"h{layer}"
        inp = "x" if layer == 1 else f"a{layer - 1}"
        sums = "Σᵦ " if batch else ""
        if arch.layout == "in_out":
            w_index = f"∂L/∂W{layer}[i, j] = {sums}{inp}ᵢ · ∂L/∂{out}ⱼ"
            a_index = f"∂L/∂{inp}ᵢ = Σⱼ W{layer}[i, j] · ∂L/∂{out}ⱼ"
        else:
            w_index = f"∂L/∂W{layer}[j, i] = {sums}∂L/∂{out}ⱼ · {inp}ᵢ"
            a_index = f"∂L/∂{inp}ᵢ = Σⱼ W{layer}[j, i] · ∂L/∂{out}ⱼ"
        in_value = problem.x if inp == "x" else forward[inp].value
        in_shape = _shape(in_value, first_row=inp == "x" and not batch)
        up_shape = _shape(by_key["dz" if out == "z" else f"dh{layer}"].value)
        steps.append(
            _from_quantity(
                by_key[f"dW{layer}"],
                w_index,
                checks[f"dW{layer}"],
                f"{out}ⱼ depends on W{layer} only through its own {SLICE_OF_W[arch.layout]}",
                f"{inp}: {in_shape}, ∂L/∂{out}: {up_shape}",
            )
        )
        steps.append(
            _from_quantity(
                by_key[f"db{layer}"],
                f"∂L/∂b{layer}ⱼ = {sums}∂L/∂{out}ⱼ",
                checks[f"db{layer}"],
                f"∂{out}ⱼ/∂b{layer}ⱼ = 1",
                f"∂L/∂{out}: {up_shape}",
            )
        )
        if layer == 1:
            break
        hidden = layer - 1
        steps.append(
            _from_quantity(
                by_key[f"da{hidden}"],
                a_index,
                checks[f"da{hidden}"],
                f"a{hidden} feeds every unit of the next layer",
                f"W{layer}: {_shape(problem.params[f'W{layer}'])}, ∂L/∂{out}: {up_shape}",
            )
        )
        rule = arch.hidden.rule
        # the index form multiplies single entries, so the table's elementwise ⊙ is a product
        derivative = rule.derivative_text.format(h=f"h{hidden}ᵢ", a=f"a{hidden}ᵢ")
        derivative = derivative.replace(" ⊙ ", "")
        kink = ""
        if rule.piecewise_linear:
            kink = (
                " At h = 0 the derivative does not exist; the convention "
                + arch.hidden.kink_convention()
                + " is used."
            )
        kinks = [k for k in solution.kinks if k.key == f"h{hidden}"]
        if kinks:
            kink += f" This problem has h{hidden}{list(kinks[0].index)} = 0 exactly."
        recursion = (
            _recursion(arch.layout, batch) if arch.depth > 2 and hidden == arch.depth - 1 else ""
        )
        steps.append(
            _from_quantity(
                by_key[f"dh{hidden}"],
                f"∂L/∂h{hidden}ᵢ = ∂L/∂a{hidden}ᵢ · {derivative}",
                checks[f"dh{hidden}"],
                f"a{hidden}ᵢ depends only on h{hidden}ᵢ.{kink}{recursion}",
                f"∂L/∂a{hidden} ⊙ f′(h{hidden}): {_shape(by_key[f'da{hidden}'].value)}",
            )
        )
    return steps


def _recursion(layout: Layout, batch: bool) -> str:
    """The note on δℓ = ∂L/∂hℓ, with Wℓ₊₁ the way round the layout has it."""
    one, stacked = RECURSION[layout]
    row = " for one row" if batch else ""
    note = f" With δℓ = ∂L/∂hℓ{row} this is the recursion δℓ = {one} ⊙ f′(hℓ)"
    note += ", applied layer by layer"
    if batch:
        note += f"; with the rows stacked, Δℓ = ∂L/∂Hℓ = {stacked} ⊙ f′(Hℓ)"
    return note + "."


def _shape(value: Any, first_row: bool = False) -> str:
    """The shape of a recorded value (the problem's x is stored with a batch axis)."""
    array = value[0] if first_row else value
    return format_shape(getattr(array, "shape", ()))


def _from_quantity(quantity: Any, index: str, verified: bool, note: str, factors: str = "") -> Step:
    """A step whose matrix form is the solver's formula; `factors` names the factors' shapes."""
    matrix: Math = quantity.symbol + f" {quantity.relation} " + quantity.formula
    result = format_shape(quantity.shape)
    return Step(
        quantity.symbol.text,
        index,
        matrix.text,
        matrix.latex,
        f"{factors} → {result}" if factors else result,
        verified,
        note,
    )
