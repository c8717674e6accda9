"""Networks with a fault planted at a known step, raced through the public plug-in path.

Each is ``from_scratch.Network`` until its training reaches step ``AT``; as step ``AT + 1``
begins (after that step's checks) the fault appears. The tests race one against autograd,
as a reader's network would race::

    python -m compare --backends torch_impl tests.planted:NudgedAt200 ...

and see that compare catches the fault at the first check after it, names the step and the
layer, and blames this network, not autograd.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

import from_scratch

STEP_ERROR = 1e-9


class Planted(from_scratch.Network):
    """Counts its own training steps; :meth:`plant` runs once, as step ``AT + 1`` begins."""

    AT = 0
    steps = 0

    def train(self, inputs, targets):
        self.steps += 1
        if self.steps == self.AT + 1:
            self.plant()
        return super().train(inputs, targets)

    def plant(self) -> None:
        raise NotImplementedError


class NudgedAt200(Planted):
    """One row of the first weight scaled by 1.001: a trajectory that parts from autograd's."""

    AT = 200

    def plant(self) -> None:
        self.weights[0][0] *= 1.001


class NudgedAt400(NudgedAt200):
    AT = 400


class NanAt200(Planted):
    """A nan in the first weight, set around set_weights (which refuses one), as a bug would: a divergence."""

    AT = 200

    def plant(self) -> None:
        self.weights[0][0, 0] = np.nan


class StepTooFarFrom400(Planted):
    """From step 400 on, every step of every instance (the training network and compare's twin of
    it) moves the weights 1e-9 (relative) further than its own update: a wrong update rule, as
    small as a real bug could be and still far beyond rounding."""

    AT = 400
    wrong = False  # for the class: the twin that checks the steps is another instance

    def plant(self) -> None:
        type(self).wrong = True

    def train(self, inputs, targets):
        if not self.wrong:
            return super().train(inputs, targets)
        before = self.get_weights()
        loss = super().train(inputs, targets)
        self.set_weights([w + (1 + STEP_ERROR) * (after - w) for w, after in zip(before, self.get_weights())])
        return loss


class BiasNudgedAt200(Planted):
    """The output layer's bias moved by 1e-3 of the largest weight at step 200: a trajectory that
    parts from autograd's in a parameter that started at zero."""

    AT = 200

    def plant(self) -> None:
        self.biases[-1] += 1e-3 * float(np.max(np.abs(self.weights[-1])))


class LongStep(from_scratch.Network):
    """Right on every sample but some: on those (:meth:`wrong_on`) its step is ``FACTOR`` times too long,
    in every instance (the training network and compare's twins of it), as a slip in the code would be."""

    FACTOR = 1.0005

    def wrong_on(self, inputs: np.ndarray, targets: np.ndarray) -> bool:
        raise NotImplementedError

    def train(self, inputs, targets):
        if not self.wrong_on(np.asarray(inputs), np.asarray(targets)):
            return super().train(inputs, targets)
        before = self.get_weights()
        loss = super().train(inputs, targets)
        self.set_weights([w + self.FACTOR * (after - w) for w, after in zip(before, self.get_weights())])
        return loss


class LongStepOnSevens(LongStep):
    """A step 1.0005 times too long on every 7 trained one sample a step (the first 7 of the embedded
    training set is sample 15). check_network, before the race, trains single samples on the first five
    images (5, 0, 4, 1, 9) and 7s only in batches, so the race must find it: the step check at a
    segment's start meets no 7 either, and the fault shows only in the drift."""

    def wrong_on(self, inputs, targets):
        return inputs.ndim == 1 and int(np.argmax(targets)) == 7


class LongStepOnSample537(LongStep):
    """A step 1.0005 times too long on one sample of the embedded training set, its 538th (index 537),
    recognised by its pixels: one wrong step in a thousand."""

    def wrong_on(self, inputs, targets):
        image = _sample(537, inputs.dtype.name)
        return bool(np.any(np.all(inputs.reshape(-1, image.size) == image, axis=1)))


@lru_cache(maxsize=4)
def _sample(index: int, dtype: str) -> np.ndarray:
    """The embedded training set's sample ``index``, scaled as the race feeds it."""
    from common.data import load_embedded, scale_inputs

    return scale_inputs(load_embedded().train_images[index:index + 1], dtype)[0]


class QueryOffAfter400(Planted):
    """Trains as from_scratch does; from step 400 on, query() answers 1e-9 further from its forward pass (its
    outputs scaled by 1 + 1e-9): weights, gradients and steps all agree, the test outputs do not."""

    AT = 400

    def plant(self) -> None:
        self.query = lambda inputs: from_scratch.Network.query(self, inputs) * (1 + 1e-9)
