"""Problem 1 as an answer key: every gradient derived step by step, each step checked by sympy.

The matrix forms are the solver's own formulas (the ones the engine evaluates), in the
problem's layout and batch form; the index forms spell out the same sums entry by entry. Both
come in Unicode (terminal) and LaTeX (documents), and shapes are in Problem 1's symbols (d, n, q;
d, n₁, n₂, …, q deeper; B rows for a batch), so the answer holds for any sizes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from handgrad import words
from handgrad.core.activations import OUTPUTS
from handgrad.core.ops import Layout
from handgrad.derive.symbolic import check_backward
from handgrad.notation import MINUS, YHAT, YHAT_BATCH, YS, YS_BATCH, Math, grad, var
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
    """One step of the derivation: the index form (one entry) and the matrix form, each in
    Unicode for a terminal and in LaTeX for documents, with shapes in the problem's symbols."""

    quantity: str
    index_form: str
    index_latex: str
    matrix_form: str
    latex: str  # the matrix form in LaTeX
    shape: str  # in the size symbols d, n (n₁, n₂, …), q and B, e.g. "a1: n, ∂L/∂z: q → n × q"
    shape_latex: str
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

    @property
    def sizes(self) -> list[str | Math]:
        """What d, n (n₁, n₂, …), q (and B) stand for, with this instance's sizes as the example."""
        return words.sizes_convention(self.problem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.name,
            "sizes": words.as_text(self.sizes),
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


SUM_B = Math("Σᵦ ", r"\sum_b ")
SUM_I = Math("Σᵢ ", r"\sum_i ")
SUM_J = Math("Σⱼ ", r"\sum_j ")
TIMES = Math(" · ", r"\,")  # a product of two entries
SUBSCRIPTS = {"i": "ᵢ", "j": "ⱼ"}
BY = Math(" × ", r" \times ")
BY_B = Math("B × ", r"B \times ")
GIVES = Math(" → ", r" \to ")
APART = Math(", ", r",\ ")
COLON = Math(": ", r"\colon ")


def entry(name: str, layer: int | None, index: str) -> Math:
    """One entry of one instance's vector: a1ᵢ / a_{1,i}, zⱼ / z_j."""
    text = f"{name}{layer if layer is not None else ''}{SUBSCRIPTS[index]}"
    if layer is None:
        return Math(text, f"{name}_{index}")
    return Math(text, f"{name}_{{{layer},{index}}}")


def row_entry(name: str, layer: int | None, index: str) -> Math:
    """Entry (b, index) of a batch's matrix, one row per instance: A1[b, i] / A_{1}[b,i]."""
    capital = name.upper()
    if layer is None:
        return Math(f"{capital}[b, {index}]", f"{capital}[b,{index}]")
    return Math(f"{capital}{layer}[b, {index}]", f"{capital}_{{{layer}}}[b,{index}]")


def weight_entry(layer: int, first: str, second: str) -> Math:
    """W2[i, j] / W_{2}[i,j]."""
    return Math(f"W{layer}[{first}, {second}]", f"W_{{{layer}}}[{first},{second}]")


def equation(left: Math, right: Math) -> Math:
    return left + " = " + right


class Sizes:
    """Shapes in the problem's symbols: d, n (n₁, n₂, …), q, and B rows for a batch."""

    def __init__(self, problem: Problem) -> None:
        self.symbols = words.layer_symbols(problem.architecture.layers)
        self.batched = problem.batched
        self.in_out = problem.architecture.layout == "in_out"

    def units(self, layer: int) -> Math:
        """Layer `layer`'s size: 0 is the input (d), the last the output (q)."""
        return self.symbols[layer]

    def vector(self, layer: int) -> Math:
        """x, a, h, z or a gradient of one: "n" for one instance, "B × n" for a batch."""
        return BY_B + self.units(layer) if self.batched else self.units(layer)

    def weight(self, layer: int) -> Math:
        """Wℓ and ∂L/∂Wℓ: fan_in × fan_out (in_out) or fan_out × fan_in (out_in)."""
        fan_in, fan_out = self.units(layer - 1), self.units(layer)
        return fan_in + BY + fan_out if self.in_out else fan_out + BY + fan_in


def _steps(solution: Solution, checks: dict[str, bool]) -> list[Step]:
    problem = solution.problem
    arch = problem.architecture
    batch = problem.batched
    wording = words.Wording(problem)
    sizes = Sizes(problem)
    depth = arch.depth
    q = sizes.units(depth)
    by_key = {item.key: item for item in solution.quantities if item.section == "backward"}
    forward = {item.key: item for item in solution.quantities if item.section == "forward"}
    rows = " for every row b of the batch" if batch else ""
    total = "summed over the rows b (÷ B for the mean)" if batch else ""
    names = ["x"] + [f"h{ell} → a{ell}" for ell in range(1, depth)] + ["z", "ŷ", "L"]
    chain = " → ".join(names)
    hidden_latex = [rf"h_{{{ell}}} \to a_{{{ell}}}" for ell in range(1, depth)]
    chain_latex = r" \to ".join(["x", *hidden_latex, "z", r"\hat{y}", "L"])
    target = "; the target yˢ, made from y, enters only at L" if "ys" in forward else ""
    steps = [
        Step(
            "dependencies",
            chain,
            chain_latex,
            chain,
            chain_latex,
            "",
            "",
            None,
            "L depends on each parameter only through this chain, so the chain rule runs "
            "backwards along it" + rows + target,
        ),
    ]
    mean = "/B" if batch and arch.reduction == "mean" else ""
    yhat_entry = Math("ŷᵢ", r"\hat{y}_i")
    if arch.loss == "cross_entropy":
        ys, yhat = (YS_BATCH, YHAT_BATCH) if batch else (YS, YHAT)
        ratio = MINUS.text.strip() + ys.text + " ⊘ " + yhat.text
        matrix = Math(
            f"∂L/∂{yhat.text} = " + (f"({ratio}){mean}" if mean else ratio),
            rf"\frac{{\partial L}}{{\partial {yhat.latex}}} = -"
            + (
                rf"\frac{{1}}{{B}}\, {ys.latex} \oslash {yhat.latex}"
                if mean
                else rf"{ys.latex} \oslash {yhat.latex}"
            ),
        )
        steps.append(
            Step(
                grad(yhat_entry).text,
                "∂L/∂ŷᵢ = −yˢᵢ / ŷᵢ",
                r"\frac{\partial L}{\partial \hat{y}_i} = -\frac{y^{s}_i}{\hat{y}_i}",
                matrix.text,
                matrix.latex,
                sizes.vector(depth).text,
                sizes.vector(depth).latex,
                checks["dyhat"],
                "from L = −Σᵢ yˢᵢ ln ŷᵢ" + (f", {total}" if total else ""),
            )
        )
    else:
        matrix = by_key["dyhat"].symbol + " = " + by_key["dyhat"].formula
        steps.append(
            Step(
                grad(yhat_entry).text,
                "∂L/∂ŷᵢ = ŷᵢ − yᵢ",
                r"\frac{\partial L}{\partial \hat{y}_i} = \hat{y}_i - y_i",
                matrix.text,
                matrix.latex,
                sizes.vector(depth).text,
                sizes.vector(depth).latex,
                checks["dyhat"],
                "from L = ½ Σᵢ (ŷᵢ − yᵢ)²" + (f", {total}" if total else ""),
            )
        )
    output = OUTPUTS[arch.output]
    steps.append(
        Step(
            "∂ŷ/∂z",
            output.jacobian_index,
            output.jacobian_latex,
            output.jacobian_matrix,
            output.jacobian_matrix_latex,
            (q + BY + q).text + (", each row" if batch else ""),
            (q + BY + q).latex + (r"\text{, each row}" if batch else ""),
            checks["jacobian"],
            f"the {arch.output} output's Jacobian" + (", for each row b" if batch else ""),
        )
    )
    dz = by_key["dz"]
    dz_j = grad(entry("z", None, "j"))
    dyhat_i = grad(yhat_entry)
    jacobian = Math("(∂ŷᵢ/∂zⱼ)", r"\frac{\partial \hat{y}_i}{\partial z_j}")
    chain_rule = equation(dz_j, SUM_I + "(" + dyhat_i + ")" + jacobian)
    chain_rule = Math(
        chain_rule.text,
        rf"\frac{{\partial L}}{{\partial z_j}} = \sum_i \frac{{\partial L}}{{\partial \hat{{y}}_i}}"
        rf"\, {jacobian.latex}",
    )
    if arch.fused_softmax_cross_entropy:
        index = chain_rule + Math(
            " = Σᵢ (−yˢᵢ/ŷᵢ)·ŷᵢ(δᵢⱼ − ŷⱼ) = −yˢⱼ + ŷⱼ Σᵢ yˢᵢ = ŷⱼ − yˢⱼ",
            r" = \sum_i \left(-\frac{y^{s}_i}{\hat{y}_i}\right) \hat{y}_i (\delta_{ij} - \hat{y}_j)"
            r" = -y^{s}_j + \hat{y}_j \sum_i y^{s}_i = \hat{y}_j - y^{s}_j",
        )
        note = (
            "the sum collapses because "
            + words.SMOOTHING_SUMS[problem.spec.loss.smoothing]
            + ". If the targets did not sum to 1 the last step would not hold: "
            "∂L/∂z = ŷ Σᵢ yˢᵢ − yˢ"
        )
        if mean:
            note += ". For a batch this is each row's ∂Lᵦ/∂z; the mean divides every row by B"
    else:
        index = chain_rule
        note = "the chain rule through the output's Jacobian"
    steps.append(_from_quantity(dz, index, sizes.vector(depth), checks["dz"], note))
    for layer in range(depth, 0, -1):
        is_last = layer == depth
        out_name, out_layer = ("z", None) if is_last else ("h", layer)
        in_name, in_layer = ("x", None) if layer == 1 else ("a", layer - 1)
        out = f"{out_name}{out_layer or ''}"
        # the factors' names as the matrix forms write them: X, A1, ∂L/∂Z for a batch
        inp_sym = wording.layer_input(layer) + COLON
        up_sym = inline_grad(wording.layer_output(layer)) + COLON
        if batch:
            x_i, up_j = row_entry(in_name, in_layer, "i"), grad(row_entry(out_name, out_layer, "j"))
            sums = SUM_B
        else:
            x_i, up_j = entry(in_name, in_layer, "i"), grad(entry(out_name, out_layer, "j"))
            sums = Math("", "")
        one_up_j = grad(entry(out_name, out_layer, "j"))
        if arch.layout == "in_out":
            w_index = equation(grad(weight_entry(layer, "i", "j")), sums + x_i + TIMES + up_j)
            w_ij = weight_entry(layer, "i", "j")
        else:
            w_index = equation(grad(weight_entry(layer, "j", "i")), sums + up_j + TIMES + x_i)
            w_ij = weight_entry(layer, "j", "i")
        steps.append(
            _from_quantity(
                by_key[f"dW{layer}"],
                w_index,
                sizes.weight(layer),
                checks[f"dW{layer}"],
                f"{out}ⱼ depends on W{layer} only through its own {SLICE_OF_W[arch.layout]}",
                inp_sym + sizes.vector(layer - 1) + APART + up_sym + sizes.vector(layer),
            )
        )
        steps.append(
            _from_quantity(
                by_key[f"db{layer}"],
                equation(grad(entry("b", layer, "j")), sums + up_j),
                sizes.units(layer),
                checks[f"db{layer}"],
                f"∂{out}ⱼ/∂b{layer}ⱼ = 1",
                up_sym + sizes.vector(layer),
            )
        )
        if layer == 1:
            break
        hidden = layer - 1
        a_i, h_i = entry("a", hidden, "i"), entry("h", hidden, "i")
        steps.append(
            _from_quantity(
                by_key[f"da{hidden}"],
                equation(grad(a_i), SUM_J + w_ij + TIMES + one_up_j),
                sizes.vector(hidden),
                checks[f"da{hidden}"],
                f"a{hidden} feeds every unit of the next layer"
                + (" (in each row b)" if batch else ""),
                var("W", layer)
                + COLON
                + sizes.weight(layer)
                + APART
                + up_sym
                + sizes.vector(layer),
            )
        )
        # the index form multiplies single entries, so the table's elementwise ⊙ is a product
        derivative = wording.activation_derivative(a_i, h_i)
        derivative = Math(
            derivative.text.replace(" ⊙ ", ""), derivative.latex.replace(r" \odot ", "")
        )
        kink = ""
        if arch.hidden.rule.piecewise_linear:
            kink = (
                " At h = 0 the derivative does not exist; the convention "
                + arch.hidden.kink_convention()
                + " is used."
            )
        kinks = [k for k in solution.kinks if k.key == f"h{hidden}"]
        if kinks:
            kink += f" This problem has h{hidden}{list(kinks[0].index)} = 0 exactly."
        recursion = _recursion(arch.layout, batch) if depth > 2 and hidden == depth - 1 else ""
        a_sym, h_sym = wording.sym("a", hidden), wording.sym("h", hidden)
        steps.append(
            _from_quantity(
                by_key[f"dh{hidden}"],
                equation(grad(h_i), grad(a_i) + Math(" · ", r" \cdot ") + derivative),
                sizes.vector(hidden),
                checks[f"dh{hidden}"],
                f"a{hidden}ᵢ depends only on h{hidden}ᵢ.{kink}{recursion}",
                inline_grad(a_sym)
                + APART
                + Math(f"f′({h_sym.text})", f"f'({h_sym.latex})")
                + COLON
                + sizes.vector(hidden),
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


def inline_grad(of: Math) -> Math:
    """∂L/∂(of), in LaTeX with a slash, for a line of text: \\partial L/\\partial z."""
    return Math(f"∂L/∂{of.text}", rf"\partial L/\partial {of.latex}")


def _from_quantity(
    quantity: Any,
    index: Math,
    shape: Math,
    verified: bool,
    note: str,
    factors: Math | None = None,
) -> Step:
    """A step whose matrix form is the solver's formula; `factors` names the factors' shapes
    and `shape` is the result's, both in the size symbols."""
    matrix: Math = quantity.symbol + f" {quantity.relation} " + quantity.formula
    shown = factors + GIVES + shape if factors is not None else shape
    return Step(
        quantity.symbol.text,
        index.text,
        index.latex,
        matrix.text,
        matrix.latex,
        shown.text,
        shown.latex,
        verified,
        note,
    )
