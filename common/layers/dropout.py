"""Dropout: in training each unit is dropped (set to 0) with probability p and the others scaled by
1 / (1 − p), so that each unit's expected value is what it is in evaluation, where dropout is the
identity: ``nn.Dropout(p)``, "inverted dropout" (p is the probability of dropping, torch's).

.. math::

    y = x \\cdot \\frac{m}{1 - p}, \\quad m_i = [u_i \\ge p], \\quad
    \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial y} \\cdot \\frac{m}{1 - p}

The mask is drawn from :func:`common.layers.layer_rng`: u = ``layer_rng(layer_seed, step,
index).random(x.shape)``, with ``step`` the ``train()`` calls taken before this pass and ``index``
the layer's among the network's dropout layers, so that both backends, and a network written by
hand, drop the same units at the same step (torch's own generator cannot be reproduced in NumPy).
No parameters.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from common.errors import ParameterError
from common.layers.base import AFTER_BLOCK, Layer, Option


def _probability(value: object) -> float | None:
    """p in [0, 1) as a float, None for 0 (no dropout); else one sentence."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ParameterError(f"The 'dropout' parameter must be a probability of dropping in [0, 1), as nn.Dropout's p. "
                             f"Got {value!r} instead.")
    return float(value) or None


@dataclass(frozen=True)
class Dropout(Layer):
    kind = "dropout"
    modal = True
    draws = True
    option = Option("dropout", AFTER_BLOCK, check=_probability, metavar="P",
                    help="dropout after each hidden block's activation (and its pool), nn.Dropout(P): each unit "
                         "dropped with probability P in training, the others scaled by 1/(1-P) (default 0, none)")

    p: float = 0.5

    def words(self) -> str:
        return f"dropout {self.p:g}"

    def backward_words(self, block: str) -> str:
        return f"the dropout after {block}: dL/dy times the same mask, scaled by 1/(1 − p)"

    @classmethod
    def for_block(cls, value, inputs, label, name) -> "Dropout":
        return cls(inputs, label, name, float(value))

    @classmethod
    def option_words(cls, value) -> str:
        return f"dropout {value:g}"
