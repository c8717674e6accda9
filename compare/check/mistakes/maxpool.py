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

A max pool alone (:class:`MaxPoolCheck`, in ``CHECKS``) is checked for these with any window and
stride, and for two mistakes that need windows a network's 2×2 pool does not have:
``pool_overwrites_overlap`` (``=`` where ``+=`` belongs, which overlapping windows show) and
``pool_width_from_height`` (W' computed with pool_height, which a non-square window shows).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import numpy as np

from common.layers.maxpool import MaxPool
from compare.check.mistakes import GRADIENTS, Planted
from compare.check.one_layer import Case, Configuration, LayerCheck, Mistake, autograd, drawn, mnist_maps

SPREADS = {0.25: "hands dL/dy / 4 to each entry of its window (average pooling's gradient)",
           1.0: "hands dL/dy to each entry of its window"}


def _window(kernel: int | tuple[int, int], stride: int | None) -> tuple[tuple[int, int], int]:
    """``(pool_height, pool_width)`` and the stride (the window's height where None, torch's default)."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    return kernel, kernel[0] if stride is None else stride


class SpreadPool(nn.Module):
    """A max pool forward whose backward spreads dL/dy over the window, ``share`` of it to each entry
    (2×2 windows, stride 2, unless told otherwise; windows that overlap add their shares)."""

    def __init__(self, share: float, kernel: int | tuple[int, int] = 2, stride: int | None = None) -> None:
        super().__init__()
        self.share = share
        self.kernel, self.stride = _window(kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        area = self.kernel[0] * self.kernel[1]
        spread = F.avg_pool2d(x, self.kernel, self.stride) * (area * self.share)  # d/dx of each entry: share · dL/dy
        return F.max_pool2d(x, self.kernel, self.stride).detach() + spread - spread.detach()


class SwappedArgmaxPool(nn.Module):
    """A max pool whose backward sends dL/dy to its window's argmax with row and column swapped:
    the entry at (r, c) of the window, k = r · pool_width + c in row-major order, sends it to (c, r), as
    ``dx[i*S + k % pool_width, j*S + k // pool_width]`` does (2×2 windows, stride 2, unless told
    otherwise). Ties go to the first maximum, as torch's and np.argmax's; an entry that falls outside
    the map raises, as NumPy's indexing does."""

    def __init__(self, kernel: int | tuple[int, int] = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel, self.stride = _window(kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SwappedArgmax.apply(x, self.kernel, self.stride)


def _argmax_places(x: torch.Tensor, kernel: tuple[int, int], stride: int) -> tuple[torch.Tensor, ...]:
    """The max pool's output y, each window's top row and left column in the map, and the row and column
    of each window's argmax within it."""
    y, argmax = F.max_pool2d(x, kernel, stride, return_indices=True)
    width = x.shape[-1]
    rows, columns = argmax // width, argmax % width
    top = (torch.arange(y.shape[-2]) * stride)[:, None]
    left = (torch.arange(y.shape[-1]) * stride)[None, :]
    return y, top, left, rows - top, columns - left


class _SwappedArgmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, kernel, stride):
        y, top, left, r, c = _argmax_places(x, kernel, stride)
        ctx.save_for_backward(top + c, left + r)  # (c, r) of the window
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, dy):
        row, column = ctx.saved_tensors
        (height, width) = ctx.x_shape[-2:]
        if bool((row >= height).any() or (column >= width).any()):
            raise IndexError("the swapped argmax lies outside the map")
        dx = torch.zeros(ctx.x_shape[:2] + (height * width,), dtype=dy.dtype)
        return dx.scatter_add_(2, (row * width + column).flatten(2), dy.flatten(2)).reshape(ctx.x_shape), None, None


class TiedMaximaPool(nn.Module):
    """A max pool whose backward sends dL/dy to every entry equal to its window's maximum
    (``window == window.max()``), where torch sends it to the first of them (2×2 windows, stride 2,
    unless told otherwise; windows that overlap add)."""

    def __init__(self, kernel: int | tuple[int, int] = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel, self.stride = _window(kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(x, self.kernel, self.stride)
        n, channels = x.shape[:2]
        windows = F.unfold(x, self.kernel, stride=self.stride).reshape(n, channels, -1, y.shape[-2] * y.shape[-1])
        tied = (windows == y.flatten(2)[:, :, None, :]).detach()
        sent = (windows * tied).sum(2).reshape(y.shape)  # d/dx of each entry: dL/dy where it equals the maximum
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


# -- check_layer: a max pool alone ------------------------------------------------------------------

class OverwritingPool(nn.Module):
    """A max pool whose backward writes each window's dL/dy to its argmax with ``=`` for ``+=``: an entry
    that is the maximum of several overlapping windows keeps the last window's (row-major order)."""

    def __init__(self, kernel: tuple[int, int], stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _OverwritingPool.apply(x, self.kernel, self.stride)


class _OverwritingPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, kernel, stride):
        y, argmax = F.max_pool2d(x, kernel, stride, return_indices=True)
        ctx.save_for_backward(argmax)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, dy):
        (argmax,) = ctx.saved_tensors
        flat, windows = argmax.flatten(2), dy.shape[-2] * dy.shape[-1]
        order = torch.arange(windows).expand_as(flat)
        size = ctx.x_shape[-2] * ctx.x_shape[-1]
        last = torch.full(ctx.x_shape[:2] + (size,), -1, dtype=torch.int64).scatter_reduce(2, flat, order, "amax")
        kept = torch.gather(dy.flatten(2), 2, last.clamp(min=0))  # the last window's dL/dy at each entry
        return torch.where(last >= 0, kept, torch.zeros_like(kept)).reshape(ctx.x_shape), None, None


class NarrowedPool(nn.Module):
    """A max pool whose output's width is computed with pool_height: W' = 1 + (W − pool_height) // stride
    windows across, each pool_width wide and cut short by the map; one that starts past it raises."""

    def __init__(self, kernel: tuple[int, int], stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (height, width), stride = self.kernel, self.stride
        columns = 1 + (x.shape[-1] - height) // stride
        if (columns - 1) * stride >= x.shape[-1]:
            raise ValueError("zero-size array to reduction operation maximum which has no identity")
        beyond = max(0, (columns - 1) * stride + width - x.shape[-1])
        padded = F.pad(x, (0, beyond), value=float("-inf"))  # a window cut short by the map
        return F.max_pool2d(padded, self.kernel, stride)[..., :columns]


class MaxPoolCheck(LayerCheck):
    """cs231n's ``max_pool_forward_naive(x, pool_param) -> (out, cache)`` and ``max_pool_backward_naive(dout,
    cache) -> dx``, ``pool_param = {'pool_height', 'pool_width', 'stride'}``, at 2×2 windows of stride 2
    (ties on MNIST's blank background), overlapping 3×3 windows of stride 2, and 3×2 windows."""

    kind, param = "maxpool", "pool_param"
    pair_words = ("max_pool_forward(x, pool_param) -> (out, cache); max_pool_backward(dout, cache) -> dx, pool_param "
                  "= {'pool_height': PH, 'pool_width': PW, 'stride': S}")
    reference_words = "torch.nn.functional.max_pool2d with (pool_height, pool_width) and stride"

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        if given is not None:
            return [Configuration(f"pool_param {given}, maps 2×2×9×9", {"x": (2, 2, 9, 9), "param": given})]
        return [Configuration(f"{h}×{w} windows, stride {s}{why}, maps {'×'.join(map(str, x))}",
                              {"x": x, "param": {"pool_height": h, "pool_width": w, "stride": s}})
                for h, w, s, x, why in ((2, 2, 2, (2, 2, 8, 8), ""), (3, 3, 2, (2, 2, 9, 9), " (overlapping)"),
                                        (3, 2, 2, (2, 2, 7, 8), ""))]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng, param = np.random.default_rng(index), dict(configuration.setting["param"])
        x = mnist_maps(configuration.setting["x"], 16 * index, dtype)
        out = F.max_pool2d(torch.tensor(np.asarray(x, np.float64)), *_kernel(param)).shape
        return Case(configuration, dtype, {"x": x, "dout": drawn(rng, tuple(out), dtype)}, param)

    def numbers(self, module: nn.Module, case: Case) -> dict[str, Any]:
        return autograd(module, case.values["x"], case.values["dout"], {}, self.keys)

    def reference(self, case: Case, reading: Any) -> dict[str, Any]:
        return self.numbers(nn.MaxPool2d(*_kernel(case.param)), case)

    def mistakes(self) -> list[Mistake]:
        def planted(make: Any) -> Any:
            return lambda case, reading: self.numbers(make(*_kernel(case.param)), case)

        return [
            *(Mistake("pool_gradient", (
                f"The max pool's gradient is spread over its window: the outputs agree and dx equals autograd's "
                f"where {{where}} {words}. The maximum depends on one entry of its window only, so dL/dy goes to "
                "the argmax alone (torch: the first maximum in row-major order where several tie), 0 to the "
                "others; spreading it is average pooling's gradient."),
                planted(lambda kernel, stride, share=share: SpreadPool(
                    1 / (kernel[0] * kernel[1]) if share == "area" else share, kernel, stride)))
              for share, words in (("area", "hands dL/dy / (pool_height · pool_width) to each entry of its window "
                                            "(average pooling's gradient)"),
                                   (1.0, "hands dL/dy to each entry of its window"))),
            Mistake("pool_argmax_swapped", (
                "The max pool sends its gradient to the wrong entry: the outputs agree and dx equals autograd's where "
                "{where} sends dL/dy to its argmax with row and column swapped (and raises where that falls off the "
                "map). np.argmax of a window gives k = r · pool_width + c, its place in row-major order, so the "
                "maximum lies at row k // pool_width and column k % pool_width (np.unravel_index(k, (pool_height, "
                "pool_width))), not at k % pool_width, k // pool_width."),
                planted(SwappedArgmaxPool)),
            Mistake("pool_ties", (
                "The max pool sends its gradient to every tied maximum: the outputs agree and dx equals autograd's "
                "where {where} sends dL/dy to every entry equal to its window's maximum, not to the first one. The "
                "mask window == window.max() is 1 at each, and on MNIST's blank background every window ties; "
                "the maximum is one entry's value, so dL/dy goes to one of them, torch's to the first in row-major "
                "order: k = np.argmax(window), then dx at np.unravel_index(k, window.shape)."),
                planted(TiedMaximaPool)),
            Mistake("pool_overwrites_overlap", (
                "The max pool's backward overwrites where it must add: the outputs agree and dx equals autograd's "
                "where {where} writes each window's dL/dy to its argmax with = (the last window wins). Where "
                "windows overlap (3×3, stride 2), one entry can be the maximum of several, and its gradient is "
                "the sum of theirs: dx[...] += dout[...]."), planted(OverwritingPool)),
            Mistake("pool_width_from_height", (
                "The output's width is computed with pool_height: where the window is not square, {where} returns "
                "W' = 1 + (W − pool_height) // stride columns. W' = 1 + (W − pool_width) // stride, as H' = 1 + "
                "(H − pool_height) // stride."), planted(NarrowedPool), forward_only=True),
        ]


def _kernel(param: dict[str, Any]) -> tuple[tuple[int, int], int]:
    """``(pool_height, pool_width)`` and the stride of a ``pool_param``."""
    return (param["pool_height"], param["pool_width"]), param["stride"]


CHECKS = {"maxpool": MaxPoolCheck()}
