"""cs231n's ``classifiers/fc_net.py`` (assignments 1 and 2) as the course's students write it, built from
the layer pairs of :mod:`tests.users.cs231n_layers`, any of which can be swapped for a planted one.

- ``TwoLayerNet(input_dim=3*32*32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
  layers=None)``: affine - relu - affine - softmax, ``params`` W1 (D, H), b1 (H,), W2 (H, C), b2 (C,),
  W drawn as ``weight_scale · np.random.randn``, b zeros.
- ``FullyConnectedNet(hidden_dims, input_dim=3*32*32, num_classes=10, dropout_keep_ratio=1,
  normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None, layers=None)``:
  {affine - [batch/layer norm] - relu - [dropout]} × (L − 1) - affine - softmax, ``params`` W1, b1,
  gamma1, beta1, ..., WL, bL (gamma ones, beta zeros, cast to ``dtype``); ``bn_params`` one dict per
  normalization layer (``{'mode': 'train'}`` for batchnorm, so each layer's defaults apply, ``{}``
  for layernorm); ``dropout_param`` ``{'mode', 'p': dropout_keep_ratio, 'seed'}`` (the seed only
  when given: each dropout call then draws the same mask, for gradient checks).

``loss(X, y=None)`` is the handout's: without y, a test-mode forward (running statistics, no
dropout) returning the scores (N, C); with y, a training-mode forward and backward returning
``(loss, grads)``, grads keyed like ``params``. The L2 penalty is the recent handout's,
``0.5 · reg · ΣW²`` over the weights only, its gradient ``reg · W``.

``layers`` swaps layer functions: a dict ``{name: function}`` or a module, whose attributes of
the names in :data:`LAYER_NAMES` (``affine_forward``, ``batchnorm_backward``, ...) replace
cs231n_layers'. ``PLANTED_MODELS[cause](hidden_dims, **keywords)`` builds a FullyConnectedNet with
that cause's planted pair from :data:`tests.users.cs231n_layers_planted.PLANTED` in place, and the
normalization, dropout or scale that exposes it (keywords override them).
"""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import numpy as np

from . import cs231n_layers
from .cs231n_layers_planted import PLANTED

LAYER_NAMES = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
               "batchnorm_backward", "layernorm_forward", "layernorm_backward", "dropout_forward",
               "dropout_backward", "softmax_loss")


def layer_functions(layers=None):
    """cs231n_layers' functions by their names, those that ``layers`` (a dict or a module) gives replaced."""
    found = {name: getattr(cs231n_layers, name) for name in LAYER_NAMES}
    if isinstance(layers, dict):
        unknown = sorted(set(layers) - set(LAYER_NAMES))
        if unknown:
            raise ValueError(f"The layers that can be swapped are {LAYER_NAMES}. Got {unknown} instead.")
        found.update(layers)
    elif layers is not None:
        found.update({name: getattr(layers, name) for name in LAYER_NAMES if hasattr(layers, name)})
    return SimpleNamespace(**found)


class TwoLayerNet(object):
    """affine - relu - affine - softmax, with the L2 penalty 0.5 · reg · (ΣW1² + ΣW2²)."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 layers=None):
        self.params = {}
        self.reg = reg
        self.layers = layer_functions(layers)
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        """The scores (N, C) without y; with y, the loss and a dict of gradients like params."""
        layers, W1, b1, W2, b2 = self.layers, self.params["W1"], self.params["b1"], self.params["W2"], self.params["b2"]
        hidden, fc1_cache = layers.affine_forward(X, W1, b1)
        hidden, relu_cache = layers.relu_forward(hidden)
        scores, fc2_cache = layers.affine_forward(hidden, W2, b2)
        if y is None:
            return scores
        grads = {}
        loss, dscores = layers.softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dhidden, grads["W2"], grads["b2"] = layers.affine_backward(dscores, fc2_cache)
        dhidden = layers.relu_backward(dhidden, relu_cache)
        _, grads["W1"], grads["b1"] = layers.affine_backward(dhidden, fc1_cache)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        return loss, grads


class FullyConnectedNet(object):
    """{affine - [batch/layer norm] - relu - [dropout]} × (L − 1) - affine - softmax."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None, layers=None):
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f"normalization must be None, 'batchnorm' or 'layernorm'. Got {normalization!r} instead.")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        self.layers = layer_functions(layers)
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if self.normalization and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Test-mode scores (N, C) without y; with y, the training-mode loss and gradients."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        layers, params = self.layers, self.params
        out, caches = X, []
        for i in range(1, self.num_layers):
            out, fc_cache = layers.affine_forward(out, params[f"W{i}"], params[f"b{i}"])
            norm_cache = drop_cache = None
            if self.normalization == "batchnorm":
                out, norm_cache = layers.batchnorm_forward(out, params[f"gamma{i}"], params[f"beta{i}"],
                                                           self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, norm_cache = layers.layernorm_forward(out, params[f"gamma{i}"], params[f"beta{i}"],
                                                           self.bn_params[i - 1])
            out, relu_cache = layers.relu_forward(out)
            if self.use_dropout:
                out, drop_cache = layers.dropout_forward(out, self.dropout_param)
            caches.append((fc_cache, norm_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, fc_cache = layers.affine_forward(out, params[f"W{L}"], params[f"b{L}"])
        if mode == "test":
            return scores

        grads = {}
        loss, dout = layers.softmax_loss(scores, y)
        dout, grads[f"W{L}"], grads[f"b{L}"] = layers.affine_backward(dout, fc_cache)
        for i in range(L - 1, 0, -1):
            fc_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dout = layers.dropout_backward(dout, drop_cache)
            dout = layers.relu_backward(dout, relu_cache)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = layers.batchnorm_backward(dout, norm_cache)
            elif self.normalization == "layernorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = layers.layernorm_backward(dout, norm_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = layers.affine_backward(dout, fc_cache)
        for i in range(1, L + 1):
            W = params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] += self.reg * W
        return loss, grads


# The cs231n_layers names of each kind's pair, and what a FullyConnectedNet needs to run it.
MODEL_KINDS = {
    "dense": (("affine_forward", "affine_backward"), {}),
    "relu": (("relu_forward", "relu_backward"), {}),
    "batchnorm": (("batchnorm_forward", "batchnorm_backward"), {"normalization": "batchnorm"}),
    "layernorm": (("layernorm_forward", "layernorm_backward"), {"normalization": "layernorm"}),
    "dropout": (("dropout_forward", "dropout_backward"), {"dropout_keep_ratio": 0.8, "seed": 0}),
    "softmax_loss": (("softmax_loss", None), {}),
}
# The planted pairs a FullyConnectedNet cannot show on its own data, and why.
NOT_SHOWN_BY_A_MODEL = {
    "dense_dx_wrong_transpose": "raises unless every weight is square",
    "dense_x_not_flattened_in_backward": "departs only on inputs of more than two dimensions",
    "relu_mask_from_out_ge": "departs only where a pre-activation is exactly 0",
    "softmax_no_shift": "departs only on scores of several hundred",
}


def planted_models():
    """``{cause: factory}``: a FullyConnectedNet with the cause's planted pair swapped in, and what shows it."""
    factories = {}
    for kind, ((forward_name, backward_name), keywords) in MODEL_KINDS.items():
        for cause, entry in PLANTED[kind].items():
            if cause in NOT_SHOWN_BY_A_MODEL:
                continue
            swapped = {forward_name: entry["forward"]}
            if backward_name:
                swapped[backward_name] = entry["backward"]
            found = dict(keywords)
            if entry.get("param", {}).get("inputs") == "small":
                found["weight_scale"] = 1e-3  # pre-activations of variance ~1e-6: ε in the square root shows
            factories[cause] = partial(FullyConnectedNet, layers=swapped, **found)
    return factories


PLANTED_MODELS = planted_models()
