"""Problem 1 of the homework: the derivation of every gradient, step by step, verified by sympy."""
