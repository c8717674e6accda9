"""The classic mistakes of a 2×2 max pool written by hand, each planted in torch's pool.

==================  ==========================================================================
mistake             what is planted, and the numbers that must be its
==================  ==========================================================================
pool_gradient       the max pool's gradient spread over its window (dL/dy / 4 to each entry,
                    average pooling's; or dL/dy to each) instead of sent to the argmax: the
                    gradients, the outputs agreeing
pool_argmax_swapped the max pool's gradient sent to its argmax with row and column swapped
                    (``2*i + k % 2, 2*j + k // 2`` for k = np.argmax(window)): the gradients
pool_ties           the max pool's gradient sent to every entry equal to its window's maximum
                    (``window == window.max()``), where torch sends it to the first: the gradients
==================  ==========================================================================
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.layers.maxpool import MaxPool
from compare.check.mistakes import GRADIENTS, Planted

SPREADS = {0.25: "hands dL/dy / 4 to each entry of its window (average pooling's gradient)",
           1.0: "hands dL/dy to each entry of its window"}


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


def mistakes(spec: MaxPool) -> list[Planted]:
    spread = [Planted("pool_gradient", GRADIENTS, lambda module, spec, share=share: SpreadPool(share),
                      f"The max pool's gradient is spread over its window: the outputs agree and every gradient "
                      f"equals autograd's where {{where}} {words}. The maximum depends on one entry of its window "
                      "only, so dL/dy goes to the argmax alone (torch: the first maximum in row-major order where "
                      "several tie), 0 to the other three; spreading it is average pooling's gradient.")
              for share, words in SPREADS.items()]
    return spread + [
        Planted("pool_argmax_swapped", GRADIENTS, lambda module, spec: SwappedArgmaxPool(), (
            "The max pool sends its gradient to the wrong entry: the outputs agree and every gradient equals "
            "autograd's where {where} sends dL/dy to its argmax with row and column swapped: the entry at (r, c) of "
            "the window sends it to (c, r). np.argmax of a 2×2 window gives k = 2r + c, its place in row-major "
            "order, so the maximum lies at row k // 2 and column k % 2: dx[n, ch, 2*i + k // 2, 2*j + k % 2] += "
            "dout[n, ch, i, j] (np.unravel_index(k, (2, 2)) gives the pair), not 2*i + k % 2, 2*j + k // 2.")),
        Planted("pool_ties", GRADIENTS, lambda module, spec: TiedMaximaPool(), (
            "The max pool sends its gradient to every tied maximum: the outputs agree and every gradient equals "
            "autograd's where {where} sends dL/dy to every entry equal to its window's maximum, not to the first "
            "one. The mask window == window.max() is 1 at each entry equal to the maximum, and on MNIST's blank "
            "background a convolution gives the same value in every window, so many windows tie; the maximum is "
            "one entry's value, so dL/dy goes to one of them, torch's to the first in row-major order: "
            "k = np.argmax(window), then dx at np.unravel_index(k, (2, 2))."))]
