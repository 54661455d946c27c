"""handgrad's Problem 1: the gradients as formulas for a network of the
exported kind, graded by handgrad's derivation grader for every size. Written by handgrad
export."""

import json

from handgrad.export.runtime import derivation_hooks

CONFIG = json.loads('{"formulas": [{"asked": false, "latex": "\\\\frac{\\\\partial L}{\\\\partial \\\\hat{y}}", "name": "dyhat"}, {"asked": false, "latex": "\\\\frac{\\\\partial L}{\\\\partial z}", "name": "dz"}, {"asked": true, "latex": "\\\\frac{\\\\partial L}{\\\\partial W_{2}}", "name": "dW2"}, {"asked": true, "latex": "\\\\frac{\\\\partial L}{\\\\partial b_{2}}", "name": "db2"}, {"asked": false, "latex": "\\\\frac{\\\\partial L}{\\\\partial a_{1}}", "name": "da1"}, {"asked": false, "latex": "\\\\frac{\\\\partial L}{\\\\partial h_{1}}", "name": "dh1"}, {"asked": true, "latex": "\\\\frac{\\\\partial L}{\\\\partial W_{1}}", "name": "dW1"}, {"asked": true, "latex": "\\\\frac{\\\\partial L}{\\\\partial b_{1}}", "name": "db1"}], "settings": {"activations": ["relu"], "batch": 1, "decimals": 0, "epsilons": [0.3], "layers": [2, 3, 3], "layouts": ["in_out"], "learning_rates": [0.1], "outputs": ["softmax"], "smoothings": ["uniform"], "steps": 1}, "title": "Homework 3, Problem 2"}')
_HOOKS = derivation_hooks(CONFIG)


def generate(data):
    _HOOKS["generate"](data)


def parse(data):
    _HOOKS["parse"](data)


def grade(data):
    _HOOKS["grade"](data)
