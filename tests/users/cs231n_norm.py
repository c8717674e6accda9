"""cs231n's batch normalization, layer normalization and dropout (assignment 2) as its students write them.

The pairs of :mod:`tests.users.cs231n_layers` that carry state or randomness, with the handout's
signatures; that module imports them all, and it is the one to import. The conventions:

- ``batchnorm_forward(x, gamma, beta, bn_param)`` with ``bn_param`` ``{'mode': 'train'|'test',
  'eps': 1e-5, 'momentum': 0.9, 'running_mean', 'running_var'}``: the running statistics start
  at zeros (of x's dtype) and are written back into ``bn_param``; in training they move as
  ``running = momentum · running + (1 − momentum) · batch``, the batch's variance the biased one
  (``x.var(axis=0)``); ε sits inside the square root; test mode normalizes with the running
  statistics. The backward is for training mode. :func:`batchnorm_backward` follows the graph
  node by node, :func:`batchnorm_backward_alt` is the simplified closed form.
- :func:`batchnorm_forward_torch` is torch's convention written into the same form: ``momentum``
  is torch's (0.1, the weight on the batch), ``running = (1 − momentum) · running + momentum ·
  batch``, the running variance the unbiased one (× N / (N − 1)), still started at zeros.
- spatial batch normalization moves the channels last, flattens to (N·H·W, C), and calls the above.
- ``layernorm_forward(x, gamma, beta, ln_param)``: each sample normalized over its D features,
  ``ln_param`` ``{'eps': 1e-5}``.
- ``dropout_forward(x, dropout_param)``, ``dropout_param`` ``{'p', 'mode', 'seed' (optional)}``:
  the recent handout's, ``p`` the probability of keeping a unit, inverted dropout (mask
  ``(rand < p) / p`` in training, the identity at test), ``np.random.seed(seed)`` first when a
  seed is given. ``dropout_forward_2017``: the 2017 handout's, ``p`` the probability of dropping
  one (mask ``(rand >= p) / (1 − p)``).
"""
from __future__ import annotations

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """out = gamma · (x − mean) / sqrt(var + eps) + beta over the batch axis; x (N, D), gamma, beta (D,).

    Train: the batch's mean and biased variance, and the running averages moved towards them
    with weight ``momentum`` on the old value. Test: the running averages.
    cache = (x_hat, xmu, std, gamma).
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        mean, var = running_mean, running_var
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    xmu = x - mean
    std = np.sqrt(var + eps)
    x_hat = xmu / std
    out = gamma * x_hat + beta
    cache = (x_hat, xmu, std, gamma)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_forward_torch(x, gamma, beta, bn_param):
    """batchnorm_forward in torch's convention: momentum 0.1 on the batch, unbiased running variance."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.1)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * x.var(axis=0, ddof=1)
    elif mode == "test":
        mean, var = running_mean, running_var
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    xmu = x - mean
    std = np.sqrt(var + eps)
    x_hat = xmu / std
    out = gamma * x_hat + beta
    cache = (x_hat, xmu, std, gamma)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Node by node, back through out = gamma · x_hat + beta, x_hat = xmu / std, std = sqrt(var + eps),
    var = mean(xmu²), xmu = x − mean(x). Returns dx (N, D), dgamma (D,), dbeta (D,)."""
    x_hat, xmu, std, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dstd = -np.sum(dx_hat * xmu, axis=0) / std ** 2
    dvar = dstd / (2 * std)
    dxmu = dx_hat / std + 2 * xmu * dvar / N  # through x_hat, and through the variance
    dmean = -np.sum(dxmu, axis=0)
    dx = dxmu + dmean / N  # and through the mean
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The closed form: dx = (1 / (N std)) · (N dx_hat − Σ dx_hat − x_hat · Σ dx_hat x_hat)."""
    x_hat, xmu, std, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dx = (N * dx_hat - np.sum(dx_hat, axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)) / (N * std)
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch norm per channel of x (N, C, H, W): channels last, (N·H·W, C), batchnorm_forward, back."""
    N, C, H, W = x.shape
    x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_flat, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
    out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), dgamma (C,), dbeta (C,), through batchnorm_backward."""
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_flat, dgamma, dbeta = batchnorm_backward(dout_flat, cache)
    dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """out = gamma · (x − mean) / sqrt(var + eps) + beta, mean and var over each row's D features.

    x (N, D), gamma and beta (D,), the same in training and at test. cache = (x_hat, xmu, std, gamma).
    """
    eps = ln_param.get("eps", 1e-5)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    xmu = x - mean
    std = np.sqrt(var + eps)
    x_hat = xmu / std
    out = gamma * x_hat + beta
    cache = (x_hat, xmu, std, gamma)
    return out, cache


def layernorm_backward(dout, cache):
    """batchnorm_backward's graph along the features (axis 1) in place of the batch."""
    x_hat, xmu, std, gamma = cache
    D = dout.shape[1]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dstd = -np.sum(dx_hat * xmu, axis=1, keepdims=True) / std ** 2
    dvar = dstd / (2 * std)
    dxmu = dx_hat / std + 2 * xmu * dvar / D  # through x_hat, and through the variance
    dmean = -np.sum(dxmu, axis=1, keepdims=True)
    dx = dxmu + dmean / D  # and through the mean
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout, ``p`` the probability of keeping each unit: out = x · mask, mask = (rand < p) / p.

    At test, out = x. cache = (dropout_param, mask).
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / p
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """dx = dout · mask in training (the mask holds the 1/p), dout at test."""
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    if mode == "train":
        dx = dout * mask
    elif mode == "test":
        dx = dout
    return dx


def dropout_forward_2017(x, dropout_param):
    """The 2017 handout's inverted dropout, ``p`` the probability of dropping each unit:
    mask = (rand >= p) / (1 − p). cache = (dropout_param, mask)."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) >= p).astype(x.dtype) / (1 - p)
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    return out, cache


dropout_backward_2017 = dropout_backward  # the same: the mask carries its scale
