"""cs231n's layers with one mistake planted each, as the course's students make them: the fixtures a
layer check must name.

Each function is its correct twin in :mod:`tests.users.cs231n_layers` with the one line a learner
gets wrong, marked ``# the mistake``; the other half of its pair is the correct function. Where
the mistake is a change to what goes into or comes out of the correct function (a flipped
kernel, a rotated dw, the padding put on one side), the planted function calls its correct twin
with that change, which computes what the student's whole copy computes. The batch and layer
norm and dropout mistakes are in :mod:`tests.users.cs231n_norm_planted`; ``PLANTED`` below holds
them all::

    PLANTED[kind][cause] = {"forward": f, "backward": g, "param": {...}}  # "param" only where needed

``kind`` is one of dense, relu, sigmoid, tanh, conv, maxpool, batchnorm, spatial_batchnorm,
layernorm, dropout, softmax_loss; ``cause`` is the name a check must give. ``forward`` and
``backward`` have the correct pair's signatures; for ``softmax_loss``, ``forward`` is the loss
function, returning ``(loss, dx)``, and ``backward`` is None.

``CONFIGURATIONS[kind]`` is the configuration every entry is checked at (tests/test_users_code.py).
``param`` changes it where that does not expose the mistake, or exposes it only by chance:

- ``"config"``: entries set in the layer's parameter dict (``conv_param``, ``pool_param``,
  ``bn_param``, ``ln_param``, ``dropout_param``);
- ``"x_shape"`` (and for dense ``"w_shape"``): an input shape that exposes it;
- ``"inputs"``: the values that expose it: ``"zeros"`` (some entries exactly 0), ``"ties"``
  (the integers 0 to 2, so windows hold tied maxima), ``"large"`` (scores · 1000),
  ``"small"`` (x · 1e-3, a variance of order ε);
- ``"calls"``: forward calls in training mode, each on a fresh batch, before the one compared
  (to fill the running statistics);
- ``"hidden_otherwise"``: True where, at ``CONFIGURATIONS[kind]``, every output and gradient
  agrees with the correct pair's (to rounding): the mistake shows only where ``param`` says.
"""
from __future__ import annotations

import numpy as np

from . import cs231n_layers as correct
from .cs231n_norm_planted import NORM_PLANTED, pair


# -- dense --------------------------------------------------------------------------------------------

def affine_backward_grads_averaged(dout, cache):
    """dw and db divided by N inside the layer, as if the loss had not averaged already."""
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    dw, db = dw / N, db / N  # the mistake
    return dx, dw, db


def affine_backward_dx_wrong_transpose(dout, cache):
    """dx = dout · w for dout · wᵀ: runs only where w is square (D = M), as in a hidden-to-hidden layer."""
    x, w, b = cache
    dx = dout.dot(w).reshape(x.shape)  # the mistake
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def affine_backward_x_not_flattened(dout, cache):
    """dw from x as it came, unflattened: xᵀ of a 4-d x is (d3, d2, d1, N), so dw comes out (d3, d2, d1, M)."""
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.T.dot(dout)  # the mistake
    db = np.sum(dout, axis=0)
    return dx, dw, db


# -- relu, sigmoid, tanh ------------------------------------------------------------------------------

def relu_backward_mask_from_dout(dout, cache):
    x = cache
    dx = dout * (dout > 0)  # the mistake
    return dx


def relu_backward_mask_ge(dout, cache):
    x = cache
    dx = dout * (x >= 0)  # the mistake
    return dx


def sigmoid_backward_twice(dout, cache):
    s = 1 / (1 + np.exp(-cache))  # the mistake: the cache holds σ(x) already
    dx = dout * s * (1 - s)
    return dx


def sigmoid_backward_missing_derivative(dout, cache):
    s = cache
    dx = dout  # the mistake
    return dx


def tanh_backward_of_input(dout, cache):
    x = cache
    dx = dout * (1 - x ** 2)  # the mistake: 1 − tanh² needs tanh(x), not x
    return dx


# -- conv ---------------------------------------------------------------------------------------------

def conv_forward_flipped(x, w, b, conv_param):
    """A true convolution (the kernel flipped, scipy.signal.convolve2d's) where torch cross-correlates."""
    return correct.conv_forward_naive(x, w[:, :, ::-1, ::-1], b, conv_param)  # the mistake


def conv_backward_flipped(dout, cache):
    """The true convolution's own gradient: dw flipped back, so the pair is consistent."""
    dx, dw_flipped, db = correct.conv_backward_naive(dout, cache)
    return dx, dw_flipped[:, :, ::-1, ::-1], db


def conv_backward_dw_rotated(dout, cache):
    """"The gradient of a convolution is a convolution with the kernel rotated by 180°", applied to dw."""
    dx, dw, db = correct.conv_backward_naive(dout, cache)
    dw = dw[:, :, ::-1, ::-1]  # the mistake
    return dx, dw, db


def conv_backward_overwrites(dout, cache):
    """``=`` where ``+=`` belongs: a pixel in several windows keeps only the last window's gradient."""
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
                d = dout[n, :, i, j][:, None, None, None]
                dw += d * window
                dx_window = np.sum(d * w, axis=0)
                dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] = dx_window  # the mistake
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def conv_backward_unpad_negative(dout, cache):
    """The padding cut off as ``[pad:-pad]``: at pad 0 that is ``[0:0]``, an empty dx."""
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
                d = dout[n, :, i, j][:, None, None, None]
                dw += d * window
                dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += np.sum(d * w, axis=0)
    dx = dx_pad[:, :, pad:-pad, pad:-pad]  # the mistake
    return dx, dw, db


def conv_forward_padded_one_side(x, w, b, conv_param):
    """All 2·pad zeros after the image (below, right), as a hand-made 'same' padding does; then pad 0."""
    pad = conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)), mode="constant")  # the mistake
    out, cache = correct.conv_forward_naive(x_pad, w, b, {**conv_param, "pad": 0})
    return out, (cache, x.shape)


def conv_backward_padded_one_side(dout, cache):
    """Its consistent gradient: the padded image's, cut back to the top-left H × W."""
    cache, (N, C, H, W) = cache
    dx_pad, dw, db = correct.conv_backward_naive(dout, cache)
    return dx_pad[:, :, :H, :W], dw, db


def conv_forward_width_from_height(x, w, b, conv_param):
    """The column loop bounded by H' (copied from the row loop): columns past H' stay 0 where H < W."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for i in range(H_out):
            for j in range(H_out):  # the mistake
                window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                out[n, :, i, j] = np.sum(window * w, axis=(1, 2, 3)) + b
    cache = (x, w, b, conv_param)
    return out, cache


# -- maxpool ------------------------------------------------------------------------------------------

def max_pool_backward_spread(dout, cache):
    """Average pooling's gradient: dout / (ph · pw) to every entry of the window."""
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
                    share = dout[n, c, i, j] / (ph * pw)  # the mistake
                    dx[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw] += share
    return dx


def max_pool_backward_argmax_swapped(dout, cache):
    """The flat argmax k unravelled as (k % pw, k // pw): row and column swapped."""
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
                    row, col = k % pw, k // pw  # the mistake
                    dx[n, c, i * stride + row, j * stride + col] += dout[n, c, i, j]
    return dx


def max_pool_backward_ties_all(dout, cache):
    """mask = (window == window.max()): every tied maximum gets the whole gradient."""
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
                    mask = window == np.max(window)  # the mistake
                    dx[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw] += mask * dout[n, c, i, j]
    return dx


def max_pool_backward_overwrites(dout, cache):
    """``=`` where ``+=`` belongs: an entry that is the maximum of two overlapping windows keeps one's."""
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
                    dx[n, c, i * stride + row, j * stride + col] = dout[n, c, i, j]  # the mistake
    return dx


def max_pool_forward_width_from_height(x, pool_param):
    """W' computed with pool_height: with a non-square pool the output's width is wrong, narrower where
    pool_height > pool_width (param), and wider where it is smaller, its last windows cut short by the map."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - ph) // stride  # the mistake
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


# -- softmax_loss -------------------------------------------------------------------------------------

def softmax_loss_summed(x, y):
    """The loss and dx summed over the N samples, not averaged."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y])  # the mistake (and no dx /= N below)
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx


def softmax_loss_no_subtract(x, y):
    """dx = softmax(x) / N: the −1 at each sample's label left out."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()  # the mistake: dx[np.arange(N), y] -= 1 left out
    dx /= N
    return loss, dx


def softmax_loss_no_shift(x, y):
    """exp(x) without subtracting the row's maximum: the same numbers until exp overflows (x ≳ 88 in
    float32, 709 in float64), then inf and nan."""
    shifted = x  # the mistake
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


POOL_3X3 = {"pool_height": 3, "pool_width": 3, "stride": 2}

# Shapes, and each layer's parameter dict, for every kind; w_shape for dense and conv; the seed of dropout.
CONFIGURATIONS = {
    "dense": {"x_shape": (4, 6), "w_shape": (6, 5)},
    "relu": {"x_shape": (4, 6)},
    "sigmoid": {"x_shape": (4, 6)},
    "tanh": {"x_shape": (4, 6)},
    "conv": {"x_shape": (2, 3, 6, 6), "w_shape": (4, 3, 3, 3), "config": {"stride": 1, "pad": 1}},
    "maxpool": {"x_shape": (2, 3, 6, 6), "config": {"pool_height": 2, "pool_width": 2, "stride": 2}},
    "batchnorm": {"x_shape": (8, 5), "config": {"mode": "train"}},
    "spatial_batchnorm": {"x_shape": (4, 3, 4, 5), "config": {"mode": "train"}},
    "layernorm": {"x_shape": (6, 5), "config": {}},
    "dropout": {"x_shape": (8, 10), "config": {"p": 0.8, "mode": "train", "seed": 0}},
    "softmax_loss": {"x_shape": (6, 5)},
}

PLANTED = {
    "dense": {
        "dense_grads_averaged": pair(correct.affine_forward, affine_backward_grads_averaged),
        "dense_dx_wrong_transpose": pair(correct.affine_forward, affine_backward_dx_wrong_transpose,
                                          x_shape=(4, 6), w_shape=(6, 6)),
        "dense_x_not_flattened_in_backward": pair(correct.affine_forward, affine_backward_x_not_flattened,
                                                   x_shape=(4, 2, 3, 2), w_shape=(12, 5), hidden_otherwise=True),
    },
    "relu": {
        "relu_mask_from_dout": pair(correct.relu_forward, relu_backward_mask_from_dout),
        "relu_mask_from_out_ge": pair(correct.relu_forward, relu_backward_mask_ge, inputs="zeros",
                                       hidden_otherwise=True),
    },
    "sigmoid": {
        "sigmoid_derivative_of_output_twice": pair(correct.sigmoid_forward, sigmoid_backward_twice),
        "sigmoid_missing_derivative": pair(correct.sigmoid_forward, sigmoid_backward_missing_derivative),
    },
    "tanh": {
        "tanh_derivative_of_input": pair(correct.tanh_forward, tanh_backward_of_input),
    },
    "conv": {
        "flipped_kernel": pair(conv_forward_flipped, conv_backward_flipped),
        "dw_kernel_rotated": pair(correct.conv_forward_naive, conv_backward_dw_rotated),
        "col2im_overwrites": pair(correct.conv_forward_naive, conv_backward_overwrites,
                                   config={"stride": 1}),
        "dx_pad_slice_empty_at_pad0": pair(correct.conv_forward_naive, conv_backward_unpad_negative,
                                            config={"pad": 0}, hidden_otherwise=True),
        "padding_one_side": pair(conv_forward_padded_one_side, conv_backward_padded_one_side,
                                  config={"pad": 1}),
        "non_square_loop": pair(conv_forward_width_from_height, correct.conv_backward_naive,
                                 x_shape=(2, 3, 5, 8), hidden_otherwise=True),
    },
    "maxpool": {
        "pool_gradient_spread": pair(correct.max_pool_forward_naive, max_pool_backward_spread),
        "pool_argmax_swapped": pair(correct.max_pool_forward_naive, max_pool_backward_argmax_swapped),
        "pool_ties_all": pair(correct.max_pool_forward_naive, max_pool_backward_ties_all, inputs="ties",
                               hidden_otherwise=True),
        "pool_overwrites_overlap": pair(correct.max_pool_forward_naive, max_pool_backward_overwrites,
                                         config=POOL_3X3, x_shape=(2, 3, 9, 9), hidden_otherwise=True),
        "pool_width_from_height": pair(max_pool_forward_width_from_height, correct.max_pool_backward_naive,
                                        config={"pool_height": 3, "pool_width": 2, "stride": 2},
                                        x_shape=(2, 3, 7, 8), hidden_otherwise=True),
    },
    **NORM_PLANTED,
    "softmax_loss": {
        "softmax_sum_not_mean": pair(softmax_loss_summed, None),
        "softmax_dx_no_subtract": pair(softmax_loss_no_subtract, None),
        "softmax_no_shift": pair(softmax_loss_no_shift, None, inputs="large", hidden_otherwise=True),
    },
}
