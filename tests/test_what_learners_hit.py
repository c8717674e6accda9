"""What an outside engineer hit running learners' code (cs231n, nnfs) through check_network and the race,
each fixed: every message is one sentence that names what to change, and a network is checked as it
is where it can be, not refused."""
from __future__ import annotations

import numpy as np
import pytest

from common.errors import ConformanceError
from compare import check_network
from tests import gallery
from tests.users.nnfs_layers import Optimizer_Adam

HIDDEN = 16


class OptimizerObject(gallery.RowNetwork):
    """States its optimizer as nnfs's object, where the recipe reads a name."""

    optimizer = Optimizer_Adam()


def test_an_optimizer_stated_as_an_object_is_named_with_its_article():
    with pytest.raises(ConformanceError, match="OptimizerObject.optimizer is an Optimizer_Adam, not the name of an "
                                               "optimizer"):
        check_network(OptimizerObject(784, HIDDEN, 10, 0.1))


class TrainReturnsLossAndGrads(gallery.RowNetwork):
    """Returns cs231n's (loss, grads) from train(), grads a dict of every parameter's gradient."""

    def train(self, inputs, targets):
        loss = super().train(inputs, targets)
        return loss, {f"W{k + 1}": np.ones((784, 200)) for k in range(4)}


def test_a_train_that_returns_loss_and_grads_is_told_in_one_short_sentence():
    with pytest.raises(ConformanceError) as caught:
        check_network(TrainReturnsLossAndGrads(784, HIDDEN, 10, 0.1))
    message = str(caught.value)
    assert len(message) < 300 and "\n" not in message, message
    assert message.startswith("TrainReturnsLossAndGrads.train returned a tuple of 2: (") and "a dict with keys 'W1'" \
        in message and "cs231n's loss(X, y) returns (loss, grads)" in message
