"""cs231n's FullyConnectedNet with normalization and dropout, as its students write it, keeping the protocol.

``affine - [batch/layer norm] - relu - [dropout]`` for each hidden layer, then ``affine - softmax``,
each step one of the handout's layer functions (:mod:`tests.users.cs231n_layers`), the parameters in
a dict in the course's layout (``W1`` of shape (D, H), ``b1``, ``gamma1``, ``beta1``, ...) and one
``bn_param`` dict per layer. What the protocol asks on top: weights handed over in torch's layout
(``W.T``) and order, the running statistics as buffers in torch's form (so the batch normalization is
the handout's written in torch's convention: :func:`~tests.users.cs231n_norm.batchnorm_forward_torch`,
momentum 0.1 on the batch, unbiased running variance), and dropout drawing its mask from
``common.layers.layer_rng(layer_seed, step, index)`` with p the probability of dropping, so that the
library's twin drops the same units.

:class:`NormNet` is correct. Each other class overrides one layer function with one line changed,
``# the mistake``, and names the cause ``check_network`` must find (``CAUSE``) and where (``LAYER``).
"""
from __future__ import annotations

import numpy as np

from common.layers import layer_rng

if __package__:  # imported as tests.users.cs231n_normnet
    from . import cs231n_layers as layers
    from . import cs231n_norm as norm
else:  # loaded by its path (compare.plugins.load_class puts its folder on sys.path), as a notebook does
    import cs231n_layers as layers
    import cs231n_norm as norm


class NormNet:
    """784-H-...-10, ReLU, softmax, biases; ``norm`` "batch" or "layer" (or None), ``dropout`` p."""

    activation, loss, bias = "relu", "cross_entropy", True

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, norm=None, dropout=0.0,
                 dtype="float64", **unused):
        self.input_nodes, self.output_nodes, self.lr = input_nodes, output_nodes, learning_rate
        self.hidden_nodes = list(hidden_nodes) if not isinstance(hidden_nodes, int) else [hidden_nodes]
        self.norm, self.dropout, self.dtype = norm, dropout, np.dtype(dtype)
        self.layer_seed, self.steps = 0, 0
        sizes = [input_nodes, *self.hidden_nodes, output_nodes]
        rng = np.random.default_rng(0)
        self.params = {}
        for i, (d, m) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{i}"] = (rng.normal(0, d ** -0.5, (d, m))).astype(dtype)
            self.params[f"b{i}"] = np.zeros(m, dtype=dtype)
            if norm and i < len(sizes) - 1:
                self.params[f"gamma{i}"], self.params[f"beta{i}"] = np.ones(m, dtype), np.zeros(m, dtype)
        self.bn_params = [{"mode": "train", "momentum": 0.1, "eps": 1e-5, "running_mean": np.zeros(m, dtype),
                           "running_var": np.ones(m, dtype)} for m in self.hidden_nodes] if norm == "batch" else []

    # -- the protocol ------------------------------------------------------------------------------------

    def _names(self):
        return [k for i in range(1, len(self.hidden_nodes) + 2)
                for k in (f"W{i}", f"b{i}", f"gamma{i}", f"beta{i}") if k in self.params]

    def get_weights(self):
        return [self.params[k].T.copy() if k.startswith("W") else self.params[k].copy() for k in self._names()]

    def set_weights(self, weights):
        for k, w in zip(self._names(), weights):
            self.params[k] = np.array(w.T if k.startswith("W") else w, dtype=self.dtype)

    def get_buffers(self):
        return [p[key].copy() for p in self.bn_params for key in ("running_mean", "running_var")]

    def set_buffers(self, buffers):
        for i, p in enumerate(self.bn_params):
            p["running_mean"], p["running_var"] = (np.array(b, dtype=self.dtype) for b in buffers[2 * i:2 * i + 2])

    def query(self, inputs):
        single = np.ndim(inputs) == 1
        scores, _ = self._forward(np.atleast_2d(inputs).astype(self.dtype), "test")
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities[0] if single else probabilities

    def gradients(self, inputs, targets):
        saved = self.get_buffers()
        loss, grads = self._loss(inputs, targets)
        self.set_buffers(saved)  # a gradient at the current state moves no running statistic
        return grads

    def train(self, inputs, targets):
        loss, grads = self._loss(inputs, targets)
        for k, g in zip(self._names(), grads):
            self.params[k] -= self.lr * (g.T if k.startswith("W") else g)
        self.steps += 1
        return loss

    # -- the handout's forward and backward passes ------------------------------------------------------

    def _loss(self, inputs, targets):
        x = np.atleast_2d(inputs).astype(self.dtype)
        y = np.atleast_2d(targets).argmax(axis=1)
        scores, caches = self._forward(x, "train")
        loss, dout = self.softmax_loss(scores, y)
        grads = {}
        n = len(self.hidden_nodes) + 1
        dout, grads[f"W{n}"], grads[f"b{n}"] = self.affine_backward(dout, caches.pop())
        for i in range(n - 1, 0, -1):
            if self.dropout:
                dout = self.dropout_backward(dout, caches.pop())
            dout = self.relu_backward(dout, caches.pop())
            if self.norm == "batch":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = self.batchnorm_backward(dout, caches.pop())
            elif self.norm == "layer":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = self.layernorm_backward(dout, caches.pop())
            dout, grads[f"W{i}"], grads[f"b{i}"] = self.affine_backward(dout, caches.pop())
        return loss, [grads[k].T.copy() if k.startswith("W") else grads[k] for k in self._names()]

    def _forward(self, x, mode):
        caches, out = [], x
        for i in range(1, len(self.hidden_nodes) + 1):
            out, cache = self.affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            caches.append(cache)
            if self.norm == "batch":
                self.bn_params[i - 1]["mode"] = mode
                out, cache = self.batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                    self.bn_params[i - 1])
                caches.append(cache)
            elif self.norm == "layer":
                out, cache = self.layernorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                    {"eps": 1e-5})
                caches.append(cache)
            out, cache = self.relu_forward(out)
            caches.append(cache)
            if self.dropout:
                out, cache = self.dropout_forward(out, {"p": self.dropout, "mode": mode, "index": i - 1})
                caches.append(cache)
        n = len(self.hidden_nodes) + 1
        scores, cache = self.affine_forward(out, self.params[f"W{n}"], self.params[f"b{n}"])
        caches.append(cache)
        return scores, caches

    # -- the layer functions, each one a planted class may replace -------------------------------------

    affine_forward = staticmethod(layers.affine_forward)
    affine_backward = staticmethod(layers.affine_backward)
    relu_forward = staticmethod(layers.relu_forward)
    relu_backward = staticmethod(layers.relu_backward)
    batchnorm_forward = staticmethod(norm.batchnorm_forward_torch)
    batchnorm_backward = staticmethod(norm.batchnorm_backward)
    layernorm_forward = staticmethod(norm.layernorm_forward)
    layernorm_backward = staticmethod(norm.layernorm_backward)
    softmax_loss = staticmethod(layers.softmax_loss)

    def dropout_forward(self, x, dropout_param):
        """Inverted dropout, p the probability of dropping, the mask from the library's shared draw."""
        if dropout_param["mode"] == "test":
            return x, None
        p = dropout_param["p"]
        u = layer_rng(self.layer_seed, self.steps, dropout_param["index"]).random(x.shape)
        mask = (u >= p).astype(x.dtype) * x.dtype.type(1 / (1 - p))
        return x * mask, mask

    @staticmethod
    def dropout_backward(dout, mask):
        return dout * mask


def _bn(x, gamma, beta, bn_param, *, eps_outside=False, batch_in_test=False, running_in_train=False,
        biased=False, cs231n_form=False):
    """batchnorm_forward_torch with one switch turned: each planted class below turns one."""
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    if mode == "train" or batch_in_test:
        mean, var = x.mean(axis=0), x.var(axis=0)
    if mode == "train":
        new = x.var(axis=0) if biased else x.var(axis=0, ddof=1)
        if cs231n_form:
            bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mean
            bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * new
        else:
            bn_param["running_mean"] = (1 - momentum) * bn_param["running_mean"] + momentum * mean
            bn_param["running_var"] = (1 - momentum) * bn_param["running_var"] + momentum * new
        if running_in_train:
            mean, var = bn_param["running_mean"], bn_param["running_var"]
    elif not batch_in_test:
        mean, var = bn_param["running_mean"], bn_param["running_var"]
    xmu = x - mean
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    x_hat = xmu / std
    return gamma * x_hat + beta, (x_hat, xmu, std, gamma)


class BatchNormNet(NormNet):
    """The correct network with batch normalization, the handout's functions in torch's convention."""

    def __init__(self, *args, **keywords):
        super().__init__(*args, **{"norm": "batch", **keywords})


class NoMeanTerm(BatchNormNet):
    CAUSE, LAYER = "bn_no_mean_term", "norm2"

    @staticmethod
    def batchnorm_backward(dout, cache):
        x_hat, xmu, std, gamma = cache
        dx_hat = dout * gamma
        dx = (dx_hat - x_hat * np.mean(dx_hat * x_hat, axis=0)) / std  # the mistake: no − mean(dx_hat)
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


class NoVarianceTerm(BatchNormNet):
    CAUSE, LAYER = "bn_no_variance_term", "norm2"

    @staticmethod
    def batchnorm_backward(dout, cache):
        x_hat, xmu, std, gamma = cache
        dx_hat = dout * gamma
        dx = (dx_hat - np.mean(dx_hat, axis=0)) / std  # the mistake: std taken for a constant
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


class EpsOutsideSqrt(BatchNormNet):
    CAUSE, LAYER = "bn_eps_outside_sqrt", "norm1"

    @staticmethod
    def batchnorm_forward(x, gamma, beta, bn_param):
        return _bn(x, gamma, beta, bn_param, eps_outside=True)  # the mistake: sqrt(var) + eps


class BatchStatsInTest(BatchNormNet):
    CAUSE, LAYER = "bn_batch_stats_in_eval", "norm1"

    @staticmethod
    def batchnorm_forward(x, gamma, beta, bn_param):
        return _bn(x, gamma, beta, bn_param, batch_in_test=True)  # the mistake: the batch's statistics at test


class RunningStatsInTrain(BatchNormNet):
    CAUSE, LAYER = "bn_running_stats_in_train", "norm2"

    @staticmethod
    def batchnorm_forward(x, gamma, beta, bn_param):
        return _bn(x, gamma, beta, bn_param, running_in_train=True)  # the mistake: the running ones in training


class BiasedRunningVar(BatchNormNet):
    CAUSE, LAYER = "bn_biased_running_var", "norm1"

    @staticmethod
    def batchnorm_forward(x, gamma, beta, bn_param):
        return _bn(x, gamma, beta, bn_param, biased=True)  # the mistake: x.var(axis=0), not ddof=1


class MomentumForm(BatchNormNet):
    CAUSE, LAYER = "bn_momentum_form", "norm1"

    @staticmethod
    def batchnorm_forward(x, gamma, beta, bn_param):
        return _bn(x, gamma, beta, bn_param, cs231n_form=True)  # the mistake: momentum · running + ...


class LayerNormNet(NormNet):
    """The correct network with layer normalization, the handout's functions."""

    def __init__(self, *args, **keywords):
        super().__init__(*args, **{"norm": "layer", **keywords})


class LayerNormOverBatch(LayerNormNet):
    CAUSE, LAYER = "ln_batch_axis", "norm1"

    @staticmethod
    def layernorm_forward(x, gamma, beta, ln_param):
        mean, var = x.mean(axis=0), x.var(axis=0)  # the mistake: axis=0, the batch's
        x_hat = (x - mean) / np.sqrt(var + ln_param.get("eps", 1e-5))
        xmu = x - mean
        return gamma * x_hat + beta, (x_hat, xmu, np.sqrt(var + ln_param.get("eps", 1e-5)), gamma)


class LayerNormNoMeanTerm(LayerNormNet):
    CAUSE, LAYER = "ln_no_mean_term", "norm2"

    @staticmethod
    def layernorm_backward(dout, cache):
        x_hat, std, gamma = cache[0], cache[-2], cache[-1]
        dx_hat = dout * gamma
        dx = (dx_hat - x_hat * np.mean(dx_hat * x_hat, axis=1, keepdims=True)) / std  # the mistake
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


class DropoutNet(NormNet):
    """The correct network with dropout 0.3 after each hidden ReLU."""

    def __init__(self, *args, **keywords):
        super().__init__(*args, **{"dropout": 0.3, **keywords})


class NotInverted(DropoutNet):
    CAUSE, LAYER = "dropout_not_inverted", "dropout1"

    def dropout_forward(self, x, dropout_param):
        p = dropout_param["p"]
        if dropout_param["mode"] == "test":
            return x * x.dtype.type(1 - p), None  # the mistake: scaled at test, not inverted in training
        u = layer_rng(self.layer_seed, self.steps, dropout_param["index"]).random(x.shape)
        mask = (u >= p).astype(x.dtype)
        return x * mask, mask


class KeepForDrop(DropoutNet):
    CAUSE, LAYER = "dropout_keep_for_drop", "dropout2"

    def dropout_forward(self, x, dropout_param):
        if dropout_param["mode"] == "test":
            return x, None
        p = dropout_param["p"]
        u = layer_rng(self.layer_seed, self.steps, dropout_param["index"]).random(x.shape)
        mask = (u < p).astype(x.dtype) * x.dtype.type(1 / p)  # the mistake: p read as the keep probability
        return x * mask, mask


class MaskSharedByRows(DropoutNet):
    CAUSE, LAYER = "dropout_mask_shared", "dropout2"

    def dropout_forward(self, x, dropout_param):
        if dropout_param["mode"] == "test":
            return x, None
        p = dropout_param["p"]
        u = layer_rng(self.layer_seed, self.steps, dropout_param["index"]).random(x.shape[1:])  # the mistake
        mask = (u >= p).astype(x.dtype) * x.dtype.type(1 / (1 - p))
        return x * mask, mask


MISTAKES = (NoMeanTerm, NoVarianceTerm, EpsOutsideSqrt, BatchStatsInTest, RunningStatsInTrain, BiasedRunningVar,
            MomentumForm, LayerNormOverBatch, LayerNormNoMeanTerm, NotInverted, KeepForDrop, MaskSharedByRows)
