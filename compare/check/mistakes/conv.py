"""The classic mistakes of a convolution layer written by hand, as hypotheses tested against the numbers.

Each hypothesis is torch's own network (``torch_impl``'s ``nn.Sequential``, in float64, at the
network's weights) with one mistake planted in it; :func:`compare.check.network.check_network`
names it (:mod:`compare.check.diagnosis`) only where the network's numbers are that network's, within
the tolerance:

==================  ==========================================================================
hypothesis          what is planted, and the numbers that must be its
==================  ==========================================================================
flipped_kernel      a true convolution, the kernel flipped (``w[:, :, ::-1, ::-1]``), where
                    ``nn.Conv2d`` cross-correlates: the outputs
flatten_order       the maps flattened in another order than (C, H, W), e.g. channels last
                    (H, W, C): the outputs, through the first dense weight's columns permuted
padding_mismatch    another padding of the same size: all of it after the image (or before
                    it), or the edge's pixels repeated or reflected instead of zeros: the outputs
pool_gradient       the max pool's gradient spread over its window (dL/dy / 4 to each entry,
                    average pooling's; or dL/dy to each) instead of sent to the argmax: the
                    gradients, the outputs agreeing
pool_argmax_swapped the max pool's gradient sent to its argmax with row and column swapped
                    (``2*i + k % 2, 2*j + k // 2`` for k = np.argmax(window)): the gradients
pool_ties           the max pool's gradient sent to every entry equal to its window's maximum
                    (``window == window.max()``), where torch sends it to the first: the gradients
col2im_overwrites   col2im writing each window's gradient over the input's instead of adding
                    it (the last window, or the last kernel tap, wins): the gradients
rotated_dw          the convolution's weight gradient rotated 180° (``dw[:, :, ::-1, ::-1]``), the
                    rotation that belongs in dL/dx: the gradients
==================  ==========================================================================

The backward mistakes are planted in place of a layer of torch's ``nn.Sequential``: the max pool's
(``pool1``, ...) by a module of its own (:class:`SpreadPool`, :class:`SwappedArgmaxPool`,
:class:`TiedMaximaPool`), the convolution's (``conv1``, ...) by a module whose autograd Function
computes its backward with the mistake (:class:`OverwritingConv`, :class:`RotatedGradientConv`).

A mistake written once in a layer function reaches every convolution layer, so each is tried
in each layer alone and in all of them at once. Torch with the mistake planted is built here,
in ``compare`` (the only package that knows both backends), never in ``torch_impl``.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.architecture import Architecture
from common.recipe import Recipe
from common.tolerances import relative_difference

AXES = "CHW"


@dataclass(frozen=True)
class Hypothesis:
    """A planted mistake whose numbers are the network's: its cause's name, the layer, what it does."""

    name: str
    layer: str  # "conv1", ... or "flatten"
    words: str


def _reference(architecture: Architecture, recipe: Recipe, weights: Sequence[np.ndarray]):
    """torch_impl's network at ``weights``, in float64: the model each hypothesis plants a mistake in."""
    from compare.plugins import build_network, load_class

    network = build_network(load_class("torch_impl"), architecture, 1.0, "float64", recipe, device="cpu")
    network.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    return network


def _replaced(model: nn.Sequential, replacements: dict[str, nn.Module]) -> nn.Sequential:
    """``model`` with the modules named in ``replacements`` swapped, every parameter shared."""
    return nn.Sequential(OrderedDict((name, replacements.get(name, module)) for name, module in model.named_children()))


def _layer_sets(names: list[str]) -> list[tuple[str, ...]]:
    """Each layer alone, then all of them (where there are several)."""
    return [(name,) for name in names] + ([tuple(names)] if len(names) > 1 else [])


def _which(layers: tuple[str, ...], kind: str = "convolution layer") -> str:
    """``"conv1"``, or ``"every convolution layer (conv1, conv2)"``."""
    return layers[0] if len(layers) == 1 else f"every {kind} ({', '.join(layers)})"


# -- the forward pass's mistakes -----------------------------------------------------------------------

def forward_hypotheses(architecture: Architecture, recipe: Recipe, weights: Sequence[np.ndarray], inputs: np.ndarray,
                       outputs: np.ndarray, limit: float) -> list[Hypothesis]:
    """The forward mistakes whose outputs, for ``inputs``, are ``outputs`` within ``limit`` (relative)."""
    reference = _reference(architecture, recipe, weights)
    model, found = reference.model, []

    def fits(variant_weights=None, replacements=None) -> bool:
        reference.set_weights([np.asarray(w, dtype=np.float64) for w in (variant_weights or weights)])
        reference.model = _replaced(model, replacements or {})
        try:
            return relative_difference(outputs, reference.query(inputs)) <= limit
        finally:
            reference.model = model

    names, n_conv = architecture.conv_names(), len(architecture.conv)
    per = 2 if architecture.bias else 1
    for layers in _layer_sets(names):
        flipped = [np.asarray(w)[:, :, ::-1, ::-1].copy() if k % per == 0 and k // per < n_conv
                   and names[k // per] in layers else w for k, w in enumerate(weights)]
        if fits(flipped):
            found.append(Hypothesis("flipped_kernel", layers[0], f"the kernel of {_which(layers)} flipped"))
    last = architecture.conv_shapes()[-1].h
    first_dense = n_conv * per
    for order in itertools.permutations(range(3)):
        if order == (0, 1, 2):
            continue
        w = np.asarray(weights[first_dense])
        # The network's flat index runs over the axes in ``order``; torch's over (C, H, W).
        permuted = w.reshape(w.shape[0], *(last[a] for a in order)).transpose(
            0, *(1 + order.index(a) for a in range(3))).reshape(w.shape)
        if fits([permuted if k == first_dense else v for k, v in enumerate(weights)]):
            found.append(Hypothesis("flatten_order", "flatten",
                                    f"the maps are flattened in ({', '.join(AXES[a] for a in order)}) order"))
    padded = [name for name, shape in zip(names, architecture.conv_shapes()) if shape.padding]
    for kind, layers in itertools.product(PADDINGS, _layer_sets(padded)):
        replacements = {name: _padded(getattr(model, name), kind) for name in layers}
        if fits(replacements=replacements):
            found.append(Hypothesis("padding_mismatch", layers[0],
                                    f"{_which(layers, 'padded convolution layer')} {PADDINGS[kind]}"))
    return found


PADDINGS = {"after": "puts all of its 2P zeros after the image (below it and to its right), none before it",
            "before": "puts all of its 2P zeros before the image (above it and to its left), none after it",
            "replicate": "pads with the image's edge pixels repeated (np.pad's mode 'edge'), not with zeros",
            "reflect": "pads with the image reflected at its edge (np.pad's mode 'reflect'), not with zeros"}


def _padded(conv: nn.Conv2d, kind: str) -> nn.Module:
    """``conv`` (sharing its weight and bias) after a padding of the same size but another kind."""
    p = conv.padding[0]
    unpadded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=0, bias=conv.bias is not None)
    unpadded.weight, unpadded.bias = conv.weight, conv.bias
    pad = {"after": nn.ZeroPad2d((0, 2 * p, 0, 2 * p)), "before": nn.ZeroPad2d((2 * p, 0, 2 * p, 0)),
           "replicate": nn.ReplicationPad2d(p), "reflect": nn.ReflectionPad2d(p)}[kind]
    return nn.Sequential(pad, unpadded)


# -- the backward pass's mistakes ----------------------------------------------------------------------

def backward_hypotheses(architecture: Architecture, recipe: Recipe, weights: Sequence[np.ndarray],
                        cases: list[tuple[np.ndarray, np.ndarray, list[np.ndarray], float]]) -> list[Hypothesis]:
    """The backward mistakes whose gradients are the network's: for each ``(inputs, targets,
    gradients, limit)``, every parameter's gradient within ``limit`` of the planted network's, and
    in some case not within it of the correct network's (a mistake that changes nothing on these
    samples, a pool's ties where no window ties, is not told apart by them). The max pool's
    mistakes first, then the convolution's."""
    reference = _reference(architecture, recipe, weights)
    model = reference.model
    correct = [reference.gradients(np.atleast_2d(inputs), np.atleast_2d(targets)) for inputs, targets, _, _ in cases]

    def fits(replacements: dict[str, nn.Module]) -> bool:
        reference.model = _replaced(model, replacements)
        try:
            shows = False
            for (inputs, targets, gradients, limit), right in zip(cases, correct):
                planted = reference.gradients(np.atleast_2d(inputs), np.atleast_2d(targets))
                if any(relative_difference(mine, theirs) > limit for mine, theirs in zip(gradients, planted)):
                    return False
                shows = shows or any(relative_difference(p, r) > limit for p, r in zip(planted, right))
            return shows
        finally:
            reference.model = model

    return _pool_hypotheses(architecture, fits) + _conv_backward_hypotheses(architecture, model, fits)


# -- the max pool's backward: a pool module planted in place of pool1, pool2, ... ----------------------

def _pool_hypotheses(architecture: Architecture, fits) -> list[Hypothesis]:
    """Each pool mistake, in the pool after each convolution layer alone and in all of them."""
    found = []
    for (name, make, words), layers in itertools.product(POOL_MISTAKES, _layer_sets(architecture.conv_names())):
        if fits({f"pool{layer[4:]}": make() for layer in layers}):
            which = f"the max pool after {layers[0]}" if len(layers) == 1 else f"each max pool (after {', '.join(layers)})"
            found.append(Hypothesis(name, layers[-1], f"{which} {words}"))
    return found


class SpreadPool(nn.Module):
    """A 2×2 max pool forward whose backward spreads dL/dy over the window, ``share`` of it to each entry."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = F.avg_pool2d(x, 2) * (4 * self.share)  # d/dx of each entry: share · dL/dy
        return F.max_pool2d(x, 2).detach() + spread - spread.detach()


class SwappedArgmaxPool(nn.Module):
    """A 2×2 max pool whose backward sends dL/dy to its window's argmax with row and column swapped:
    the entry at (r, c) of the window, k = 2r + c in row-major order, sends it to (c, r), as
    ``dx[2*i + k % 2, 2*j + k // 2]`` does. Ties go to the first maximum, as torch's and np.argmax's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SwappedArgmax.apply(x)


class _SwappedArgmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x):
        y, argmax = F.max_pool2d(x, 2, return_indices=True)
        ctx.save_for_backward(argmax)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, dy):
        (argmax,) = ctx.saved_tensors
        dx = F.max_unpool2d(dy, argmax, 2, output_size=ctx.x_shape[-2:])  # torch's own: dL/dy at the argmax
        h, w = 2 * dy.shape[-2], 2 * dy.shape[-1]  # an odd last row or column is in no window
        windows = dx[..., :h, :w].unflatten(-1, (w // 2, 2)).unflatten(-3, (h // 2, 2))  # (n, C, H/2, r, W/2, c)
        swapped = torch.zeros_like(dx)
        swapped[..., :h, :w] = windows.transpose(-3, -1).reshape(dx[..., :h, :w].shape)
        return swapped


class TiedMaximaPool(nn.Module):
    """A 2×2 max pool whose backward sends dL/dy to every entry equal to its window's maximum
    (``window == window.max()``), where torch sends it to the first of them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(x, 2)
        inside = x[..., :2 * y.shape[-2], :2 * y.shape[-1]]  # an odd last row or column is in no window
        tied = (inside == y.repeat_interleave(2, -2).repeat_interleave(2, -1)).detach()
        sent = F.avg_pool2d(inside * tied, 2) * 4  # d/dx of each entry: dL/dy where it equals the maximum
        return y.detach() + (sent - sent.detach())


POOL_MISTAKES = (  # (cause, the pool module, what it does)
    ("pool_gradient", lambda: SpreadPool(0.25), "hands dL/dy / 4 to each entry of its window (average pooling's "
                                                "gradient)"),
    ("pool_gradient", lambda: SpreadPool(1.0), "hands dL/dy to each entry of its window"),
    ("pool_argmax_swapped", SwappedArgmaxPool, "sends dL/dy to its argmax with row and column swapped: the entry at "
                                               "(r, c) of the window sends it to (c, r)"),
    ("pool_ties", TiedMaximaPool, "sends dL/dy to every entry equal to its window's maximum, not to the first one"),
)


# -- the convolution's backward: a module planted in place of conv1, conv2, ... -------------------------

def _conv_backward_hypotheses(architecture: Architecture, model: nn.Sequential, fits) -> list[Hypothesis]:
    """col2im overwriting, in each layer but the first (whose dL/dx nothing uses) and in all of
    them; dW rotated, in each layer and in all of them."""
    found, names = [], architecture.conv_names()
    for (last, words), layers in itertools.product(OVERWRITES.items(), _layer_sets(names[1:])):
        if fits({name: OverwritingConv(getattr(model, name), last) for name in layers}):
            found.append(Hypothesis("col2im_overwrites", layers[-1], f"the col2im of {_which(layers)} {words}"))
    for layers in _layer_sets(names):
        if fits({name: RotatedGradientConv(getattr(model, name)) for name in layers}):
            found.append(Hypothesis("rotated_dw", layers[-1],
                                    f"the weight gradient of {_which(layers)} is rotated 180° (dw[:, :, ::-1, ::-1])"))
    return found


OVERWRITES = {"window": "writes each window's gradient over the input's (the last window wins) instead of adding",
              "tap": "writes each kernel tap's gradient over the input's (the last tap wins) instead of adding; "
                     "x[:, k, i, j] += cols with repeated indices does that (np.add.at adds)"}


class OverwritingConv(nn.Module):
    """``conv`` (its weight and bias shared), whose input gradient is col2im's with ``=`` for ``+=``."""

    def __init__(self, conv: nn.Conv2d, last: str) -> None:
        super().__init__()
        self.weight, self.bias, self.padding, self.last = conv.weight, conv.bias, conv.padding[0], last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Overwriting.apply(x, self.weight, self.bias, self.padding, self.last)


class _Overwriting(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, weight, bias, padding: int, last: str):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.last, ctx.has_bias = padding, last, bias is not None
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx: Any, dy):
        x, weight = ctx.saved_tensors
        p = ctx.padding
        dw = torch.nn.grad.conv2d_weight(x, weight.shape, dy, padding=p)
        db = dy.sum(dim=(0, 2, 3)) if ctx.has_bias else None
        return _overwritten_dx(dy, weight, x.shape, p, ctx.last), dw, db, None, None


def _overwritten_dx(dy: torch.Tensor, w: torch.Tensor, x_shape, p: int, last: str) -> torch.Tensor:
    """col2im with assignment: each padded pixel (r, s) keeps the one contribution written last,
    dL/dy at the output (i, j) through the tap (k, l) = (r − i, s − j): the last window covering
    it (the largest i, j) or the last tap (the largest k, l)."""
    K, (H_out, W_out) = w.shape[-1], dy.shape[-2:]
    H, W = x_shape[-2] + 2 * p, x_shape[-1] + 2 * p

    def index(size: int, outputs: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = torch.arange(size)
        i = torch.clamp(r, max=outputs - 1) if last == "window" else r - torch.clamp(r, max=K - 1)
        return i, r - i  # the output row and the kernel row of the contribution that stays

    (i, k), (j, l) = index(H, H_out), index(W, W_out)
    dy_at = dy[:, :, i][:, :, :, j]  # (n, F, H, W): dL/dy at each pixel's output position
    w_at = w[:, :, k][:, :, :, l]  # (F, C, H, W): the tap at each pixel
    dx = torch.einsum("nfrs,fcrs->ncrs", dy_at, w_at)
    return dx[:, :, p:H - p, p:W - p]


class RotatedGradientConv(nn.Module):
    """``conv`` (its weight and bias shared), whose weight gradient is rotated 180°: dL/dW[f, c, K−1−k, K−1−l]
    where dL/dW[f, c, k, l] belongs. Its input gradient and bias gradient are torch's."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.weight, self.bias, self.padding = conv.weight, conv.bias, conv.padding[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _RotatedGradient.apply(x, self.weight, self.bias, self.padding)


class _RotatedGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, weight, bias, padding: int):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.has_bias = padding, bias is not None
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx: Any, dy):
        x, weight = ctx.saved_tensors
        p = ctx.padding
        dx = torch.nn.grad.conv2d_input(x.shape, weight, dy, padding=p)
        dw = torch.nn.grad.conv2d_weight(x, weight.shape, dy, padding=p).flip(-2, -1)
        db = dy.sum(dim=(0, 2, 3)) if ctx.has_bias else None
        return dx, dw, db, None
