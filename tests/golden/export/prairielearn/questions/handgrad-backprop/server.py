"""handgrad's backpropagation question: a fresh variant from data["variant_seed"],
graded by handgrad's grader (error carried forward, likely causes). Written by handgrad export."""

import json

from handgrad.export.runtime import server_hooks

CONFIG = json.loads('{"answers": [{"key": "h1", "latex": "h_{1}", "name": "h1", "section": "forward", "shape": [3]}, {"key": "a1", "latex": "a_{1}", "name": "a1", "section": "forward", "shape": [3]}, {"key": "z", "latex": "z", "name": "z", "section": "forward", "shape": [3]}, {"key": "yhat", "latex": "\\\\hat{y}", "name": "yhat", "section": "forward", "shape": [3]}, {"key": "loss", "latex": "L", "name": "loss", "section": "forward", "shape": []}, {"key": "dz", "latex": "\\\\frac{\\\\partial L}{\\\\partial z}", "name": "dz", "section": "backward", "shape": [3]}, {"key": "dW2", "latex": "\\\\frac{\\\\partial L}{\\\\partial W_{2}}", "name": "dW2", "section": "backward", "shape": [3, 3]}, {"key": "db2", "latex": "\\\\frac{\\\\partial L}{\\\\partial b_{2}}", "name": "db2", "section": "backward", "shape": [3]}, {"key": "da1", "latex": "\\\\frac{\\\\partial L}{\\\\partial a_{1}}", "name": "da1", "section": "backward", "shape": [3]}, {"key": "dh1", "latex": "\\\\frac{\\\\partial L}{\\\\partial h_{1}}", "name": "dh1", "section": "backward", "shape": [3]}, {"key": "dW1", "latex": "\\\\frac{\\\\partial L}{\\\\partial W_{1}}", "name": "dW1", "section": "backward", "shape": [2, 3]}, {"key": "db1", "latex": "\\\\frac{\\\\partial L}{\\\\partial b_{1}}", "name": "db1", "section": "backward", "shape": [3]}, {"key": "W1", "latex": "W_{1}", "name": "W1", "section": "update", "shape": [2, 3]}, {"key": "b1", "latex": "b_{1}", "name": "b1", "section": "update", "shape": [3]}, {"key": "W2", "latex": "W_{2}", "name": "W2", "section": "update", "shape": [3, 3]}, {"key": "b2", "latex": "b_{2}", "name": "b2", "section": "update", "shape": [3]}], "settings": {"activations": ["relu"], "batch": 1, "decimals": 0, "epsilons": [0.3], "layers": [2, 3, 3], "layouts": ["in_out"], "learning_rates": [0.1], "outputs": ["softmax"], "smoothings": ["uniform"], "steps": 1}, "title": "Homework 3, Problem 2", "tolerance": {"decimals": "auto", "rtol": 0.001}}')
_HOOKS = server_hooks(CONFIG)


def generate(data):
    _HOOKS["generate"](data)


def parse(data):
    _HOOKS["parse"](data)


def grade(data):
    _HOOKS["grade"](data)
