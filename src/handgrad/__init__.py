"""handgrad: backpropagation worked by hand and checked by machine."""

from handgrad.core.network import Architecture
from handgrad.errors import HandgradError, ProblemError
from handgrad.problem import Problem, default_problem_path, load_problem
from handgrad.solution import GradientCheck, Kink, Quantity, Solution
from handgrad.solver import solve

__all__ = [
    "Architecture",
    "GradientCheck",
    "HandgradError",
    "Kink",
    "Problem",
    "ProblemError",
    "Quantity",
    "Solution",
    "default_problem_path",
    "load_problem",
    "solve",
]
__version__ = "0.1.0"
