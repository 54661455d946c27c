"""A student's exam sheet, in the course's own words: who it is for, the network as the homework
writes it (h = W1ᵀx + b1, W1 ∈ ℝ^{d×n}), every given number, the quantities to hand in with their
names and shapes, and room to write.

A student reads this page, so it says nothing they were not taught: no layout names, no
"reduction", no fused gradients, and no formula of a quantity they are asked to find (the
worked solution's formulas would give the answers away). The instructor's answer key is the
worked solution itself (`solution_document`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from handgrad.render.document import (
    Block,
    Bold,
    DisplayMath,
    Heading,
    InlineMath,
    MathItems,
    Paragraph,
    latex_number,
)
from handgrad.render.numbers import format_number

if TYPE_CHECKING:
    from handgrad.problem import Problem
    from handgrad.solution import Solution

# Quantities the homework does not ask for: listed on the sheet, marked optional. The grader's
# default rubric (issue 12, part 2) treats the same two as optional; keep the two lists equal.
OPTIONAL = frozenset({("forward", "ys"), ("update", "loss")})
SECTION_TITLES = {"forward": "Forward pass", "backward": "Backward pass"}
COLUMN_CM = (0.5, 2.2, 3.4, 1.3, 7.4)  # #, quantity, name, shape, answer: 17 cm with padding
ROW_CM = 0.6  # room per row of a matrix answer
HIDDEN_WORDS = {1: "one hidden layer", 2: "two hidden layers", 3: "three hidden layers"}

_ACTIVATION_LATEX = {
    "relu": (r"\operatorname{ReLU}", r"\operatorname{ReLU}(h) = \max(0, h)"),
    "leaky_relu": (
        r"\operatorname{LeakyReLU}",
        r"\operatorname{LeakyReLU}(h) = \begin{cases} h & h > 0 \\ \alpha h & h \le 0"
        r" \end{cases}",
    ),
    "sigmoid": (r"\sigma", r"\sigma(h) = \frac{1}{1 + e^{-h}}"),
    "tanh": (r"\tanh", r"\tanh(h) = \frac{e^{h} - e^{-h}}{e^{h} + e^{-h}}"),
    "identity": ("", ""),
}


@dataclass(frozen=True)
class Sheet:
    """One student's exam sheet: the worked solution it is cut from and who it is for."""

    solution: Solution
    student_id: str = ""
    name: str = ""
    answer_file: str = ""  # the file name the student hands in, e.g. "s001.toml"
    digits: int = 4


@dataclass(frozen=True)
class HandIn:
    """One quantity to hand in: how it is written, its name in an answer file, its shape."""

    section: str
    key: str
    latex: str  # the symbol (a parameter after the step keeps its own: the section says so)
    shape: tuple[int, ...]
    optional: bool

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def shape_text(self) -> str:
        """'number', '3' (a vector) or '2 × 3' (rows × columns)."""
        return " × ".join(map(str, self.shape)) if self.shape else "number"


# --------------------------------------------------------------------- the problem as set


def _sizes(problem: Problem) -> list[str]:
    """The layer sizes' letters as the homework writes them: d, n (or n1, n2, ...), q."""
    hidden = len(problem.architecture.layers) - 2
    middle = ["n"] if hidden == 1 else [f"n_{{{i}}}" for i in range(1, hidden + 1)]
    return ["d", *middle, "q"]


def statement_blocks(problem: Problem) -> list[Block]:
    """The problem in the homework's words: the network, its equations, the loss, the step."""
    arch, opt = problem.architecture, problem.spec.optimizer
    letters, sizes = _sizes(problem), arch.layers
    depth, in_out = arch.depth, arch.layout == "in_out"
    hidden = HIDDEN_WORDS.get(depth - 1, f"{depth - 1} hidden layers") if depth > 1 else ""
    layers_said = (
        f"an input layer, {hidden} and an output layer" if hidden
        else "an input layer and an output layer"
    )
    counts = [InlineMath(f"{letter} = {size}") for letter, size in zip(letters, sizes, strict=True)]
    listed: list[Any] = []
    for index, count in enumerate(counts):
        listed += [count, " and " if index == len(counts) - 2 else ", "]
    blocks: list[Block] = [
        Paragraph(("Consider a neural network with ", layers_said, ", containing ",
                   *listed[:-1], " neurons respectively.")),
    ]
    parameters: list[Any] = ["Its parameters are the weight matrices and bias vectors "]
    for layer in range(1, depth + 1):
        fan_in, fan_out = letters[layer - 1], letters[layer]
        rows, columns = (fan_in, fan_out) if in_out else (fan_out, fan_in)
        shape = arch.weight_shape(layer)
        parameters += [
            InlineMath(rf"W_{{{layer}}} \in \mathbb{{R}}^{{{rows} \times {columns}}}"),
            f" ({shape[0]} × {shape[1]}), ",
            InlineMath(rf"b_{{{layer}}} \in \mathbb{{R}}^{{{fan_out}}}"),
            "." if layer == depth else ("; " if depth > 2 else ", and "),
        ]
    blocks.append(Paragraph(tuple(parameters)))
    blocks += _forward_blocks(problem, letters)
    blocks += _loss_blocks(problem)
    if problem.batched:
        blocks += _batch_blocks(problem)
    names = ", ".join(f"{kind}_{{{layer}}}" for layer in range(1, depth + 1) for kind in "Wb")
    steps = "one step" if opt.steps == 1 else f"{opt.steps} steps"
    step: list[Any] = [
        f"Then take {steps} of gradient descent, ",
        InlineMath(r"\theta_{t+1} \leftarrow \theta_t - \eta \, \nabla_{\theta} L"),
        " for every parameter ",
        InlineMath(rf"\theta \in \{{{names}\}}"),
        ", with ",
        InlineMath(rf"\eta = {opt.learning_rate:g}"),
        ".",
    ]
    if opt.steps > 1:
        step.append(" Each step starts from the parameters the step before left, and uses the"
                    " gradient at them.")
    blocks.append(Paragraph(tuple(step)))
    return blocks


def _forward_blocks(problem: Problem, letters: list[str]) -> list[Block]:
    arch = problem.architecture
    depth, in_out = arch.depth, arch.layout == "in_out"
    each = "For each instance " if problem.batched else "For the input "
    blocks: list[Block] = [
        Paragraph((each, InlineMath(r"x \in \mathbb{R}^{d}"), " the forward pass is:"))
    ]
    activation = _ACTIVATION_LATEX[arch.hidden.name][0]
    for layer in range(1, depth + 1):
        weight = f"W_{{{layer}}}^{{\\top}}" if in_out else f"W_{{{layer}}}"
        inp = "x" if layer == 1 else f"a_{{{layer - 1}}}"
        out = "z" if layer == depth else f"h_{{{layer}}}"
        size = letters[layer]
        blocks.append(DisplayMath(
            rf"{out} = {weight} {inp} + b_{{{layer}}} \in \mathbb{{R}}^{{{size}}}"
        ))
        if layer < depth:
            applied = rf"{activation}(h_{{{layer}}})" if activation else rf"h_{{{layer}}}"
            blocks.append(DisplayMath(
                rf"a_{{{layer}}} = {applied} \in \mathbb{{R}}^{{{size}}}"
            ))
    if depth > 1:
        blocks.append(_activation_said(problem))
    blocks.append(_output_said(problem))
    return blocks


def _activation_said(problem: Problem) -> Block:
    hidden = problem.architecture.hidden
    name, definition = _ACTIVATION_LATEX[hidden.name]
    if not name:
        return Paragraph(("The hidden layers apply no activation function: ",
                          InlineMath("a = h"), "."))
    parts: list[Any] = ["The activation ", InlineMath(name), " acts on each entry: ",
                        InlineMath(definition)]
    if hidden.name == "leaky_relu":
        parts += [", with ", InlineMath(rf"\alpha = {hidden.leaky_slope:g}")]
    return Paragraph((*parts, "."))


def _output_said(problem: Problem) -> Block:
    output = problem.architecture.output
    if output == "softmax":
        return DisplayMath(
            r"\hat{y} = \operatorname{softmax}(z), \qquad \hat{y}_i = "
            r"\frac{\exp(z_i)}{\sum_{k=1}^{q} \exp(z_k)} \in \mathbb{R}^{q}"
        )
    if output == "sigmoid":
        return DisplayMath(
            r"\hat{y} = \sigma(z), \qquad \hat{y}_i = \frac{1}{1 + e^{-z_i}} \in \mathbb{R}^{q}"
        )
    return DisplayMath(r"\hat{y} = z \in \mathbb{R}^{q} \quad \text{(no output function)}")


def _loss_blocks(problem: Problem) -> list[Block]:
    arch, loss = problem.architecture, problem.spec.loss
    if arch.loss == "squared_error":
        return [
            Paragraph(("The loss is the squared error between the prediction and the target ",
                       InlineMath("y"), ":")),
            DisplayMath(r"L = \tfrac{1}{2} \sum_{i=1}^{q} (\hat{y}_i - y_i)^2"),
        ]
    epsilon = loss.label_smoothing
    if epsilon == 0:
        return [
            Paragraph(("The loss is the cross-entropy, with ", InlineMath(r"y_i \in \{0, 1\}"),
                       " the ground-truth indicator:")),
            DisplayMath(r"L = -\sum_{i=1}^{q} y_i \ln(\hat{y}_i)"),
        ]
    said: tuple[Any, ...] = ()
    if loss.smoothing == "uniform":
        soft = r"y^{s}_i = (1 - \varepsilon) y_i + \frac{\varepsilon}{q}"
    else:
        soft = r"y^{s}_i = (1 - \varepsilon) y_i + \frac{\varepsilon (1 - y_i)}{q - 1}"
        said = (" (the true class gets ", InlineMath(r"1 - \varepsilon"), ", every other class ",
                InlineMath(r"\varepsilon / (q - 1)"), ")")
    return [
        Paragraph(("The loss is the cross-entropy with the soft label ", InlineMath("y^{s}"),
                   " made by label smoothing:")),
        DisplayMath(rf"L = -\sum_{{i=1}}^{{q}} y^{{s}}_i \ln(\hat{{y}}_i), \qquad {soft}"),
        Paragraph(("where ", InlineMath(r"y_i \in \{0, 1\}"), " is the ground-truth indicator",
                   *said, " and ", InlineMath(rf"\varepsilon = {epsilon:g}"), ".")),
    ]


def _batch_blocks(problem: Problem) -> list[Block]:
    arch = problem.architecture
    batch = problem.batch_size
    first = r"X W_{1}" if arch.layout == "in_out" else r"X W_{1}^{\top}"
    return [
        Paragraph((
            "The batch holds ", InlineMath(f"B = {batch}"), " instances: the rows of ",
            InlineMath("X"), f" ({batch} × {arch.layers[0]}) are the inputs and the rows of ",
            InlineMath("Y"), f" ({batch} × {arch.layers[-1]}) their targets. Each instance goes"
            " through the network as above, and the loss is averaged over the B instances:",
        )),
        DisplayMath(r"L = \frac{1}{B} \sum_{b=1}^{B} L_b"),
        Paragraph((
            "where ", InlineMath("L_b"), " is the loss of instance b. Hand in the quantities of"
            " the forward and backward pass for the whole batch, one row per instance (",
            InlineMath(rf"H_1 = {first} + b_1^{{\top}}"), f" is {batch} × {arch.layers[1]}).",
        )),
    ]


def full_value(value: Any, digits: int) -> str:
    """A number or a bmatrix with every entry (vectors as columns): a student needs them all."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return latex_number(format_number(array, digits))
    grid = array.reshape(-1, 1) if array.ndim == 1 else array
    body = r" \\ ".join(
        " & ".join(latex_number(format_number(entry, digits)) for entry in row) for row in grid
    )
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def given_blocks(problem: Problem, digits: int = 4) -> list[Block]:
    """x, y and every parameter, in full."""
    batched = problem.batched
    given = [
        ("X" if batched else "x", problem.x if batched else problem.x[0]),
        ("Y" if batched else "y", problem.y if batched else problem.y[0]),
        *((f"{name[0]}_{{{name[1:]}}}", value) for name, value in problem.params.items()),
    ]
    return [MathItems(tuple(f"{name} = {full_value(value, digits)}" for name, value in given))]


# ------------------------------------------------------------------------- the hand-in list


def hand_in(solution: Solution) -> list[HandIn]:
    """Every quantity of the worked solution, in order, as the sheet asks for it."""
    # a parameter or L after the step keeps its symbol: the section's title says "after"
    return [HandIn(q.section, q.key, q.symbol.latex, q.shape, (q.section, q.key) in OPTIONAL)
            for q in solution.quantities]


def _sections(items: list[HandIn], steps: int) -> list[tuple[str, list[HandIn]]]:
    titles = {**SECTION_TITLES,
              "update": "After the step" if steps == 1 else f"After {steps} steps"}
    return [(title, [i for i in items if i.section == section])
            for section, title in titles.items()]


def sheet_blocks(sheet: Sheet) -> list[Block]:
    """The sheet down to the hand-in list: title, student, problem, givens and the task."""
    problem = sheet.solution.problem
    steps = problem.spec.optimizer.steps
    title = ("Homework: one step of gradient descent by hand" if steps == 1
             else f"Homework: {steps} steps of gradient descent by hand")
    blocks: list[Block] = [Heading(title, 1)]
    if sheet.student_id:
        who: list[Any] = []
        if sheet.name:
            who += [Bold("Name:"), f" {sheet.name} · "]
        who += [Bold("Student id:"), f" {sheet.student_id}"]
        blocks.append(Paragraph(tuple(who)))
    blocks += [Heading("The problem", 2), *statement_blocks(problem),
               Heading("Given", 2), *given_blocks(problem, sheet.digits),
               Heading("Your task", 2), Paragraph(_task(sheet))]
    return blocks


def _task(sheet: Sheet) -> tuple[Any, ...]:
    steps = sheet.solution.problem.spec.optimizer.steps
    first = "" if steps == 1 else " of the first step"
    parts: list[Any] = [
        f"Compute the forward pass{first}, then by backpropagation the derivatives of ",
        InlineMath("L"), " with respect to every parameter (and the intermediate derivatives"
        " on the way), then the parameters after the "
        + ("step" if steps == 1 else "last step")
        + ". Show the intermediate steps. Hand in each quantity of the list below under its"
        " name, with the shape shown (rows × columns): a vector as a list of numbers, a matrix"
        " as a list of its rows, e.g. [[1, 2, 3], [4, 5, 6]] for a 2 × 3 matrix.",
    ]
    if sheet.answer_file:
        parts += [" Name your answer file ", Bold(sheet.answer_file), "."]
    return tuple(parts)


# ------------------------------------------------------------------------------- writers


def exam_markdown(sheet: Sheet) -> str:
    """The sheet as Markdown: the problem, then a table per section with a column to fill in."""
    from handgrad.render.markdown import write_markdown

    steps = sheet.solution.problem.spec.optimizer.steps
    lines = [write_markdown(sheet_blocks(sheet)).rstrip("\n"), "", "## Hand in", ""]
    number = 0
    for title, items in _sections(hand_in(sheet.solution), steps):
        lines += [f"### {title}", "", "| # | quantity | name | shape | your answer |",
                  "|---:|---|---|---|---|"]
        for item in items:
            number += 1
            optional = " (optional)" if item.optional else ""
            lines.append(f"| {number} | ${item.latex}$ | `{item.name}`{optional} |"
                         f" {item.shape_text} | |")
        lines.append("")
    lines += ["## Your work", "",
              html.escape("(Show your intermediate steps here, or on paper handed in with the"
                          " answers.)", quote=False), ""]
    return "\n".join(lines)


def exam_latex(sheet: Sheet) -> str:
    """The sheet as a LaTeX document: a boxed answer row per quantity, sized to its shape, and a
    page for the working."""
    from handgrad.render.latex import PREAMBLE, latex_text, write_latex

    steps = sheet.solution.problem.spec.optimizer.steps
    preamble = PREAMBLE.replace(r"\begin{document}",
                                "\\usepackage{longtable}\n\\begin{document}")
    # fixed column widths: longtable settles natural widths only over several pdflatex runs,
    # and compile_pdf runs once (a header misaligned with its rows, seen on the first try)
    columns = "|".join(f"p{{{width}cm}}" for width in COLUMN_CM)
    header = r"\# & quantity & name & shape & your answer \\ \hline"
    body = [write_latex(sheet_blocks(sheet), fragment=True), r"\subsection*{Hand in}",
            r"\renewcommand{\arraystretch}{1.2}"]
    number = 0
    for title, items in _sections(hand_in(sheet.solution), steps):
        # a table per section under its own heading: a heading is never left alone at the
        # foot of a page, where a title row inside one long table was (seen)
        body += [rf"\subsubsection*{{{latex_text(title)}}}",
                 rf"\begin{{longtable}}{{|{columns}|}}", r"\hline", header, r"\endhead"]
        for item in items:
            number += 1
            rows = item.shape[0] if len(item.shape) == 2 else 1
            room = ROW_CM * rows + 0.4  # below the label's line: the label sits at the top
            optional = r"\newline{\small (optional)}" if item.optional else ""
            body.append(
                rf"{number}\rule[-{room:.1f}cm]{{0pt}}{{{room + 0.5:.1f}cm}} &"
                rf" $\displaystyle {item.latex}$ & \texttt{{{latex_text(item.name)}}}{optional}"
                rf" & {latex_text(item.shape_text)} & \\ \hline"
            )
        body.append(r"\end{longtable}")
    body += [r"\newpage", r"\subsection*{Your work}", ""]
    return preamble + "\n".join(body) + "\n\\end{document}\n"
