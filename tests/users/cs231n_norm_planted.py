"""cs231n's batch and layer normalization and dropout with one mistake planted each, as its students make them.

Each function is its correct twin in :mod:`tests.users.cs231n_norm` with the one line a learner
gets wrong, marked ``# the mistake``. ``NORM_PLANTED`` is merged into
:data:`tests.users.cs231n_layers_planted.PLANTED`, whose docstring describes an entry and its
``param``; import that one.
"""
from __future__ import annotations

import numpy as np

from . import cs231n_norm as correct


# -- batchnorm ----------------------------------------------------------------------------------------

def batchnorm_backward_no_mean_term(dout, cache):
    """Leaves out what flows back through the batch mean: dx stops at the path through x − mean."""
    x_hat, xmu, std, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dstd = -np.sum(dx_hat * xmu, axis=0) / std ** 2
    dvar = dstd / (2 * std)
    dxmu = dx_hat / std + 2 * xmu * dvar / N
    dx = dxmu  # the mistake
    return dx, dgamma, dbeta


def batchnorm_backward_no_variance_term(dout, cache):
    """Leaves out what flows back through the batch variance, as if std were a constant."""
    x_hat, xmu, std, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dxmu = dx_hat / std  # the mistake
    dmean = -np.sum(dxmu, axis=0)
    dx = dxmu + dmean / N
    return dx, dgamma, dbeta


def batchnorm_forward_eps_outside_sqrt(x, gamma, beta, bn_param):
    """std = sqrt(var) + eps for sqrt(var + eps): they differ by ε − ε/(2σ), plain once var is of order ε."""
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
    std = np.sqrt(var) + eps  # the mistake
    x_hat = xmu / std
    out = gamma * x_hat + beta
    cache = (x_hat, xmu, std, gamma)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_forward_batch_stats_in_test(x, gamma, beta, bn_param):
    """Test mode normalizes with the test batch's own mean and variance, not the running ones."""
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
        mean, var = x.mean(axis=0), x.var(axis=0)  # the mistake
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


def batchnorm_forward_running_stats_in_train(x, gamma, beta, bn_param):
    """Training mode normalizes with the running averages just updated, not the batch's statistics."""
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
        mean, var = running_mean, running_var  # the mistake
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


def batchnorm_forward_momentum_form(x, gamma, beta, bn_param):
    """cs231n's update, running = momentum · running + (1 − momentum) · batch, with torch's momentum 0.1
    for its default: the batch weighs 0.9 where it should weigh 0.1."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.1)  # the mistake
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


def batchnorm_forward_unbiased_var(x, gamma, beta, bn_param):
    """Normalizes with the unbiased variance (× N / (N − 1)), torch.var's and pandas' default: seen in code
    ported from torch, where only the running variance is unbiased."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0, ddof=1)  # the mistake
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


# -- spatial_batchnorm --------------------------------------------------------------------------------

def spatial_batchnorm_forward_no_transpose(x, gamma, beta, bn_param):
    """x.reshape(−1, C) straight from (N, C, H, W): each row mixes channels and positions."""
    N, C, H, W = x.shape
    x_flat = x.reshape(-1, C)  # the mistake
    out_flat, cache = correct.batchnorm_forward(x_flat, gamma, beta, bn_param)
    out = out_flat.reshape(N, C, H, W)  # (undone the same way)
    return out, cache


def spatial_batchnorm_backward_no_transpose(dout, cache):
    N, C, H, W = dout.shape
    dout_flat = dout.reshape(-1, C)  # the mistake
    dx_flat, dgamma, dbeta = correct.batchnorm_backward(dout_flat, cache)
    dx = dx_flat.reshape(N, C, H, W)  # (undone the same way)
    return dx, dgamma, dbeta


# -- layernorm ----------------------------------------------------------------------------------------

def layernorm_forward_batch_axis(x, gamma, beta, ln_param):
    """The statistics over the batch (axis 0), batch norm's, where layer norm takes each row's features."""
    eps = ln_param.get("eps", 1e-5)
    mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)  # the mistake
    xmu = x - mean
    std = np.sqrt(var + eps)
    x_hat = xmu / std
    out = gamma * x_hat + beta
    cache = (x_hat, xmu, std, gamma)
    return out, cache


def layernorm_forward_eps_outside_sqrt(x, gamma, beta, ln_param):
    """std = sqrt(var) + eps, as in batchnorm_forward_eps_outside_sqrt."""
    eps = ln_param.get("eps", 1e-5)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    xmu = x - mean
    std = np.sqrt(var) + eps  # the mistake
    x_hat = xmu / std
    out = gamma * x_hat + beta
    cache = (x_hat, xmu, std, gamma)
    return out, cache


def layernorm_backward_no_mean_term(dout, cache):
    """Leaves out what flows back through each row's mean."""
    x_hat, xmu, std, gamma = cache
    D = dout.shape[1]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dstd = -np.sum(dx_hat * xmu, axis=1, keepdims=True) / std ** 2
    dvar = dstd / (2 * std)
    dxmu = dx_hat / std + 2 * xmu * dvar / D
    dx = dxmu  # the mistake
    return dx, dgamma, dbeta


# -- dropout ------------------------------------------------------------------------------------------

def dropout_forward_not_inverted(x, dropout_param):
    """The lecture notes' "vanilla" dropout: no 1/p in training, x · p at test (torch's is inverted)."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype)  # the mistake
        out = x * mask
    elif mode == "test":
        out = x * p  # (its other half)
    cache = (dropout_param, mask)
    return out, cache


def dropout_forward_keep_for_drop(x, dropout_param):
    """The 2017 handout's comparison (p the drop probability) kept with the recent handout's scale:
    keeps each unit with probability 1 − p and scales by 1/p, so E[out] = x (1 − p) / p."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) >= p).astype(x.dtype) / p  # the mistake
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    return out, cache


def dropout_forward_mask_shared_by_rows(x, dropout_param):
    """One mask of shape x.shape[1:], broadcast over the batch: every sample drops the same units."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape[1:]) < p).astype(x.dtype) / p  # the mistake
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    return out, cache


def dropout_forward_at_test(x, dropout_param):
    """Drops units at test time too, as solutions without the ``if mode == "train"`` branch do: seen as
    validation accuracy that changes from one evaluation to the next."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / p
        out = x * mask
    elif mode == "test":
        out = x * (np.random.rand(*x.shape) < p).astype(x.dtype) / p  # the mistake
    cache = (dropout_param, mask)
    return out, cache


def dropout_forward_mask_unscaled(x, dropout_param):
    """A correct forward that keeps the 0/1 mask and scales the output: out = x · mask / p."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype)
        out = x * mask / p
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    return out, cache


def dropout_backward_no_scale(dout, cache):
    """dx = dout · mask with the 0/1 mask of the forward above: the 1/p left out of the gradient."""
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    if mode == "train":
        dx = dout * mask  # the mistake
    elif mode == "test":
        dx = dout
    return dx


def pair(forward, backward, **param):
    """A PLANTED entry: the pair, and ``param`` where something beyond the default configuration exposes it."""
    return {"forward": forward, "backward": backward, **({"param": param} if param else {})}


BN_TEST_AFTER_TRAINING = {"config": {"mode": "test"}, "calls": 2}

NORM_PLANTED = {
    "batchnorm": {
        "bn_no_mean_term": pair(correct.batchnorm_forward, batchnorm_backward_no_mean_term),
        "bn_no_variance_term": pair(correct.batchnorm_forward, batchnorm_backward_no_variance_term),
        "bn_eps_outside_sqrt": pair(batchnorm_forward_eps_outside_sqrt, correct.batchnorm_backward,
                                     inputs="small"),
        "bn_batch_stats_in_test": pair(batchnorm_forward_batch_stats_in_test, correct.batchnorm_backward,
                                        **BN_TEST_AFTER_TRAINING, hidden_otherwise=True),
        "bn_running_stats_in_train": pair(batchnorm_forward_running_stats_in_train, correct.batchnorm_backward),
        "bn_momentum_form": pair(batchnorm_forward_momentum_form, correct.batchnorm_backward,
                                  **BN_TEST_AFTER_TRAINING),
        "bn_unbiased_var_in_forward": pair(batchnorm_forward_unbiased_var, correct.batchnorm_backward),
    },
    "spatial_batchnorm": {
        "spatial_reshape_no_transpose": pair(spatial_batchnorm_forward_no_transpose,
                                              spatial_batchnorm_backward_no_transpose),
    },
    "layernorm": {
        "ln_batch_axis": pair(layernorm_forward_batch_axis, correct.layernorm_backward),
        "ln_eps_outside_sqrt": pair(layernorm_forward_eps_outside_sqrt, correct.layernorm_backward,
                                     inputs="small"),
        "ln_no_mean_term": pair(correct.layernorm_forward, layernorm_backward_no_mean_term),
    },
    "dropout": {
        "dropout_not_inverted": pair(dropout_forward_not_inverted, correct.dropout_backward),
        "dropout_keep_for_drop": pair(dropout_forward_keep_for_drop, correct.dropout_backward,
                                       config={"p": 0.8}),
        "dropout_mask_shared_by_rows": pair(dropout_forward_mask_shared_by_rows, correct.dropout_backward),
        "dropout_backward_no_scale": pair(dropout_forward_mask_unscaled, dropout_backward_no_scale),
        "dropout_applied_at_test": pair(dropout_forward_at_test, correct.dropout_backward,
                                         config={"mode": "test"}, hidden_otherwise=True),
    },
}
