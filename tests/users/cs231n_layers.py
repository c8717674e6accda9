"""cs231n's ``layers.py`` (assignments 1 and 2) as the course's students write it: correct pairs.

Each layer is the course's pair, ``<layer>_forward(x, ...) -> (out, cache)`` beside
``<layer>_backward(dout, cache) -> (dx, ...)``, with the handout's signatures, parameter dicts and
layouts: an affine weight is ``(D, M)`` (the transpose of ``nn.Linear.weight``) and ``x`` of shape
``(N, d1, ..., dk)`` is flattened to ``(N, D)``; a convolution's ``x`` is ``(N, C, H, W)`` and its
``w`` ``(F, C, HH, WW)``, as torch's; ``conv_param`` is ``{'stride', 'pad'}``; ``pool_param`` is
``{'pool_height', 'pool_width', 'stride'}``. The convolution and the pool are the "naive" kind,
loops over the output positions; the pool sends each window's gradient to its first maximum in
row-major order (``np.argmax``), as torch does.

Conventions, each the handout's:

- batch normalization: ``bn_param`` ``{'mode': 'train'|'test', 'eps' (1e-5), 'momentum' (0.9),
  'running_mean', 'running_var'}``; the running statistics start at zeros; they average the
  batch's mean and its *biased* variance as ``running = momentum · running + (1 − momentum) ·
  batch``, the weight on the old value; ε sits inside the square root. The variant
  :func:`batchnorm_forward_torch` is what a student told to match ``torch.nn.BatchNorm1d`` writes:
  torch's momentum (0.1, the weight on the new value) and the unbiased variance in the running
  average (still from zeros). Both are correct; each is its own convention.
- layer normalization: ``ln_param`` ``{'eps' (1e-5)}``, each sample normalized over its features.
- dropout: the recent handout's, ``p`` the probability of *keeping* a unit, inverted (the kept
  units scaled by 1/p in training, nothing done at test), the mask ``(rand < p) / p`` drawn
  after ``np.random.seed(seed)`` when ``dropout_param`` has a ``'seed'``. The 2017 handout's,
  ``p`` the probability of *dropping*, is :func:`dropout_forward_2017`.
- the softmax loss is the mean over the N samples.

Every function keeps its input's float dtype: float32 in, float32 out. Planted mistakes are in
:mod:`tests.users.cs231n_layers_planted`. The batch and layer norm and dropout layers are written in
:mod:`tests.users.cs231n_norm` and imported here, so that this module holds every layer.
"""
from __future__ import annotations

import numpy as np

if __package__:  # imported as tests.users.cs231n_layers
    from .cs231n_norm import (  # written in cs231n_norm.py, exported from here
        batchnorm_backward, batchnorm_backward_alt, batchnorm_forward, batchnorm_forward_torch, dropout_backward,
        dropout_backward_2017, dropout_forward, dropout_forward_2017, layernorm_backward, layernorm_forward,
        spatial_batchnorm_backward, spatial_batchnorm_forward,
    )
else:  # loaded by its path, beside cs231n_norm.py (compare.plugins.load_class puts their folder on sys.path)
    from cs231n_norm import (
        batchnorm_backward, batchnorm_backward_alt, batchnorm_forward, batchnorm_forward_torch, dropout_backward,
        dropout_backward_2017, dropout_forward, dropout_forward_2017, layernorm_backward, layernorm_forward,
        spatial_batchnorm_backward, spatial_batchnorm_forward,
    )


def affine_forward(x, w, b):
    """out = x.reshape(N, D) · w + b, for x (N, d1, ..., dk), w (D, M), b (M,). cache = (x, w, b)."""
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """dout (N, M) -> dx (N, d1, ..., dk), dw (D, M), db (M,)."""
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """out = max(0, x). cache = x."""
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0 (torch's gradient at 0 is 0)."""
    x = cache
    dx = dout * (x > 0)
    return dx


def sigmoid_forward(x):
    """out = 1 / (1 + exp(−x)). cache = out (not in cs231n's layers.py; written in its form)."""
    out = 1 / (1 + np.exp(-x))
    cache = out
    return out, cache


def sigmoid_backward(dout, cache):
    """dx = dout · σ(x)(1 − σ(x)), from the cached output σ(x)."""
    s = cache
    dx = dout * s * (1 - s)
    return dx


def tanh_forward(x):
    """out = tanh(x). cache = x (not in cs231n's layers.py; written in its form)."""
    out = np.tanh(x)
    cache = x
    return out, cache


def tanh_backward(dout, cache):
    """dx = dout · (1 − tanh²(x)), from the cached input x."""
    x = cache
    dx = dout * (1 - np.tanh(x) ** 2)
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """Cross-correlation, as torch's conv2d: x (N, C, H, W), w (F, C, HH, WW), b (F,).

    H' = 1 + (H + 2 pad − HH) // stride and W' likewise; x is padded with ``pad`` zeros on every
    side. Loops over images and output positions, all filters at once. cache = (x, w, b, conv_param).
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[n, :, i, j] = np.sum(window * w, axis=(1, 2, 3)) + b
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """dout (N, F, H', W') -> dx (N, C, H, W), dw (F, C, HH, WW), db (F,).

    Each output position adds its window's share: dw += window · dout, and dx_pad[window] +=
    Σ_f w_f · dout_f (``+=``: windows overlap wherever the stride is smaller than the kernel).
    """
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                d = dout[n, :, i, j][:, None, None, None]  # (F, 1, 1, 1)
                dw += d * window
                dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += np.sum(d * w, axis=0)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """The largest entry of each pool_height × pool_width window, every ``stride`` rows and columns.

    H' = 1 + (H − pool_height) // stride, W' = 1 + (W − pool_width) // stride; windows may overlap
    (3×3, stride 2). cache = (x, pool_param).
    """
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Each window's dout to its first maximum (np.argmax, row-major), added: windows may overlap."""
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    k = np.argmax(window)
                    row, col = k // pw, k % pw
                    dx[n, c, i * stride + row, j * stride + col] += dout[n, c, i, j]
    return dx


def softmax_loss(x, y):
    """The softmax cross-entropy, averaged over the N samples, and its gradient.

    x (N, C) the scores, y (N,) the labels. Returns (loss, dx), dx = (softmax(x) − onehot(y)) / N.
    The row's maximum is subtracted before exp (the same softmax, no overflow).
    """
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward", "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
    "max_pool_backward_naive", "softmax_loss", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "batchnorm_forward_torch", "spatial_batchnorm_forward", "spatial_batchnorm_backward", "layernorm_forward",
    "layernorm_backward", "dropout_forward", "dropout_backward", "dropout_forward_2017", "dropout_backward_2017",
]
