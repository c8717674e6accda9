"""Every layer kind's NumPy pair against its torch module, one case each (tests/layer_helper.py).

A new kind is a spec, a pair, a builder and a catalogue, and here one more case: its spec on an
input of fitting shape, in float64 (with finite differences) and in float32.
"""
import numpy as np
import pytest

from common.layers.activation import Activation
from common.layers.batchnorm import BatchNorm
from common.layers.conv import Conv
from common.layers.dense import Dense
from common.layers.dropout import Dropout
from common.layers.flatten import Flatten, Unflatten
from common.layers.layernorm import LayerNorm
from common.layers.maxpool import MaxPool
from common.tolerances import assert_close, tolerance
from from_scratch.layers.dense import dense_backward, dense_forward
from tests.layer_helper import assert_layer_matches_torch, layer_pair, starting

MAPS = (4, 3, 9, 8)  # n, C, H, W: odd and even sides, not square

CASES = {
    "dense": (Dense((12,), "1", "w1", 5, False), (6, 12)),
    "dense with bias": (Dense((12,), "1", "w1", 5, True), (6, 12)),
    "conv, pad 0": (Conv(MAPS[1:], "conv1", "conv1", 4, 3, 0, True), MAPS),
    "conv, pad 2": (Conv(MAPS[1:], "conv1", "conv1", 2, 5, 2, False), MAPS),
    "maxpool, odd side": (MaxPool(MAPS[1:], "conv1", "pool1"), MAPS),
    "sigmoid": (Activation((7,), "1", "sigmoid1", "sigmoid"), (5, 7)),
    "tanh": (Activation((7,), "1", "tanh1", "tanh"), (5, 7)),
    "relu": (Activation(MAPS[1:], "conv1", "relu_conv1", "relu"), MAPS),
    "flatten": (Flatten(MAPS[1:], "", "flatten"), MAPS),
    "unflatten": (Unflatten((9 * 8,), "", "image", (1, 9, 8)), (4, 9 * 8)),
    "batchnorm": (BatchNorm((7,), "1", "norm1"), (6, 7)),
    "spatial batchnorm": (BatchNorm(MAPS[1:], "conv1", "norm_conv1"), MAPS),
    "layernorm": (LayerNorm((7,), "1", "norm1"), (6, 7)),
    "layernorm of maps": (LayerNorm(MAPS[1:], "conv1", "norm_conv1"), MAPS),
    "dropout": (Dropout((7,), "1", "dropout1", 0.3), (6, 7)),
    "dropout of maps": (Dropout(MAPS[1:], "conv1", "dropout_conv1", 0.5), MAPS),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_layer_matches_its_torch_module(case, dtype):
    spec, shape = case
    x = np.random.default_rng(3).normal(0, 1, shape)
    assert_layer_matches_torch(spec, x, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [None, 6], ids=["one sample", "a batch"])
def test_dense_blas_paths_equal_the_plain_formula(rows, dtype):
    """The dense layer's step (BLAS ger or gemm adding −lr dL/dW into W) and its gradients written into
    the optimizer's arrays (gemm with β = 0) are dense_backward's numbers, as written."""
    spec = Dense((12,), "1", "w1", 5, True)
    rng = np.random.default_rng(0)
    params, _ = starting(spec, rng)
    x = rng.normal(0, 1, (12,) if rows is None else (rows, 12)).astype(dtype)
    dout = rng.normal(0, 1, (5,) if rows is None else (rows, 5)).astype(dtype)
    w, b = (p.astype(dtype) for p in params)
    _, cache = dense_forward(x, w, b)
    dx, dw, db = dense_backward(dout, cache)
    rtol = tolerance(dtype).single

    layer, _ = layer_pair(spec, dtype, params, [])
    _, x_cache = layer.forward(x, True)
    into = [np.full_like(w, np.nan), np.full_like(b, np.nan)]
    assert_close(layer.backward_into(dout, x_cache, True, into), dx, rtol, "dL/dx")
    assert_close(into[0], dw, rtol, "dL/dW by gemm")
    assert_close(into[1], db, rtol, "dL/db by sum")
    layer.step(dout, x_cache, True, 0.1)
    assert_close(layer.params[0], w - np.dtype(dtype).type(0.1) * dw, rtol, "W after ger or gemm")
    assert_close(layer.params[1], b - np.dtype(dtype).type(0.1) * db, rtol, "b after axpy")
