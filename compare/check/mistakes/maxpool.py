"""The classic mistakes of a 2×2 max pool written by hand, each planted in torch's pool.

==================  ==========================================================================
mistake             what is planted, and the numbers that must be its
==================  ==========================================================================
pool_gradient       the max pool's gradient spread over its window (dL/dy / 4 to each entry,
                    average pooling's; or dL/dy to each) instead of sent to the argmax: the
                    gradients, the outputs agreeing
==================  ==========================================================================
"""
from __future__ import annotations

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


def mistakes(spec: MaxPool) -> list[Planted]:
    return [Planted("pool_gradient", GRADIENTS, lambda module, spec, share=share: SpreadPool(share),
                    f"The max pool's gradient is spread over its window: the outputs agree and every gradient equals "
                    f"autograd's where {{where}} {words}. The maximum depends on one entry of its window only, so "
                    "dL/dy goes to the argmax alone (torch: the first maximum in row-major order where several tie), "
                    "0 to the other three; spreading it is average pooling's gradient.")
            for share, words in SPREADS.items()]
