"""Every layer kind as the ``nn.Module`` a torch user would write for it, one builder each.

``torch_impl.layers.<module>.build(spec, context)`` returns the module for one layer of
:mod:`common.layers`, found by the spec's kind (:meth:`common.layers.Layer.implementation`), so
that :func:`torch_impl.model.make_model` is a loop over the architecture's layers. Each is torch's
own module (``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm1d``, ...) wherever torch has one.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from torch import nn

from common.layers import Layer as Spec


@dataclass
class Context:
    """What the modules of one network share: ``step`` (``train()`` calls taken) and ``seed`` (the
    network's ``layer_seed``), which a layer that draws random numbers reads at each pass."""

    step: int = 0
    seed: int = 0


def build(spec: Spec, context: Context, index: int | None = None) -> nn.Module:
    """``spec``'s module: ``torch_impl.layers.<module>.build(spec, context, index)``; ``index`` is the
    layer's among the network's drawing layers (:meth:`common.architecture.Architecture.draw_indices`)."""
    return importlib.import_module(f"{__name__}.{spec.implementation()}").build(spec, context, index)
