"""One helper that checks any layer kind's NumPy pair against its torch module, as tinygrad's
``helper_test_op`` checks an op: so that a new kind is one case of ``tests/test_layers.py``.

For a layer spec (:mod:`common.layers`) and an input, :func:`assert_layer_matches_torch` builds the
layer both ways, ``from_scratch.layers.build`` and ``torch_impl.layers.build``, with the same
parameters, buffers and seed, and compares, in this order, each with the one tolerance of
:mod:`common.tolerances`:

- the output's shape and dtype, then its values, in training mode and in evaluation mode;
- the buffers after the training pass (running statistics);
- dL/dx and every parameter's gradient, for a random dL/dout, against autograd;
- one step of plain SGD (the layer's own ``step``, BLAS for a dense layer) against ``p − lr · grad``;
- in float64, the backward pass against central finite differences of L = Σ dL/dout · out.
"""
from __future__ import annotations

import numpy as np
import torch

from common.layers import Layer as Spec
from common.tolerances import assert_close, tolerance
from from_scratch.layers import Context as NumpyContext
from from_scratch.layers import build as build_numpy
from torch_impl.layers import Context as TorchContext
from torch_impl.layers import build as build_torch

SEED, STEP, LR = 7, 3, 0.1


def layer_pair(spec: Spec, dtype: str, params: list[np.ndarray], buffers: list[np.ndarray]):
    """The layer in each backend, at the same parameters, buffers, seed and step."""
    mine = build_numpy(spec, np.dtype(dtype))
    mine.index = 0 if spec.draws else None
    mine.bind([p.astype(dtype) for p in params], [b.astype(dtype) for b in buffers],
              NumpyContext(step=STEP, seed=SEED))
    theirs = build_torch(spec, TorchContext(step=STEP, seed=SEED), 0 if spec.draws else None).to(getattr(torch, dtype))
    with torch.no_grad():
        for tensor, value in zip(theirs.parameters(), params):
            tensor.copy_(torch.from_numpy(value.astype(dtype)))
        for tensor, buffer, value in zip(_buffers(theirs, spec), spec.buffers(), buffers):
            tensor.copy_(torch.from_numpy(value.astype(dtype)))
    return mine, theirs


def _buffers(module: torch.nn.Module, spec: Spec) -> list[torch.Tensor]:
    return [getattr(module, buffer.key) for buffer in spec.buffers()]


def starting(spec: Spec, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Parameters as the spec starts them, then moved off their starting values (γ = 1 and β = 0 would
    hide a mistake that swaps them), and buffers moved off theirs: float64, cast by the caller."""
    params = [p.initial(rng, np.dtype("float64")) + rng.normal(0, 0.3, p.shape) for p in spec.parameters()]
    buffers = [b.initial(np.dtype("float64")) + np.abs(rng.normal(0, 0.3, b.shape)) for b in spec.buffers()]
    return params, buffers


def assert_layer_matches_torch(spec: Spec, x: np.ndarray, dtype: str = "float64", seed: int = 0) -> None:
    """Every comparison of the module docstring, for ``spec`` on the input ``x`` (a batch)."""
    rng = np.random.default_rng(seed)
    rtol = tolerance(dtype).single
    params, buffers = starting(spec, rng)
    x = x.astype(dtype)
    mine, theirs = layer_pair(spec, dtype, params, buffers)

    # training mode: forward, buffers, backward
    theirs.train()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t_out = theirs(tx)
    out, cache = mine.forward(x.copy(), True)
    assert out.shape == tuple(t_out.shape) and out.dtype == np.dtype(dtype), (out.shape, out.dtype, t_out.shape)
    assert_close(out, t_out.detach().numpy(), rtol, f"{spec.kind} forward in training")
    for name, b_mine, b_theirs in zip((b.name for b in spec.buffers()), mine.buffers, _buffers(theirs, spec)):
        assert_close(b_mine, b_theirs.numpy(), rtol, f"{spec.kind} {name} after a training pass")
    dout = rng.normal(0, 1, out.shape).astype(dtype)
    dx, grads = mine.backward(dout.copy(), cache, True)
    t_grads = torch.autograd.grad(t_out, [tx, *theirs.parameters()], torch.from_numpy(dout))
    assert dx.shape == x.shape and dx.dtype == np.dtype(dtype)
    assert_close(dx, t_grads[0].numpy(), rtol, f"{spec.kind} dL/dx")
    assert len(grads) == len(params)
    for parameter, g_mine, g_theirs in zip(spec.parameters(), grads, t_grads[1:]):
        assert g_mine.shape == parameter.shape and g_mine.dtype == np.dtype(dtype)
        assert_close(g_mine, g_theirs.numpy(), rtol, f"{spec.kind} dL/d{parameter.name}")

    # evaluation mode: the buffers as they are now in both
    theirs.eval()
    with torch.no_grad():
        t_eval = theirs(torch.from_numpy(x.copy())).numpy()
    assert_close(mine.forward(x.copy(), False)[0], t_eval, rtol, f"{spec.kind} forward in evaluation")

    # one step of plain SGD, from the parameters both started from
    if params:
        stepper, _ = layer_pair(spec, dtype, params, buffers)
        _, cache = stepper.forward(x.copy(), True)
        stepper.step(dout.copy(), cache, True, LR)
        for parameter, after, start, g in zip(spec.parameters(), stepper.params, params, t_grads[1:]):
            expected = start.astype(dtype) - dtype_scalar(dtype, LR) * g.numpy()
            assert_close(after, expected, rtol, f"{spec.kind} step of {parameter.name}")

    if dtype == "float64" and not spec.draws:
        assert_matches_finite_differences(spec, x, params, buffers, dout, dx, grads)


def dtype_scalar(dtype: str, value: float):
    return np.dtype(dtype).type(value)


def assert_matches_finite_differences(spec: Spec, x, params, buffers, dout, dx, grads, h: float = 1e-6,
                                      probes: int = 12) -> None:
    """Central differences of L = Σ dout · out(x, params) at ``probes`` entries of x and of each parameter."""
    rng = np.random.default_rng(1)

    def loss(x_, params_) -> float:
        layer, _ = layer_pair(spec, "float64", params_, [b.copy() for b in buffers])
        return float(np.sum(dout * layer.forward(x_.copy(), True)[0]))

    arrays = [x, *params]
    for k, (array, analytic) in enumerate(zip(arrays, [dx, *grads])):
        for flat in rng.choice(array.size, size=min(probes, array.size), replace=False):
            index = np.unravel_index(flat, array.shape)
            moved = [a.copy() for a in arrays]
            moved[k][index] += h
            up = loss(moved[0], moved[1:])
            moved[k][index] -= 2 * h
            down = loss(moved[0], moved[1:])
            numeric = (up - down) / (2 * h)
            scale = max(1.0, float(np.max(np.abs(analytic))))
            assert abs(analytic[index] - numeric) <= 1e-5 * scale, (
                f"{spec.kind}: {'dL/dx' if k == 0 else 'dL/d' + spec.parameters()[k - 1].name}{list(index)} is "
                f"{analytic[index]:.8g}, finite differences give {numeric:.8g}")
