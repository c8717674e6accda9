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
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.layers.conv import Conv
from compare.check.mistakes import GRADIENTS, OUTPUTS, Planted

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
    found += [Planted("col2im_overwrites", GRADIENTS, lambda module, spec, last=last: OverwritingConv(module, last), (
        f"col2im overwrites where it must add: the outputs agree and every gradient equals autograd's where the "
        f"col2im of {{where}} {words}. An input pixel lies in up to K·K windows, so im2col copies it into up to K·K "
        "columns and its gradient is the sum over all of them: dx_pad[:, :, i:i+K, j:j+K] += ..., or np.add.at for "
        "indices that repeat."), dx_only=True) for last, words in OVERWRITES.items()]
    found.append(Planted("rotated_dw", GRADIENTS, lambda module, spec: RotatedGradientConv(module), (
        "The convolution's weight gradient is rotated 180°: the outputs agree and every gradient equals autograd's "
        "where the weight gradient of {where} is rotated 180° (dw[:, :, ::-1, ::-1]). dL/dW[f, c, k, l] = "
        "Σ dL/dy[n, f, i, j] · x[n, c, i + k, j + l], each input window as it lies, as the forward pass reads it; "
        "the rotation belongs in dL/dx, the full convolution of dL/dy with the kernel rotated 180°. Drop it from dW.")))
    return found


class FlippedConv(nn.Module):
    """``conv`` (its weight and bias shared) computing a true convolution: the kernel flipped."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.weight, self.bias, self.padding = conv.weight, conv.bias, conv.padding[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight.flip(-2, -1), self.bias, padding=self.padding)


def _padded(conv: nn.Conv2d, kind: str) -> nn.Module:
    """``conv`` (sharing its weight and bias) after a padding of the same size but another kind."""
    p = conv.padding[0]
    unpadded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=0, bias=conv.bias is not None)
    unpadded.weight, unpadded.bias = conv.weight, conv.bias
    pad = {"after": nn.ZeroPad2d((0, 2 * p, 0, 2 * p)), "before": nn.ZeroPad2d((2 * p, 0, 2 * p, 0)),
           "replicate": nn.ReplicationPad2d(p), "reflect": nn.ReflectionPad2d(p)}[kind]
    return nn.Sequential(pad, unpadded)


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
