"""The layer kinds, one module each: a spec of what the layer is, asked by everything else.

==============  =========================  ==========================================================
module          kinds                      what it is
==============  =========================  ==========================================================
dense           dense                      z = W a + b, W of shape (n_out, n_in) as ``nn.Linear``
conv            conv                       z = W * x + b, stride 1, zero padding, as ``nn.Conv2d``
maxpool         maxpool                    the largest entry of each 2×2 window, stride 2
activation      sigmoid, tanh, relu        the hidden layers' f, elementwise
flatten         flatten                    a map (C, H, W) as one row, in that order
batchnorm       batchnorm,                 each feature (or channel) normalized over the batch, then
                spatial_batchnorm          scaled by γ and shifted by β; running statistics kept
layernorm       layernorm                  each sample normalized over its features (or its whole map)
dropout         dropout                    each unit dropped with probability p in training
==============  =========================  ==========================================================

:data:`KINDS` maps each kind to its spec class and :data:`OPTIONS` each architecture keyword to
the kinds it adds; both are filled by importing every module of this package, so a new kind is a
new module here (and its pair, builder and catalogue in the other packages), and nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil

from common.layers.base import (AFTER_BLOCK, BEFORE_ACTIVATION, KINDS, OPTIONS, Buffer, Layer, Option, Parameter,
                                layer_rng)

for _module in pkgutil.iter_modules(__path__):  # each module defines its kinds, which register themselves
    importlib.import_module(f"{__name__}.{_module.name}")


def option_default(keyword: str) -> object:
    """The value of ``keyword`` that adds no layer: None for a choice (``norm``), 0.0 for a number."""
    return None if OPTIONS[keyword][0].option.choice is not None else 0.0


def option_kind(keyword: str, value: object) -> type[Layer] | None:
    """The kind ``keyword=value`` adds to every hidden block, or None; a bad value is one sentence."""
    from common.errors import ParameterError

    kinds = OPTIONS[keyword]
    if kinds[0].option.choice is None:  # a number the kind reads: dropout=p
        return None if kinds[0].option.check(value) is None else kinds[0]
    if value is None:
        return None
    for cls in kinds:
        if value == cls.option.choice:
            return cls
    choices = tuple(cls.option.choice for cls in kinds)
    raise ParameterError(f"The '{keyword}' parameter must be one of {choices} or None. Got {value!r} instead.")


def check_option(keyword: str, value: object) -> object:
    """``value`` as the architecture keeps it: a choice as given, a number as a float (0.0 for none)."""
    kinds = OPTIONS[keyword]
    if kinds[0].option.choice is None:
        checked = kinds[0].option.check(value)
        return 0.0 if checked is None else checked
    option_kind(keyword, value)
    return value


__all__ = ["AFTER_BLOCK", "BEFORE_ACTIVATION", "Buffer", "KINDS", "Layer", "OPTIONS", "Option", "Parameter", "layer_rng",
           "check_option", "option_default", "option_kind"]
