"""The classic mistakes of a convolution layer written by hand, each planted in torch's ``nn.Conv2d``.

==================  ==========================================================================
mistake             what is planted, and the numbers that must be its
==================  ==========================================================================
flipped_kernel      a true convolution, the kernel flipped (``w[:, :, ::-1, ::-1]``), where
                    ``nn.Conv2d`` cross-correlates: the outputs
padding_mismatch    another padding of the same size: all of it after the image (or before
                    it), or the edge's pixels repeated or reflected instead of zeros: the outputs
col2im_overwrites   col2im writing each window's gradient over the input's instead of adding
                    it (the last window, or the last kernel tap, wins): the gradients
rotated_dw          the convolution's weight gradient rotated 180° (``dw[:, :, ::-1, ::-1]``), the
                    rotation that belongs in dL/dx: the gradients
==================  ==========================================================================

A convolution alone (:class:`ConvCheck`, in ``CHECKS``) is checked for these, with any stride and
kernel, and for two mistakes only some configurations show: ``dx_pad_slice_empty_at_pad0`` (the
padding cut off dx as ``[pad:-pad]``, empty at pad 0) and ``non_square_loop`` (the columns' loop
bounded by the output's height).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import numpy as np

from common.layers.conv import Conv
from compare.check.mistakes import GRADIENTS, OUTPUTS, Planted
from compare.check.one_layer import (FORWARD, Case, Configuration, LayerCheck, Mistake, Raised, autograd, drawn,
                                     mnist_maps, parameter, raised_everywhere)

PADDINGS = {"after": "puts all of its 2P zeros after the image (below it and to its right), none before it",
            "before": "puts all of its 2P zeros before the image (above it and to its left), none after it",
            "replicate": "pads with the image's edge pixels repeated (np.pad's mode 'edge'), not with zeros",
            "reflect": "pads with the image reflected at its edge (np.pad's mode 'reflect'), not with zeros"}
OVERWRITES = {"window": "writes each window's gradient over the input's (the last window wins) instead of adding",
              "tap": "writes each kernel tap's gradient over the input's (the last tap wins) instead of adding; "
                     "x[:, k, i, j] += cols with repeated indices does that (np.add.at adds)"}


def mistakes(spec: Conv) -> list[Planted]:
    found = [Planted("flipped_kernel", OUTPUTS, lambda module, spec: FlippedConv(module), (
        "A true convolution where torch cross-correlates: the outputs equal autograd's with the kernel of {where} "
        "flipped (w[:, :, ::-1, ::-1]). nn.Conv2d computes y[i, j] = Σ w[k, l] x[i + k, j + l], the kernel as it "
        "lies, as im2col's columns do; a convolution, x[i − k, j − l], flips it (scipy.signal's convolve2d flips, "
        "correlate2d does not). Drop the flip."))]
    if spec.padding:
        found += [Planted("padding_mismatch", OUTPUTS, lambda module, spec, kind=kind: _padded(module, kind), (
            f"A padding of the right size but another kind: the outputs equal autograd's where {{where}} {words}. "
            "nn.Conv2d(padding=P) adds P zeros on every side: np.pad(x, ((0, 0), (0, 0), (P, P), (P, P))), and its "
            "backward cuts the same P off each side of dL/dx_padded.")) for kind, words in PADDINGS.items()]
    found += [Planted("col2im_overwrites", GRADIENTS, lambda module, spec, last=last: MistakenGradientConv(module, last), (
        f"col2im overwrites where it must add: the outputs agree and every gradient equals autograd's where the "
        f"col2im of {{where}} {words}. An input pixel lies in up to K·K windows, so im2col copies it into up to K·K "
        "columns and its gradient is the sum over all of them: dx_pad[:, :, i:i+K, j:j+K] += ..., or np.add.at for "
        "indices that repeat."), dx_only=True) for last, words in OVERWRITES.items()]
    found.append(Planted("rotated_dw", GRADIENTS, lambda module, spec: MistakenGradientConv(module, "rotated"), (
        "The convolution's weight gradient is rotated 180°: the outputs agree and every gradient equals autograd's "
        "where the weight gradient of {where} is rotated 180° (dw[:, :, ::-1, ::-1]). dL/dW[f, c, k, l] = "
        "Σ dL/dy[n, f, i, j] · x[n, c, i + k, j + l], each input window as it lies, as the forward pass reads it; "
        "the rotation belongs in dL/dx, the full convolution of dL/dy with the kernel rotated 180°. Drop it from dW.")))
    return found


class FlippedConv(nn.Module):
    """``conv`` (its weight and bias shared) computing a true convolution: the kernel flipped."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.weight, self.bias, self.padding, self.stride = conv.weight, conv.bias, conv.padding, conv.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight.flip(-2, -1), self.bias, stride=self.stride, padding=self.padding)


def _padded(conv: nn.Conv2d, kind: str) -> nn.Module:
    """``conv`` (sharing its weight and bias) after a padding of the same size but another kind."""
    p = conv.padding[0]
    unpadded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=0,
                         bias=conv.bias is not None)
    unpadded.weight, unpadded.bias = conv.weight, conv.bias
    pad = {"after": nn.ZeroPad2d((0, 2 * p, 0, 2 * p)), "before": nn.ZeroPad2d((2 * p, 0, 2 * p, 0)),
           "replicate": nn.ReplicationPad2d(p), "reflect": nn.ReflectionPad2d(p)}[kind]
    return nn.Sequential(pad, unpadded)


class MistakenGradientConv(nn.Module):
    """``conv`` (its weight and bias shared) whose backward pass has one mistake: ``mistake`` "window" or
    "tap", the input gradient col2im's with ``=`` for ``+=`` (the last window, or the last tap, written
    last); "rotated", the weight gradient rotated 180° (dL/dW[f, c, K−1−k, K−1−l] where dL/dW[f, c, k, l]
    belongs). The other gradients are torch's."""

    def __init__(self, conv: nn.Conv2d, mistake: str) -> None:
        super().__init__()
        self.weight, self.bias, self.mistake = conv.weight, conv.bias, mistake
        self.padding, self.stride = conv.padding[0], conv.stride[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MistakenGradient.apply(x, self.weight, self.bias, self.padding, self.stride, self.mistake)


class _MistakenGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, weight, bias, padding: int, stride: int, mistake: str):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.stride, ctx.mistake, ctx.has_bias = padding, stride, mistake, bias is not None
        return F.conv2d(x, weight, bias, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx: Any, dy):
        x, weight = ctx.saved_tensors
        p, stride = ctx.padding, ctx.stride
        dw = torch.nn.grad.conv2d_weight(x, weight.shape, dy, stride=stride, padding=p)
        if ctx.mistake == "rotated":
            dx, dw = torch.nn.grad.conv2d_input(x.shape, weight, dy, stride=stride, padding=p), dw.flip(-2, -1)
        else:
            dx = _overwritten_dx(dy, weight, x.shape, p, ctx.mistake, stride)
        db = dy.sum(dim=(0, 2, 3)) if ctx.has_bias else None
        return dx, dw, db, None, None, None


def _overwritten_dx(dy: torch.Tensor, w: torch.Tensor, x_shape, p: int, last: str, stride: int = 1) -> torch.Tensor:
    """col2im with assignment: each padded pixel (r, s) keeps the one contribution written last,
    dL/dy at the output (i, j) through the tap (k, l) = (r − stride·i, s − stride·j): the last window
    covering it (the largest i, j) or the last tap (the largest k, l); 0 where no window covers it."""
    (H_out, W_out) = dy.shape[-2:]
    H, W = x_shape[-2] + 2 * p, x_shape[-1] + 2 * p

    def index(size: int, outputs: int, K: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = torch.arange(size)
        if last == "window":
            i = torch.clamp(r // stride, max=outputs - 1)
        else:  # the largest tap k is the earliest window i that still covers r
            i = torch.clamp(-((K - 1 - r) // stride), min=0)
        k = r - stride * i
        covered = (k >= 0) & (k < K) & (i < outputs)
        return i.clamp(max=outputs - 1), k.clamp(0, K - 1), covered

    (i, k, rows), (j, l, columns) = index(H, H_out, w.shape[-2]), index(W, W_out, w.shape[-1])
    dy_at = dy[:, :, i][:, :, :, j]  # (n, F, H, W): dL/dy at each pixel's output position
    w_at = w[:, :, k][:, :, :, l]  # (F, C, H, W): the tap at each pixel
    dx = torch.einsum("nfrs,fcrs->ncrs", dy_at, w_at) * (rows[:, None] & columns[None, :])
    return dx[:, :, p:H - p, p:W - p]


# -- check_layer: a convolution alone ---------------------------------------------------------------

def conv_out(size: int, kernel: int, pad: int, stride: int) -> int:
    """An output side: 1 + (size + 2 pad − kernel) // stride, as cs231n's handout and torch compute it."""
    return 1 + (size + 2 * pad - kernel) // stride


class ConvCheck(LayerCheck):
    """cs231n's ``conv_forward_naive(x, w, b, conv_param) -> (out, cache)`` and ``conv_backward_naive(dout,
    cache) -> (dx, dw, db)``, ``conv_param = {'stride', 'pad'}``; w ``(F, C, HH, WW)`` as ``nn.Conv2d.weight``.
    Each configuration is chosen for a mistake that hides elsewhere: pad 0 (a ``[pad:-pad]`` that is
    empty there), pad 2, a stride of 2, a non-square kernel, maps wider than tall and taller than wide
    (a loop bounded by the other side)."""

    kind, param, parameters = "conv", "conv_param", ("w", "b")
    keys = ("out", "dx", "dw", "db")
    pair_words = ("conv_forward(x, w, b, conv_param) -> (out, cache); conv_backward(dout, cache) -> (dx, dw, db), "
                  "conv_param = {'stride': S, 'pad': P}")
    reference_words = "torch.nn.functional.conv2d with stride and padding"

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        if given is not None:
            return [Configuration(f"conv_param {given}, 3×3 kernel, maps 2×2×8×8",
                                  {"x": (2, 2, 8, 8), "w": (3, 2, 3, 3), "param": given})]
        return [Configuration(f"pad {p}, stride {s}, {w[2]}×{w[3]} kernel, maps {'×'.join(map(str, x))}{why}",
                              {"x": x, "w": w, "param": {"stride": s, "pad": p}})
                for p, s, x, w, why in ((0, 1, (2, 2, 8, 8), (3, 2, 3, 3), ""),
                                        (2, 1, (2, 1, 9, 9), (3, 1, 5, 5), ""),
                                        (1, 2, (2, 2, 7, 10), (3, 2, 3, 3), " (H < W)"),
                                        (1, 1, (2, 2, 9, 6), (3, 2, 3, 2), " (H > W)"))]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng, setting = np.random.default_rng(index), configuration.setting
        (n, c, h, w), (f, _, hh, ww) = setting["x"], setting["w"]
        param = dict(setting["param"])
        stride, pad = param.get("stride", 1), param.get("pad", 0)
        out = (n, f, conv_out(h, hh, pad, stride), conv_out(w, ww, pad, stride))
        return Case(configuration, dtype, {"x": mnist_maps(setting["x"], 16 * index, dtype),
                                           "w": drawn(rng, setting["w"], dtype, (c * hh * ww) ** -0.5),
                                           "b": drawn(rng, (f,), dtype, 0.1), "dout": drawn(rng, out, dtype)}, param)

    def _conv(self, case: Case) -> tuple[nn.Conv2d, dict[str, Any]]:
        f, c, hh, ww = case.values["w"].shape
        conv = nn.Conv2d(c, f, (hh, ww), stride=case.param.get("stride", 1), padding=case.param.get("pad", 0)).double()
        conv.weight, conv.bias = parameter(case.values["w"]), parameter(case.values["b"])
        return conv, {"w": conv.weight, "b": conv.bias}

    def numbers(self, plant: Any, case: Case) -> dict[str, Any]:
        """autograd's numbers through torch's convolution for ``case``, ``plant``ed (None: as it is)."""
        conv, parameters = self._conv(case)
        module = conv if plant is None else plant(conv)
        return autograd(module, case.values["x"], case.values["dout"], parameters, self.keys)

    def reference(self, case: Case, reading: Any) -> dict[str, Any]:
        return self.numbers(None, case)

    def mistakes(self) -> list[Mistake]:
        def empty_at_pad0(case: Case, reading: Any) -> dict[str, Any]:
            found = self.reference(case, reading)
            if case.param.get("pad", 0) == 0:  # x_pad[:, :, 0:-0, 0:-0] is empty
                found["dx"] = found["dx"][:, :, :0, :0]
            return found

        def columns_from_height(case: Case, reading: Any) -> dict[str, Any]:
            found = self.reference(case, reading)
            rows, columns = found["out"].shape[-2:]
            if rows > columns:  # the column loop runs past the output's width
                return raised_everywhere(self.keys, Raised(FORWARD, "IndexError: the column loop runs past W'"))
            found["out"][..., rows:] = 0.0
            return found

        network = mistakes(Conv((1, 8, 8), channels=1, kernel=3, padding=1, bias=True))
        return [*self.from_catalogue(network),
                Mistake("dx_pad_slice_empty_at_pad0", (
                    "The padding is cut off dx as dx_pad[:, :, pad:-pad, pad:-pad], which is empty at pad 0: "
                    "{where} returns dx of shape (N, C, 0, 0) there, and the right dx at every other pad. -0 is 0, so "
                    "the slice runs from 0 to 0; cut it as dx_pad[:, :, pad:pad + H, pad:pad + W]."), empty_at_pad0),
                Mistake("non_square_loop", (
                    "The loop over the output's columns is bounded by its height: {where} leaves the columns past "
                    "H' at 0 where the maps are wider than tall, and runs past W' (and raises) where they are "
                    "taller. H' = 1 + (H + 2·pad − HH) // stride and W' = 1 + (W + 2·pad − WW) // stride: "
                    "loop j over range(W_out)."), columns_from_height, forward_only=True)]


CHECKS = {"conv": ConvCheck()}
