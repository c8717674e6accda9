"""What an outside engineer hit running learners' code (cs231n, nnfs) through check_network and the race,
each fixed: every message is one sentence that names what to change, and a network is checked as it
is where it can be, not refused."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from common.errors import ConformanceError
from common.recipe import Recipe
from compare import check_network, run_comparison
from from_scratch.optimizers import Adam
from tests import gallery
from tests.test_recipe_check import _race_options
from tests.users.cs231n import TwoLayerNet
from tests.users.nnfs import NnfsNetwork
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


class AdamWithAlpha(gallery.RowNetwork):
    """States Adam, and keeps a leaky ReLU's slope under the name the recipe reads as RMSprop's smoothing."""

    optimizer, alpha = "adam", 0.01


def test_an_attribute_another_optimizer_reads_is_named_to_be_renamed_or_removed():
    with pytest.raises(ConformanceError, match=r"AdamWithAlpha has an attribute alpha = 0.01, which the training "
                                               r"recipe reads for optimizer 'rmsprop' only, beside optimizer = 'adam': "
                                               r"rename or remove the attribute 'alpha'"):
        check_network(AdamWithAlpha(784, HIDDEN, 10, 0.1))


class KeepsInputsByOutputs(gallery.RowNetwork):
    """Keeps its weights (n_in, n_out), as cs231n and nnfs do, and hands them over as they are."""

    def layer(self, a, k):
        return a @ self.weights[k]

    def error_below(self, dLdz, k):
        return dLdz @ self.weights[k].T

    def weight_gradient(self, dLdz, a):
        return super().weight_gradient(dLdz, a).T


def test_weights_in_the_other_layout_are_named_as_the_layout_not_as_a_failing_forward():
    network = KeepsInputsByOutputs(784, HIDDEN, 10, 0.1)
    network.set_weights([w.T for w in network.get_weights()])  # its own layout: (784, 16), (16, 10)
    network.set_weights([np.zeros((HIDDEN, 784)), np.zeros((10, HIDDEN))])  # the library's, as the race loads it
    with pytest.raises(ConformanceError, match=r"KeepsInputsByOutputs.query fails with the weights it was handed, "
                                               r"laid out \(n_out, n_in\) as nn.Linear.weight is \(the first "
                                               r"\(16, 784\)\), and runs with each transposed: KeepsInputsByOutputs "
                                               r"keeps its weights \(n_in, n_out\)"):
        check_network(network)


class PromotesToFloat64(gallery.RowNetwork):
    """States the dtype it is built with and never uses it: its weights float64, as NumPy draws them, so
    every array that meets them is float64 too."""

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]

    def forward(self, inputs):
        activations = [np.asarray(inputs)]
        for k in range(len(self.weights)):
            activations.append(expit(self.layer(activations[-1], k)))
        return activations


def test_a_network_asked_for_float32_that_computes_in_float64_is_checked_in_float64_and_told():
    report = check_network(PromotesToFloat64(784, HIDDEN, 10, 0.1, dtype="float32"))
    assert report.passed and report.dtype == "float64", str(report)
    assert ("dtype: PromotesToFloat64 states dtype float32 and computes in float64 (its get_weights and query "
            "return float64") in str(report) and "checked in float64, the dtype it computes in" in str(report)


def test_a_network_asked_for_float32_that_computes_in_float64_races_and_is_checked():
    record = run_comparison(backends=("torch_impl", "tests.test_what_learners_hit:PromotesToFloat64"),
                            hidden=((HIDDEN,),), dtype="float32", lr=0.1, train_limit=200, test_limit=20,
                            check_every=100, quiet=True)
    assert record["status"] == "completed" and record["agreement"]["passed"], record["message"]
    assert record["message"].startswith("PromotesToFloat64 states dtype float32 and computes in float64") and \
        record["message"].endswith("it raced in float64 beside the others' float32.")


class AdamOfItsOwn(NnfsNetwork):
    """nnfs's network as a reader writes it: Adam with eps 1e-7 by its constructor's defaults."""


class HardCodedAdam(gallery.RowNetwork):
    """States Adam by a class attribute, and takes no optimizer argument: it trains with nothing else."""

    optimizer = "adam"

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64"):
        super().__init__(input_nodes, hidden_nodes, output_nodes, learning_rate, dtype)
        self.adam = Adam(Recipe(optimizer="adam"), [w.shape for w in self.weights], self.dtype)

    def update(self, grads):
        self.adam.step(self.weights, [g.copy() for g in grads], self.lr)

    def get_optimizer_state(self):
        return self.adam.get_state()

    def set_optimizer_state(self, state):
        self.adam.set_state(state)


@pytest.mark.parametrize("name, options", [
    ("tests.test_what_learners_hit:AdamOfItsOwn", dict(activation="relu", loss="cross_entropy", bias=True, lr=0.02)),
    ("tests.test_what_learners_hit:HardCodedAdam", dict(lr=0.01)),
])
def test_a_recipe_of_the_networks_own_that_the_command_line_cannot_ask_for_is_raced_as_its_own(name, options):
    record = run_comparison(backends=("torch_impl", name), hidden=((HIDDEN,),), train_limit=100, test_limit=20,
                            check_every=50, quiet=True, **options)
    assert record["status"] == "completed" and record["agreement"]["passed"], record["message"]
    assert record["recipe"]["optimizer"] == "adam"


def test_a_race_refused_for_its_optimizer_state_calls_the_state_torch_optims():
    record = run_comparison(backends=("torch_impl", "tests.test_recipe_check:WrongSignState"),
                            **{**_race_options(TwoLayerNet), "train_limit": 40, "test_limit": 20, "quiet": True})
    assert record["status"] == "disagreed"
    assert "optimizer state momentum_buffer for one sample is" in record["message"] and \
        "from torch.optim's (relative)" in record["message"] and "autograd's" not in record["message"]
