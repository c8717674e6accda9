"""check_network and the race with a training recipe: readers' networks in the styles of Nielsen's
network2, cs231n and nnfs (tests/users) pass once their recipe is stated, each classic recipe mistake
is caught and named through both paths, and a checked network is left as it was found."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from common.architecture import Architecture
from common.data import load_embedded, one_hot_targets, scale_inputs
from common.errors import ConformanceError
from common.recipe import Recipe
from compare import check_network, run_comparison
from compare.check import network as network_check
from from_scratch import Network
from tests import gallery
from tests.users import CORRECT, MISTAKES, REGISTRY
from tests.users.cs231n import TwoLayerNet
from tests.users.nnfs import NnfsNetwork

HIDDEN = 16
PATHS = {cls: f"tests/users/{name.split(':')[0]}.py:{cls.__name__}" for name, cls in REGISTRY.items()}


@pytest.fixture(autouse=True)
def seeded():
    """The readers' networks draw their weights from NumPy's global generator, as their codebases do."""
    np.random.seed(0)


@pytest.mark.parametrize("cls", CORRECT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_readers_networks_pass_once_their_recipe_is_stated(cls, dtype):
    report = check_network(cls(784, HIDDEN, 10, cls.LEARNING_RATE, dtype=dtype))
    assert report.passed, str(report)
    assert "optimizer state" in str(report)  # each offers get_optimizer_state: its state is compared too


@pytest.mark.parametrize("cls", MISTAKES, ids=lambda c: c.__name__)
def test_each_recipe_mistake_is_caught_and_named(cls):
    report = check_network(cls(784, HIDDEN, 10, cls.LEARNING_RATE))
    assert not report.passed
    assert report.cause.name == cls.CAUSE, str(report)
    assert f"likely cause ({cls.CAUSE}," in str(report) and "Fix:" in report.cause.sentence


@pytest.mark.parametrize("cls", MISTAKES, ids=lambda c: c.__name__)
def test_in_float32_each_recipe_mistake_is_named_unless_float32_cannot_see_it(cls):
    """float32's tolerance, 2**12 eps = 4.9e-4, cannot see what moves a step by less: Nielsen's decay
    λ/n = 8.3e-5 at lr 0.5 left out moves a step by about 4e-4 of itself. Such a mistake passes in
    float32, and only such a one: its float64 report's first difference is below float32's tolerance."""
    report = check_network(cls(784, HIDDEN, 10, cls.LEARNING_RATE, dtype="float32"))
    if report.passed:
        np.random.seed(0)  # the same starting weights, in float64
        _, _, cell = check_network(cls(784, HIDDEN, 10, cls.LEARNING_RATE)).first_failure
        assert cell.relative < report.tolerance, (cls.__name__, cell.relative)
    else:
        assert report.cause.name == cls.CAUSE, str(report)


def _race_options(cls) -> dict:
    """What a reader types to race ``cls``: its architecture and recipe as run_comparison's options."""
    network = cls(784, HIDDEN, 10, cls.LEARNING_RATE)
    architecture, recipe = Architecture.of(network), Recipe.of(network)
    options = {k: v for k, v in recipe.changed_keywords().items()}
    if "milestones" in options:  # in steps here; compare takes epochs: 40 steps an epoch below
        options["milestones"] = tuple(m / 40 for m in options["milestones"])
    return dict(hidden=(HIDDEN,), activation=architecture.activation, loss=architecture.loss, bias=architecture.bias,
                lr=cls.LEARNING_RATE, **options)


@pytest.mark.parametrize("cls", MISTAKES, ids=lambda c: c.__name__)
def test_each_recipe_mistake_is_caught_and_named_by_the_race(cls):
    record = run_comparison(backends=("torch_impl", PATHS[cls]), train_limit=40, test_limit=20, check_every=20,
                            quiet=True, **_race_options(cls))
    assert record["status"] == "disagreed" and record["agreement"]["passed"] is False
    assert record["runs"][0]["diagnosis"]["cause"]["name"] == cls.CAUSE


@pytest.mark.parametrize("cls", [TwoLayerNet, NnfsNetwork], ids=lambda c: c.__name__)
def test_readers_networks_race_and_agree_with_torch_optim(cls):
    record = run_comparison(backends=("torch_impl", PATHS[cls]), train_limit=200, test_limit=50, check_every=50,
                            quiet=True, **_race_options(cls))
    assert record["status"] == "completed" and record["agreement"]["passed"], record["message"]
    assert record["recipe"] == Recipe.of(cls(784, HIDDEN, 10, 0.1)).to_json()
    steps = [c for c in record["agreement"]["checks"] if c["kind"] == "step"]
    assert len(steps) >= 4 * 4 and all(c["passed"] for c in steps)


def test_after_check_network_five_more_steps_of_an_adam_network_land_where_an_untouched_copys_land():
    data = load_embedded()
    x, t = scale_inputs(data.train_images[:12]), one_hot_targets(data.train_labels[:12], "float64", values=(0.0, 1.0))
    checked = NnfsNetwork(784, HIDDEN, 10, 0.02)
    for i in range(2):  # a network in mid-training: its Adam has taken steps
        checked.train(x[i], t[i])
    untouched = copy.deepcopy(checked)
    report = check_network(checked)
    assert report.passed and "copies of the network" in report.to_json()["where"]
    for i in range(2, 7):
        checked.train(x[i], t[i])
        untouched.train(x[i], t[i])
    for mine, theirs in zip(checked.get_weights(), untouched.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert checked.nnfs_optimizer.iterations == untouched.nnfs_optimizer.iterations == 7


class Uncopyable(Network):
    """from_scratch's network, refusing copy.deepcopy (as one holding a file or a lock would)."""

    def __deepcopy__(self, memo):
        raise TypeError("cannot copy this network")


def test_a_network_that_cannot_be_copied_is_checked_in_place_and_put_back_state_included():
    network = Uncopyable(784, HIDDEN, 10, 0.01, optimizer="adam")
    data = load_embedded()
    network.train(scale_inputs(data.train_images[:1])[0], one_hot_targets(data.train_labels[:1], "float64")[0])
    weights, state = network.get_weights(), network.get_optimizer_state()
    report = check_network(network)
    assert report.passed and "in place" in report.to_json()["where"] and "put back" in report.to_json()["where"]
    for a, b in zip(network.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for name in ("exp_avg", "exp_avg_sq"):
        for a, b in zip(network.get_optimizer_state()[name], state[name]):
            np.testing.assert_array_equal(a, b)
    assert network.get_optimizer_state()["step"] == state["step"] == 1


class Velocity(gallery.RowNetwork):
    """cs231n's classic momentum, correct, stated, but with no state methods and no way to copy it."""

    momentum = 0.9

    def __init__(self, *args, **keywords):
        super().__init__(*args, **keywords)
        self.velocity = [np.zeros_like(w) for w in self.weights]

    def update(self, grads):
        for w, v, g in zip(self.weights, self.velocity, grads):
            v *= self.momentum
            v -= self.lr * g
            w += v

    def __deepcopy__(self, memo):
        raise TypeError("no copies")


def test_a_stateful_network_that_can_be_neither_copied_nor_restored_is_refused_in_one_sentence():
    with pytest.raises(ConformanceError, match="cannot be copied .* and has no get_optimizer_state"):
        check_network(Velocity(784, HIDDEN, 10, 0.05))


def test_a_stateful_network_without_state_methods_that_cannot_be_copied_races_and_agrees(tmp_path):
    """Its twins are built afresh: each step is checked from the reference's weights and a fresh state."""
    path = tmp_path / "velocity.py"
    path.write_text("from tests.test_recipe_check import Velocity\n\n\nclass Mine(Velocity):\n"
                    "    def __init__(self, i, h, o, lr, dtype='float64', momentum=0.9):\n"
                    "        super().__init__(i, h, o, lr, dtype=dtype)\n")
    record = run_comparison(backends=("torch_impl", f"{path}:Mine"), hidden=(HIDDEN,), momentum=0.9, lr=0.05,
                            train_limit=100, test_limit=10, check_every=50, quiet=True)
    assert record["status"] == "completed" and record["agreement"]["passed"], record["message"]
    assert record["message"].startswith("Mine keeps its optimizer state to itself")


def test_a_network_that_does_not_state_the_recipe_it_was_built_with_is_one_sentence(tmp_path):
    path = tmp_path / "forgetful.py"
    path.write_text("from tests.gallery import RowNetwork\n\n\nclass Forgetful(RowNetwork):\n"
                    "    def __init__(self, i, h, o, lr, dtype='float64', momentum=0.0):\n"
                    "        super().__init__(i, h, o, lr, dtype=dtype)  # momentum taken, never stated\n")
    with pytest.raises(ConformanceError, match="was built to train with momentum=0.9 but states momentum = 0.0"):
        run_comparison(backends=("torch_impl", f"{path}:Forgetful"), hidden=(HIDDEN,), momentum=0.9, lr=0.05,
                       train_limit=20, test_limit=10, quiet=True)


class WrongSignState(TwoLayerNet):
    """Correct steps, but get_optimizer_state hands out cs231n's velocity as it is, not torch's b = −v/lr."""

    def _buffers(self):
        return {"momentum_buffer": lambda c: c["velocity"]}


def test_check_network_compares_the_optimizer_state_it_hands_out():
    report = check_network(WrongSignState(784, HIDDEN, 10, 0.05))
    rows = {(row.kind, row.layer): row for row in report.rows}
    assert rows["step 1", "W_ho"].single.passed and rows["steps 2-5", "W_ih"].batch.passed
    assert not rows["state", "momentum_buffer"].single.passed and rows["state", "step"].single.passed
    assert not report.passed


class PlainButStatedAdam(gallery.RowNetwork):
    """States Adam, steps by plain SGD: no catalogue entry fits, and the sentence names the recipe."""

    optimizer = "adam"


def test_a_step_that_is_no_known_mistake_says_which_recipe_it_is_not():
    report = check_network(PlainButStatedAdam(784, HIDDEN, 10, 0.01))
    assert report.cause.name == "update_not_gradient"
    assert "train() does not take torch.optim's step for Adam" in report.cause.sentence


class SummedBatchWithAdam(gallery.SummedBatch):
    optimizer = "adam"


def test_a_gradient_mistake_is_not_blamed_on_the_recipe():
    report = check_network(SummedBatchWithAdam(784, HIDDEN, 10, 0.01))
    assert report.cause.name == "sum_not_mean"


class NanGradient(gallery.RowNetwork):
    def gradients(self, inputs, targets):
        grads = super().gradients(inputs, targets)
        grads[0][3, 5] = np.nan
        return grads


def test_a_nan_is_named_as_such_where_it_is():
    cause = check_network(NanGradient(784, HIDDEN, 10, 0.1)).cause
    assert cause.name == "non_finite"
    assert cause.sentence.startswith("gradients() returned nan at W_ih[3, 5] (gradient, one sample)")
    assert "nanx" not in cause.sentence and "accumulate" not in cause.sentence


class ReluWithoutMask(Network):
    """from_scratch's ReLU network with the mask left out of the backward pass."""

    def __init__(self, *args, **keywords):
        super().__init__(*args, activation="relu", **keywords)
        for layer in self.layers:
            if layer.spec.kind == "relu":
                layer.derivative = np.ones_like  # f' taken as 1 everywhere


def test_a_missing_relu_mask_is_worded_for_relu():
    sentence = check_network(ReluWithoutMask(784, [HIDDEN, 12], 10, 0.05, loss="cross_entropy")).cause.sentence
    assert "ReLU's mask" in sentence and "sigmoid" not in sentence


def test_check_network_stands_without_the_race():
    """It measures with common.tolerances.measure, and nothing under compare/check imports the race."""
    assert network_check.measure.__module__ == "common.tolerances"
    for path in Path(network_check.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "compare.race" not in source and "from compare import" not in source, path
