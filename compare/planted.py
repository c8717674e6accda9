"""A test-only hook, not a user option: plant a fault in one backend, to see the checks catch it.

``COMPARE_TEST_PERTURB=BACKEND@STEP[:HOW]`` acts on BACKEND as the first segment at or after
STEP begins (after that segment's checks), where HOW is

- ``nudge`` (the default): scale one row of its W_ih by 1.001, once: a trajectory that parts;
- ``nan``: make its loss non-finite from there on: a divergence;
- ``step``: from there on every training step, in the backend and in its probe, moves the
  weights 1e-9 (relative) further than its own update: a wrong update rule, as small as a
  real bug could be and still far beyond rounding.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

ENV = "COMPARE_TEST_PERTURB"
STEP_ERROR = 1e-9


@dataclass(frozen=True)
class Plant:
    backend: str
    step: int
    how: str

    def apply(self, backend, probes: dict) -> None:
        """Plant the fault in ``backend`` (and, for a wrong step, in its probe)."""
        network = backend.network
        if self.how == "step":
            for each in (network, probes[backend.key]):
                each.train = _wrong_step(each)
            return
        weights = network.get_weights()
        weights[0][0] *= 1.001
        network.set_weights(weights)
        if self.how == "nan":  # set_weights refuses nan, as it should: go around it, as a bug would
            if hasattr(network, "model"):  # torch: the first layer's weight
                next(network.model.parameters()).data[0, 0] = float("nan")
            else:
                (network.weights[0] if hasattr(network, "weights") else network.wih)[0, 0] = np.nan


def _wrong_step(network):
    train = network.train

    def train_too_far(inputs, targets):
        before = network.get_weights()
        loss = train(inputs, targets)
        network.set_weights([w + (1 + STEP_ERROR) * (after - w) for w, after in zip(before, network.get_weights())])
        return loss
    return train_too_far


def from_environment() -> Plant | None:
    value = os.environ.get(ENV)
    if not value:
        return None
    key, _, rest = value.partition("@")
    step, _, how = rest.partition(":")
    return Plant(key, int(step or 0), how or "nudge")
