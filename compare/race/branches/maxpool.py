"""A max pool's branch: each window sends its gradient to its largest value, so a tie of its two
largest values is where it turns."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from common.layers.maxpool import MaxPool
from compare.race.branches import BranchKind, Measured


def max_pool(module: nn.MaxPool2d, a: np.ndarray, b: np.ndarray) -> Measured:
    """A max-pool window's branch is a tie of its two largest values: its margin is their difference;
    it flips where the two runs' largest value is at different places (torch's first maximum)."""
    k, s = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)

    def windows(x: np.ndarray) -> np.ndarray:  # (n, C, H_out, W_out, k·k), row-major in each window
        view = sliding_window_view(x, k, axis=(-2, -1))[..., ::s[0], ::s[1], :, :]
        return view.reshape(view.shape[:-2] + (-1,))

    wa, wb = windows(a), windows(b)
    top_a, top_b = np.sort(wa, axis=-1), np.sort(wb, axis=-1)
    gap_a, gap_b = top_a[..., -1] - top_a[..., -2], top_b[..., -1] - top_b[..., -2]
    margin = np.where((gap_a == 0.0) & (gap_b == 0.0), np.inf, gap_a)
    scale = np.abs(a).reshape(len(a), -1).max(axis=1).reshape((-1,) + (1,) * (margin.ndim - 1))

    def words(i: tuple[int, ...]) -> str:
        channel, row, column = i[-3:]
        r, c = row * s[0], column * s[1]
        return f"window at channel {channel}, rows {r}-{r + k[0] - 1}, columns {c}-{c + k[1] - 1}, its two largest values"

    def values(i: tuple[int, ...]) -> str:
        return f"{top_a[i][-1]:.7g} and {top_a[i][-2]:.7g}"

    return Measured(margin, np.abs(wa - wb).max(axis=-1), np.broadcast_to(scale, margin.shape),
                    wa.argmax(axis=-1) != wb.argmax(axis=-1), words, values)


def flip_max_pool(module: nn.MaxPool2d, x: torch.Tensor, out: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The pool's output with the windows at ``where`` taking their second largest value, so that the
    gradient goes there: it differs from the largest by the window's margin."""
    k, s = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
    windows = x.unfold(-2, k[0], s[0]).unfold(-2, k[1], s[1])  # (n, C, H_out, W_out, k, k)
    windows = windows.reshape(windows.shape[:-2] + (-1,))
    second = torch.gather(windows, -1, windows.argsort(dim=-1, stable=True)[..., -2:-1]).squeeze(-1)
    return torch.where(where, second, out)


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def branch(spec: MaxPool) -> BranchKind:
    return BranchKind("max pool", max_pool, flip_max_pool)
