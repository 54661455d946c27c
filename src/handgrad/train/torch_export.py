"""`to_torch`: a trained handgrad network as the equivalent `torch.nn.Sequential`."""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.errors import HandgradError
from handgrad.train.model import Model


def to_torch(model: Any, standardize: bool = True, probabilities: bool = False) -> Any:
    """The network as nn.Sequential(Linear, activation, ..., Linear) with the same weights.

    `model` is a `Model` or a fitted `MLPClassifier`. The Sequential returns the logits z
    (what torch's CrossEntropyLoss takes); `probabilities=True` appends Softmax (or Sigmoid), so
    that its output is `predict_proba`. With `standardize=True` (the default) the first Linear
    also does the standardisation x ↦ (x − mean)/scale, folded into its weights, so that the
    Sequential takes raw feature rows; with False it takes standardised rows and its
    parameters are exactly handgrad's W and b (transposed: torch stores W as out × in).
    """
    try:
        import torch
        from torch import nn
    except ModuleNotFoundError:
        raise HandgradError("to_torch needs PyTorch: pip install 'handgrad[torch]'") from None
    if not isinstance(model, Model):
        model = getattr(model, "model_", None)
        if not isinstance(model, Model):
            raise HandgradError("to_torch takes a handgrad Model or a fitted MLPClassifier")
    arch = model.arch
    dtype = torch.float64 if model.params["W1"].dtype == np.float64 else torch.float32
    modules: list[Any] = []
    for layer in range(1, arch.depth + 1):
        W = np.asarray(model.params[f"W{layer}"], dtype=np.float64)  # (fan_in, fan_out)
        b = np.asarray(model.params[f"b{layer}"], dtype=np.float64)
        if layer == 1 and standardize:
            # W1ᵀ((x − μ)/s) + b1 = (W1/s)ᵀx + (b1 − W1ᵀ(μ/s))
            mean, scale = model.standardizer.mean, model.standardizer.scale
            b = b - (mean / scale) @ W
            W = W / scale[:, None]
        linear = nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if layer < arch.depth:
            modules.append(_activation(arch.hidden, nn))
    if probabilities and arch.output == "softmax":
        modules.append(nn.Softmax(dim=1))
    elif probabilities and arch.output == "sigmoid":
        modules.append(nn.Sigmoid())
    return nn.Sequential(*modules)


def _activation(act: Any, nn: Any) -> Any:
    if act.name == "relu":
        return nn.ReLU()
    if act.name == "leaky_relu":
        return nn.LeakyReLU(float(act.leaky_slope))
    if act.name == "sigmoid":
        return nn.Sigmoid()
    if act.name == "tanh":
        return nn.Tanh()
    return nn.Identity()
