"""Every layer kind as a forward/backward pair, one module each, as cs231n's layers.py writes them.

Each module has the pair as plain functions, ``<kind>_forward(x, *params, ...) -> (out, cache)``
and ``<kind>_backward(dout, cache) -> (dx, *dparams)``, with the math in its docstring, and
``build(spec, dtype)``: the layer as :class:`from_scratch.Network` runs it (:class:`Layer`), which
calls the pair (and, for a dense layer, adds plain SGD's step into the weights by BLAS). The
module is found by the spec's kind (:meth:`common.layers.Layer.implementation`), so the network
is a loop over its layers with no branch for any kind.
"""
from __future__ import annotations

import importlib

import numpy as np

from common.layers import Layer as Spec
from from_scratch.layers.base import Context, Layer

__all__ = ["Context", "Layer", "build"]


def build(spec: Spec, dtype: np.dtype) -> Layer:
    """The layer that runs ``spec`` in ``dtype``: ``from_scratch.layers.<module>.build(spec, dtype)``."""
    return importlib.import_module(f"{__name__}.{spec.implementation()}").build(spec, dtype)
