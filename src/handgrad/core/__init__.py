"""The math: every forward and backward formula, once. Never prints, never renders."""
