"""Batch normalization: ``nn.BatchNorm1d`` after a dense layer, ``nn.BatchNorm2d`` after a convolution,
with torch's momentum 0.1 and eps 1e-5; their ``weight`` and ``bias`` are γ and β, and
``running_mean`` and ``running_var`` the buffers."""
from __future__ import annotations

from torch import nn

from common.layers.batchnorm import BatchNorm


def build(spec: BatchNorm, context, index=None) -> nn.Module:
    kind = nn.BatchNorm2d if len(spec.inputs) == 3 else nn.BatchNorm1d
    return kind(spec.inputs[0], eps=spec.eps, momentum=spec.momentum)
