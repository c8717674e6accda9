"""The learners' code in tests/users is what it claims: each correct cs231n layer pair agrees with torch
(float64), and each planted mistake departs from its correct twin where its entry says.

The layer, update and model checks are tested against these fixtures; this file and
test_users_code_updates.py, test_users_code_models.py and test_users_code_nnfs.py only pin the
fixtures down, so that a check's failure on them is the check's. The helpers here (``close``,
``assert_close``, ``t``) serve those files too.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.users import cs231n_layers as layers
from tests.users.cs231n_layers_planted import CONFIGURATIONS, PLANTED


def close(mine, theirs, rtol=1e-9, atol=1e-11):
    """Shapes equal and values within float64's rounding of sums of a few hundred terms."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    return mine.shape == theirs.shape and np.allclose(mine, theirs, rtol=rtol, atol=atol)


def assert_close(name, mine, theirs):
    assert close(mine, theirs), f"{name}: Mine {np.asarray(mine)!r}\nTheirs {np.asarray(theirs)!r}"


def t(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def assert_pair_matches_torch(forward_args, forward, backward, torch_forward, dout_seed=1):
    """forward's output and backward's gradients against torch_forward's and autograd's, dL/dout random."""
    out, cache = forward(*forward_args)
    dout = np.random.default_rng(dout_seed).standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    arrays = [t(a) for a in forward_args if isinstance(a, np.ndarray)]
    theirs = torch_forward(*arrays)
    assert_close("out", out, theirs.detach().numpy())
    theirs.backward(torch.from_numpy(dout))
    for n, (mine, tensor) in enumerate(zip(grads, arrays)):
        assert_close(f"gradient {n}", mine, tensor.grad.numpy())


# -- the correct pairs against torch ------------------------------------------------------------------

rng = np.random.default_rng(0)


@pytest.mark.parametrize("x_shape", [(4, 6), (4, 2, 3, 2)])
def test_affine_pair_matches_torch(x_shape):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((6 if len(x_shape) == 2 else 12, 5)), \
        rng.standard_normal(5)
    assert_pair_matches_torch((x, w, b), layers.affine_forward, layers.affine_backward,
                              lambda x, w, b: x.flatten(1) @ w + b)


@pytest.mark.parametrize("name, reference", [("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)])
def test_activation_pair_matches_torch(name, reference):
    x = rng.standard_normal((4, 6))
    assert_pair_matches_torch((x,), getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward"),
                              reference)


CONVS = [((2, 3, 7, 7), (4, 3, 3, 3), 1, 0), ((2, 3, 7, 7), (4, 3, 3, 3), 2, 2), ((2, 3, 6, 9), (4, 3, 3, 2), 1, 2),
         ((2, 2, 5, 8), (3, 2, 3, 3), 2, 0)]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONVS)
def test_conv_pair_matches_torch(x_shape, w_shape, stride, pad):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    assert_pair_matches_torch((x, w, b, {"stride": stride, "pad": pad}), layers.conv_forward_naive,
                              layers.conv_backward_naive,
                              lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad))


POOLS = [((2, 3, 6, 6), 2, 2, 2), ((2, 3, 9, 9), 3, 3, 2), ((2, 3, 7, 9), 3, 3, 2), ((2, 3, 6, 9), 2, 3, 2)]


@pytest.mark.parametrize("x_shape, ph, pw, stride", POOLS)
def test_max_pool_pair_matches_torch(x_shape, ph, pw, stride):
    x = rng.standard_normal(x_shape)
    assert_pair_matches_torch((x, {"pool_height": ph, "pool_width": pw, "stride": stride}),
                              layers.max_pool_forward_naive, layers.max_pool_backward_naive,
                              lambda x: F.max_pool2d(x, (ph, pw), stride))


@pytest.mark.parametrize("backward", [layers.batchnorm_backward, layers.batchnorm_backward_alt])
def test_batchnorm_pair_matches_torch_in_training(backward):
    x, gamma, beta = rng.standard_normal((8, 5)) * 3 + 1, rng.standard_normal(5), rng.standard_normal(5)
    assert_pair_matches_torch((x, gamma, beta, {"mode": "train"}), layers.batchnorm_forward, backward,
                              lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5))


def test_spatial_batchnorm_pair_matches_torch():
    x, gamma, beta = rng.standard_normal((4, 3, 4, 5)), rng.standard_normal(3), rng.standard_normal(3)
    assert_pair_matches_torch((x, gamma, beta, {"mode": "train"}), layers.spatial_batchnorm_forward,
                              layers.spatial_batchnorm_backward,
                              lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5))


def test_layernorm_pair_matches_torch():
    x, gamma, beta = rng.standard_normal((6, 5)), rng.standard_normal(5), rng.standard_normal(5)
    assert_pair_matches_torch((x, gamma, beta, {}), layers.layernorm_forward, layers.layernorm_backward,
                              lambda x, g, b: F.layer_norm(x, (5,), g, b, eps=1e-5))


def test_softmax_loss_matches_torch_cross_entropy():
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    loss, dx = layers.softmax_loss(x, y)
    scores = t(x)
    theirs = F.cross_entropy(scores, torch.from_numpy(y))
    theirs.backward()
    assert_close("loss", loss, theirs.item())
    assert_close("dx", dx, scores.grad.numpy())


@pytest.mark.parametrize("forward, momentum, unbiased", [(layers.batchnorm_forward, 0.9, False),
                                                         (layers.batchnorm_forward_torch, 0.1, True)])
def test_batchnorm_running_statistics_follow_their_convention(forward, momentum, unbiased):
    """cs231n's: from zeros, momentum on the old value, biased variance; the torch variant: torch's
    F.batch_norm from zeros (momentum 0.1 on the batch, unbiased). Then test mode uses them."""
    gamma, beta, bn_param = rng.standard_normal(5), rng.standard_normal(5), {"mode": "train"}
    running_mean, running_var = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    for _ in range(3):
        x = rng.standard_normal((8, 5)) * 2 + 1
        forward(x, gamma, beta, bn_param)
        if unbiased:
            F.batch_norm(t(x), running_mean, running_var, training=True, momentum=momentum, eps=1e-5)
        else:
            running_mean = momentum * running_mean + (1 - momentum) * torch.from_numpy(x.mean(axis=0))
            running_var = momentum * running_var + (1 - momentum) * torch.from_numpy(x.var(axis=0))
    assert_close("running_mean", bn_param["running_mean"], running_mean.numpy())
    assert_close("running_var", bn_param["running_var"], running_var.numpy())
    x = rng.standard_normal((8, 5))
    out, _ = forward(x, gamma, beta, {**bn_param, "mode": "test"})
    theirs = F.batch_norm(t(x), running_mean, running_var, t(gamma), t(beta), training=False, eps=1e-5)
    assert_close("test-mode out", out, theirs.detach().numpy())


@pytest.mark.parametrize("forward, kept", [(layers.dropout_forward, lambda r, p: (r < p, p)),
                                           (layers.dropout_forward_2017, lambda r, p: (r >= p, 1 - p))])
def test_dropout_pair_is_inverted_dropout_with_the_seeded_mask(forward, kept):
    """The mask is the seeded draw (recent: rand < p, p kept; 2017: rand >= p, p dropped), the kept
    units scaled by 1 / P(keep); backward is autograd's through that; test mode is the identity."""
    x, p, seed = rng.standard_normal((8, 10)), 0.8, 3
    np.random.seed(seed)
    keep, scale = kept(np.random.rand(*x.shape), p)
    assert_pair_matches_torch((x, {"p": p, "mode": "train", "seed": seed}), forward, layers.dropout_backward,
                              lambda x: x * torch.from_numpy(keep.astype(float)) / scale)
    out, cache = forward(x, {"p": p, "mode": "test"})
    assert_close("test-mode out", out, x)
    assert_close("test-mode dx", layers.dropout_backward(x, cache), x)


@pytest.mark.parametrize("kind", list(CONFIGURATIONS))
def test_every_correct_layer_keeps_float32(kind):
    results = run(kind, correct_pair(kind), CONFIGURATIONS[kind], dtype=np.float32)
    assert "raised" not in results, results
    for key, value in results.items():
        assert np.asarray(value).dtype == np.float32, f"{kind}: {key} is {np.asarray(value).dtype}"


# -- the planted mistakes against the correct pairs ---------------------------------------------------

NAMES = {"dense": "affine", "conv": "conv_{}_naive", "maxpool": "max_pool_{}_naive"}


def correct_pair(kind):
    """The kind's pair in cs231n_layers: ``affine_forward``, ``conv_forward_naive``, ...; the softmax loss alone."""
    if kind == "softmax_loss":
        return {"forward": layers.softmax_loss, "backward": None}
    name = NAMES.get(kind, kind)
    name = name if "{}" in name else name + "_{}"
    return {"forward": getattr(layers, name.format("forward")), "backward": getattr(layers, name.format("backward"))}


def configuration(kind, param=None):
    """CONFIGURATIONS[kind] with ``param``'s changes: shapes, the layer's dict, the inputs, the calls."""
    found = copy.deepcopy(CONFIGURATIONS[kind])
    for key, value in (param or {}).items():
        if key == "config":
            found["config"] = {**found.get("config", {}), **value}
        elif key != "hidden_otherwise":
            found[key] = value
    return found


def draw(shape, inputs, generator, dtype):
    x = generator.standard_normal(shape)
    if inputs == "zeros":
        x.flat[::3] = 0.0
    elif inputs == "ties":
        x = generator.integers(0, 3, shape).astype(float)
    elif inputs == "large":
        x = x * 1000
    elif inputs == "small":
        x = x * 1e-3
    return x.astype(dtype)


def run(kind, pair, setting, dtype=np.float64, seed=0):
    """Every output of one forward and backward of ``pair`` at ``setting``: out, each gradient, the
    running statistics; an exception's type where one is raised instead."""
    generator = np.random.default_rng(seed)
    x = draw(setting["x_shape"], setting.get("inputs"), generator, dtype)
    config = dict(setting.get("config", {}))
    if kind in ("dense", "conv"):
        args = (x, generator.standard_normal(setting["w_shape"]).astype(dtype),
                generator.standard_normal(setting["w_shape"][-1 if kind == "dense" else 0]).astype(dtype))
        args += (config,) if kind == "conv" else ()
    elif kind in ("batchnorm", "spatial_batchnorm", "layernorm"):
        features = x.shape[1] if kind != "layernorm" else x.shape[-1]
        args = (x, generator.standard_normal(features).astype(dtype), generator.standard_normal(features).astype(dtype),
                config)
    elif kind in ("maxpool", "dropout"):
        args = (x, config)
    elif kind == "softmax_loss":
        args = (x, generator.integers(0, x.shape[1], x.shape[0]))
    else:
        args = (x,)
    results, mode = {}, config.get("mode")
    try:
        for _ in range(setting.get("calls", 0)):  # training batches first, into the same bn_param
            config["mode"] = "train"
            pair["forward"](draw(setting["x_shape"], setting.get("inputs"), generator, dtype), *args[1:])
        if mode is not None:
            config["mode"] = mode
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out, cache = pair["forward"](*args)
            if kind == "softmax_loss":
                results["loss"], results["dx"] = out, cache
                return results
            results["out"] = out
            dout = generator.standard_normal(out.shape).astype(dtype)
            grads = pair["backward"](dout, cache)
        for n, grad in enumerate(grads if isinstance(grads, tuple) else (grads,)):
            results[f"gradient {n}"] = grad
        for key in ("running_mean", "running_var"):
            if key in config:
                results[key] = config[key]
    except Exception as error:  # a planted mistake may end in an error: a departure too
        results["raised"] = type(error).__name__
    return results


ENTRIES = [(kind, cause, entry) for kind, causes in PLANTED.items() for cause, entry in causes.items()]
IDS = [f"{kind}-{cause}" for kind, cause, _ in ENTRIES]


def departures(kind, entry, setting):
    """The outputs in which the planted pair departs from the correct pair at ``setting``."""
    mine, theirs = run(kind, entry, setting), run(kind, correct_pair(kind), setting)
    assert "raised" not in theirs, f"the correct {kind} raised {theirs.get('raised')} at {setting}"
    if "raised" in mine:
        return [f"raised {mine['raised']}"]
    return [key for key in theirs if key not in mine or not close(mine[key], theirs[key], rtol=1e-7, atol=1e-9)]


@pytest.mark.parametrize("kind, cause, entry", ENTRIES, ids=IDS)
def test_planted_pair_departs_from_the_correct_one_where_its_param_says(kind, cause, entry):
    setting = configuration(kind, entry.get("param"))
    assert departures(kind, entry, setting), f"{kind}:{cause} agrees with the correct pair at {setting}"


HIDDEN = [(kind, cause, entry) for kind, cause, entry in ENTRIES if entry.get("param", {}).get("hidden_otherwise")]


@pytest.mark.parametrize("kind, cause, entry", HIDDEN, ids=[f"{kind}-{cause}" for kind, cause, _ in HIDDEN])
def test_planted_pair_marked_hidden_otherwise_agrees_at_the_plain_configuration(kind, cause, entry):
    found = departures(kind, entry, configuration(kind))
    assert not found, f"{kind}:{cause} departs at {CONFIGURATIONS[kind]} in {found}"


def test_every_kind_has_its_configuration_and_its_named_causes():
    assert set(PLANTED) == set(CONFIGURATIONS) == {
        "dense", "relu", "sigmoid", "tanh", "conv", "maxpool", "batchnorm", "spatial_batchnorm", "layernorm",
        "dropout", "softmax_loss"}
    for kind, cause, entry in ENTRIES:
        assert set(entry) <= {"forward", "backward", "param"} and callable(entry["forward"]), (kind, cause)
