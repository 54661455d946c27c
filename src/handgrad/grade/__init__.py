"""Grading a student's answer step by step, with error carried forward and likely causes.

Each quantity of the worked solution is judged in the order it is computed:

- `correct`: within the tolerance of the true value, or, when every input it is computed from
  was itself judged correct, within the tolerance of the value those (possibly rounded) inputs
  give: rounding that earlier rounded values carry forward is not a mistake;
- `carried_forward`: wrong, but what the student's own earlier values give (one early slip is
  not punished again at every later step);
- `wrong`: neither; then the quantity's known mistakes are recomputed from the correct inputs
  (and from the student's own) and the one the given value matches is named (`CAUSES`);
- `missing`: not given.

"What the inputs give" is computed by the same formulas as the solver (`core.ops`,
`core.network`), fed with the student's values where they gave them and the true values where
they did not. Each quantity has a recipe (the quantities it is computed from and a formula) and
a list of known mistakes (a cause code and the formula a student with that mistake applies);
the formulas are small callable classes (`formulas`), built section by section (`recipes`).

Fair rounding. A student writes 2 or 3 decimals, and may round each step before the next or
keep full precision and round only what they write. A value written with K decimals stands for
anything within ½·10⁻ᴷ of it (`--decimals auto` reads K from what each value shows), and that
half unit is carried through the formulas: "what the inputs give" is a value plus a spread, the
first-order bound Σ |f(input ± δ) − f(input)| over every entry of every input the student
wrote (an input judged correct moves only as far as the true value). A value within that spread
(plus its own half unit) of what the student's own rounded inputs give is `carried_forward` or
`correct`, never `wrong`.

One entry point per kind of answer: `grade` takes values already loaded ({(section, name):
array}), `grade_file` an answer file (the command line), `grade_document` a parsed document
{section: {name: value}} (the playground server).

The modules, one job each: `keys` (the names of an answer's quantities), `tolerance` (how close
is right, and the decimals a value shows), `answers` (reading and checking an answer),
`formulas` and `recipes` (how each quantity is recomputed, and its known mistakes), `rounding`
(the spread rounding carries through a formula), `judge` (the grading loop and the diagnosis),
`records` (the verdicts and the report); Problem 1's formulas: `formula` (reading a formula in
the NumPy-like or LaTeX syntax, showing it back, evaluating it) and `derivation` (grading it
for every size: `grade_derivation`, `read_derivation`). Everything importers use is importable
from here.
"""

from handgrad.grade.answers import (
    BLANK_SHEET,
    NO_QUANTITIES,
    AnswerError,
    GivenAnswer,
    load_answer,
    read_answer,
    validate_answer,
)
from handgrad.grade.derivation import (
    ReadFormula,
    derivation_names,
    derivation_problems,
    expected_formulas,
    grade_derivation,
    read_derivation,
)
from handgrad.grade.formula import FormulaError, Syntax
from handgrad.grade.judge import grade, grade_document, grade_file
from handgrad.grade.keys import (
    NOT_ASKED,
    SECTIONS,
    SOLVER_KEYS,
    Answer,
    Key,
    Values,
    is_asked,
)
from handgrad.grade.records import (
    CAUSES,
    DERIVATION_CAUSES,
    DERIVATION_EXPLANATIONS,
    EXPLANATIONS,
    STATUSES,
    UNKNOWN_MISTAKE,
    GradeItem,
    GradeReport,
    Status,
    explanation_of,
)
from handgrad.grade.rounding import MAX_SPREAD_WORK, SECOND_ORDER
from handgrad.grade.tolerance import (
    EXACT,
    Decimals,
    Tolerance,
    answer_decimals,
    half_units,
    written_decimals,
)

__all__ = [
    "BLANK_SHEET",
    "CAUSES",
    "DERIVATION_CAUSES",
    "DERIVATION_EXPLANATIONS",
    "EXACT",
    "EXPLANATIONS",
    "MAX_SPREAD_WORK",
    "NOT_ASKED",
    "NO_QUANTITIES",
    "SECOND_ORDER",
    "SECTIONS",
    "SOLVER_KEYS",
    "STATUSES",
    "UNKNOWN_MISTAKE",
    "Answer",
    "AnswerError",
    "Decimals",
    "FormulaError",
    "GivenAnswer",
    "GradeItem",
    "GradeReport",
    "Key",
    "ReadFormula",
    "Status",
    "Syntax",
    "Tolerance",
    "Values",
    "answer_decimals",
    "derivation_names",
    "derivation_problems",
    "expected_formulas",
    "explanation_of",
    "grade",
    "grade_derivation",
    "grade_document",
    "grade_file",
    "half_units",
    "is_asked",
    "load_answer",
    "read_answer",
    "read_derivation",
    "validate_answer",
    "written_decimals",
]
