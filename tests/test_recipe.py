"""The training recipe: one description (common.recipe), the same steps in both backends.

from_scratch writes each rule out in NumPy, torch_impl uses torch.optim and its schedulers: from
identical weights and optimizer state they must take the same step, for every optimizer and
option, every architecture and loss, one sample or a batch, float32 or float64.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from common.data import load_embedded, one_hot_targets, scale_inputs
from common.errors import ParameterError
from common.recipe import DEFAULT_WEIGHT_DECAY, Recipe, check_optimizer_state, fresh_state
from common.tolerances import (assert_close, measure_step, output_error_condition, relative_difference, step_tolerance,
                               tolerance)
from compare.state import TrainingState, snapshot, step_rounding
from from_scratch import Network
from torch_impl import Network as TorchNetwork
from tests.strategies import cases, least_layer_derivative, recipes

DATA = load_embedded()


def mnist(count: int, loss: str = "cross_entropy", dtype: str = "float64"):
    values = (0.01, 0.99) if loss == "half_sse" else (0.0, 1.0)
    return (scale_inputs(DATA.train_images[:count], dtype),
            one_hot_targets(DATA.train_labels[:count], dtype, values=values))


# -- the description ---------------------------------------------------------------------------------

def test_defaults_are_the_books_plain_sgd_and_torchs_defaults_elsewhere():
    assert Recipe().is_plain and Recipe().describe() == "SGD" and not Recipe().has_state
    adam = Recipe(optimizer="adam")
    assert (adam.betas, adam.eps, adam.weight_decay, adam.amsgrad) == ((0.9, 0.999), 1e-8, 0.0, False)
    assert Recipe(optimizer="adamw").weight_decay == DEFAULT_WEIGHT_DECAY["adamw"] == 0.01  # torch.optim.AdamW's
    assert Recipe(optimizer="rmsprop").alpha == 0.99
    assert Recipe(optimizer="adamw").changed_keywords() == {"optimizer": "adamw"}  # 0.01 is adamw's default


@pytest.mark.parametrize("keywords, words", [
    (dict(momentum=-0.5), "The 'momentum' parameter must be a finite float >= 0. Got -0.5 instead."),
    (dict(momentum=float("nan")), "The 'momentum' parameter must be a finite float >= 0. Got nan instead."),
    (dict(optimizer="adagrad"), "The 'optimizer' parameter must be one of ('sgd', 'adam', 'adamw', 'rmsprop')."),
    (dict(optimizer="adam", betas=(0.9, 1.0)), "The 'betas' parameter must be two floats (beta1, beta2), each in "
                                               "[0, 1). Got (0.9, 1.0) instead."),
    (dict(optimizer="adam", betas=0.9), "The 'betas' parameter must be two floats (beta1, beta2)"),
    (dict(optimizer="adam", momentum=0.9), "The 'momentum' parameter applies to optimizer 'sgd' or 'rmsprop'; this "
                                           "recipe's optimizer is 'adam'."),
    (dict(betas=(0.8, 0.9)), "The 'betas' parameter applies to optimizer 'adam' or 'adamw'"),
    (dict(nesterov=True), "Nesterov momentum needs momentum > 0 and dampening 0"),
    (dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum needs momentum > 0 and dampening 0"),
    (dict(schedule="step"), "The 'milestones' parameter is what the 'step' schedule needs"),
    (dict(schedule="step", milestones=(5, 3)), "The 'milestones' parameter must be increasing whole numbers"),
    (dict(schedule="step", milestones=(0,)), "The 'milestones' parameter must be increasing whole numbers"),
    (dict(milestones=(3,)), "The 'milestones' parameter applies to schedule 'step'"),
    (dict(lr_decay=0.1), "The 'lr_decay' parameter applies to schedule 'inverse_time'"),
    (dict(schedule="step", milestones=(3,), gamma=0), "The 'gamma' parameter must be a finite float > 0."),
    (dict(decay_biases="yes"), "The 'decay_biases' parameter must be True or False. Got 'yes' instead."),
    (dict(schedule="cosine"), "The 'schedule' parameter must be one of ('constant', 'step', 'inverse_time')"),
])
def test_each_bad_value_is_one_sentence(keywords, words):
    with pytest.raises(ParameterError) as caught:
        Recipe(**keywords)
    assert str(caught.value).startswith(words) and "\n" not in str(caught.value)


def test_an_unknown_keyword_is_one_sentence_naming_it():
    for cls in (Network, TorchNetwork):
        with pytest.raises(ParameterError, match="got an unexpected keyword argument 'momentun'; the training recipe's"):
            cls(784, 16, 10, 0.1, momentun=0.9)


def test_the_record_round_trips_and_describes_the_recipe():
    recipe = Recipe(optimizer="adamw", betas=(0.8, 0.99), weight_decay=0.05, decay_biases=True, schedule="step",
                    milestones=(3000, 5000), gamma=0.5)
    assert Recipe.from_json(json.loads(json.dumps(recipe.to_json()))) == recipe
    assert recipe.describe() == ("AdamW (betas 0.8, 0.99), decoupled weight decay 0.05 on weights and biases, "
                                 "lr ×0.5 at steps 3,000, 5,000")
    assert Recipe(momentum=0.9, l2=1e-3).describe() == "SGD (momentum 0.9), L2 0.001 on the weights"
    assert Recipe(optimizer="adam", schedule="inverse_time", lr_decay=1e-3).describe() == "Adam, lr / (1 + 0.001 t)"


def test_a_network_states_its_recipe_by_its_attributes():
    class Stated:
        optimizer, eps = "adam", 1e-7

    assert Recipe.of(Stated()) == Recipe(optimizer="adam", eps=1e-7)
    assert Recipe.of(object()) == Recipe()  # an attribute it lacks means the default
    assert Recipe.of(Network(784, 16, 10, 0.1, momentum=0.9)) == Recipe(momentum=0.9)


def test_the_state_is_checked_in_one_sentence():
    recipe, shapes = Recipe(optimizer="adam"), [(3, 2), (3,)]
    good = fresh_state(recipe, shapes, np.float64)
    assert check_optimizer_state(good, recipe, ["W1", "b1"], shapes, np.float64)["step"] == 0
    for bad, words in ((dict(good, step=-1), "'step' must be a whole number >= 0"),
                       ({"step": 0}, "must be a dict with keys ['step', 'exp_avg', 'exp_avg_sq']"),
                       (dict(good, exp_avg=[np.zeros((2, 3)), np.zeros(3)]), "exp_avg for W1 must have shape (3, 2)"),
                       (dict(good, exp_avg=[np.full((3, 2), np.nan), np.zeros(3)]), "holds non-finite values")):
        with pytest.raises(ParameterError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            check_optimizer_state(bad, recipe, ["W1", "b1"], shapes, np.float64)


# -- schedules as torch.optim.lr_scheduler gives them ------------------------------------------------------

@pytest.mark.parametrize("recipe", [Recipe(schedule="step", milestones=(3, 7, 12), gamma=0.1),
                                    Recipe(optimizer="adam", schedule="inverse_time", lr_decay=0.37)])
def test_the_schedule_is_torchs_to_the_last_bit(recipe):
    network = TorchNetwork(4, 3, 2, 0.1, loss="cross_entropy", **recipe.changed_keywords())
    x, t = np.full(4, 0.5), np.array([1.0, 0.0])
    for step in range(20):
        assert network.optimizer.param_groups[0]["lr"] == recipe.learning_rate(0.1, step)
        network.train(x, t)


# -- both backends take the same steps ---------------------------------------------------------------

def _pair(architecture, lr, dtype, recipe, weights):
    keywords = dict(activation=architecture.activation, loss=architecture.loss, bias=architecture.bias, dtype=dtype,
                    **recipe.changed_keywords())
    sizes = (architecture.input_nodes, list(architecture.hidden_nodes), architecture.output_nodes, lr)
    mine, theirs, twin = Network(*sizes, **keywords), TorchNetwork(*sizes, **keywords), TorchNetwork(*sizes, **keywords)
    for network in (mine, theirs):
        network.set_weights(weights)
    return mine, theirs, twin


@given(cases(max_nodes=12, max_batch=6), recipes(), st.integers(1, 4))
def test_each_step_matches_torch_optim_from_the_same_weights_and_state(case, recipe, steps):
    """k steps, each from torch's weights and state loaded into from_scratch, within the step check's
    tolerance: ``single``, or 32 times what a one-rounding nudge does to torch's own step.

    Adam and RMSprop move every weight by about lr a step, so their lr is a hundredth of the case's
    (at most 0.01); a step that saturates a whole sigmoid or tanh layer ends the example, as
    tests/strategies.py leaves such layers out (no gradient worth comparing passes through them),
    and so does one saturated unit under Adam or RMSprop (least_layer_derivative says why)."""
    lr = min(case.lr, 1.0) * (0.01 if recipe.optimizer != "sgd" else 1.0)
    mine, theirs, twin = _pair(case.architecture, lr, case.dtype, recipe, case.weights)
    tol = tolerance(case.dtype)
    single = len(case.inputs) == 1
    x, t = (case.inputs[0], case.targets[0]) if single else (case.inputs, case.targets)
    for step in range(steps):
        start = snapshot(theirs)
        if least_layer_derivative(case.architecture, start.weights, case.inputs,
                                  unit=recipe.optimizer != "sgd") < 2.0**-8:
            break
        mine.set_weights(start.weights)
        mine.set_optimizer_state(start.optimizer)
        grads_tolerance = tol.single * output_error_condition(theirs.query(x), t)
        for m, r in zip(mine.gradients(x, t), theirs.gradients(x, t)):  # with the L2 penalty's l2 · W
            assert relative_difference(m, r) <= grads_tolerance
        mine.train(x, t)
        theirs.train(x, t)
        after = theirs.get_weights()
        rounding = step_rounding(twin, start, case.inputs, case.targets, tol, after, seed=step)
        for name, m, r, before, measured in zip(case.names, mine.get_weights(), after, start.weights, rounding):
            difference = measure_step(m, r, before, tol)["relative"]
            assert difference <= step_tolerance(tol.single, measured), (name, step, difference, measured)
        assert mine.get_optimizer_state()["step"] == theirs.get_optimizer_state()["step"] == start.step + 1


@pytest.mark.parametrize("recipe", [Recipe(momentum=0.9, dampening=0.5), Recipe(optimizer="adam", amsgrad=True),
                                    Recipe(optimizer="rmsprop", momentum=0.5, centered=True),
                                    Recipe(momentum=0.9, schedule="step", milestones=(2,))],
                         ids=["sgd", "adam", "rmsprop", "schedule"])
def test_a_state_saved_in_one_backend_continues_in_the_other(recipe):
    x, t = mnist(16)
    first = TorchNetwork(784, 16, 10, 0.01, activation="relu", loss="cross_entropy", bias=True, seed=3,
                         **recipe.changed_keywords())
    for i in range(3):
        first.train(x[i], t[i])
    second = Network(784, 16, 10, 0.01, activation="relu", loss="cross_entropy", bias=True, **recipe.changed_keywords())
    second.set_weights(first.get_weights())
    second.set_optimizer_state(first.get_optimizer_state())
    for i in range(3, 8):
        first.train(x[i], t[i])
        second.train(x[i], t[i])
    for a, b in zip(second.get_weights(), first.get_weights()):
        assert_close(a, b, tolerance("float64").single, "weights after the loaded state's steps")
    for name in recipe.state_names():
        for a, b in zip(second.get_optimizer_state()[name], first.get_optimizer_state()[name]):
            assert_close(a, b, tolerance("float64").single, name)


def test_with_sgd_weight_decay_and_l2_take_the_same_steps_but_only_l2_is_in_the_loss():
    x, t = mnist(8)
    decayed = Network(784, 16, 10, 0.1, loss="cross_entropy", bias=True, weight_decay=0.01, seed=1)
    penalised = Network(784, 16, 10, 0.1, loss="cross_entropy", bias=True, l2=0.01, seed=1)
    plain = Network(784, 16, 10, 0.1, loss="cross_entropy", bias=True, seed=1)
    w = plain.get_weights()
    l2_losses = [penalised.train(x, t) for _ in range(3)]
    decay_losses = [decayed.train(x, t) for _ in range(3)]
    for a, b in zip(decayed.get_weights(), penalised.get_weights()):
        assert_close(a, b, tolerance("float64").single, "weight decay against L2, plain SGD")
    # the penalty ½ · l2 · Σ ‖W‖², on the weights only: in the loss and the gradient of the L2 network
    assert l2_losses[0] == pytest.approx(plain.train(x, t) + 0.005 * (np.sum(w[0] ** 2) + np.sum(w[2] ** 2)), rel=1e-12)
    assert decay_losses[0] == pytest.approx(l2_losses[0] - 0.005 * (np.sum(w[0] ** 2) + np.sum(w[2] ** 2)), rel=1e-12)
    plain.set_weights(w)
    penalised.set_weights(w)
    for name, g, g0, p in zip(("W1", "b1", "W2", "b2"), penalised.gradients(x, t), plain.gradients(x, t), w):
        expected = g0 + (0.01 * p if name.startswith("W") else 0.0)
        assert_close(g, expected, tolerance("float64").single, f"the L2 gradient of {name}")


@pytest.mark.parametrize("decay_biases", [False, True])
def test_torch_decays_the_biases_only_when_the_recipe_says_so(decay_biases):
    network = TorchNetwork(784, 16, 10, 0.1, bias=True, weight_decay=0.1, decay_biases=decay_biases)
    groups = network.optimizer.param_groups
    biases = [p for g in groups for p in g["params"] if p.dim() == 1]
    assert all(g["weight_decay"] == (0.1 if decay_biases else 0.0) for g in groups if g["params"][0].dim() == 1)
    assert len(biases) == 2 and len(groups) == (1 if decay_biases else 2)


@pytest.mark.parametrize("loss, reduction", [("binary_cross_entropy", "sum"), ("binary_cross_entropy_mean", "mean")])
def test_binary_cross_entropy_is_torchs_with_its_reduction(loss, reduction):
    """Summed over the outputs and averaged over the batch (Nielsen's), or averaged over every
    element (torch's BCELoss(), nnfs's); from_scratch's L against torch.nn.functional's."""
    x, t = mnist(8, loss)
    network = Network(784, 16, 10, 0.1, loss=loss, bias=True, seed=2)
    outputs = torch.from_numpy(network.query(x))
    expected = torch.nn.functional.binary_cross_entropy(outputs, torch.from_numpy(t), reduction=reduction)
    if reduction == "sum":
        expected = expected / len(x)
    assert network.train(x, t) == pytest.approx(float(expected), rel=1e-12)


def test_the_two_bce_reductions_differ_by_the_number_of_outputs_in_every_gradient():
    x, t = mnist(8, "binary_cross_entropy")
    summed = Network(784, 16, 10, 0.1, loss="binary_cross_entropy", seed=2)
    averaged = Network(784, 16, 10, 0.1, loss="binary_cross_entropy_mean", seed=2)
    for a, b in zip(summed.gradients(x, t), averaged.gradients(x, t)):
        assert_close(a, 10 * b, tolerance("float64").single, "summed against averaged BCE")


def test_a_run_names_its_recipe_in_the_report_the_record_and_the_saved_weights(tmp_path, capsys):
    from compare.race.cli import main
    from common.weights import load_recipe

    code = main(["--train-limit", "200", "--test-limit", "50", "--check-every", "100", "--optimizer", "adam",
                 "--lr", "0.001", "--schedule", "step", "--milestones", "0.5", "--quiet",
                 "--json", str(tmp_path / "run.json"), "--save", str(tmp_path / "saved")])
    assert code == 0, capsys.readouterr()
    record = json.loads((tmp_path / "run.json").read_text())
    stated = Recipe(optimizer="adam", schedule="step", milestones=(100,))  # half an epoch of 200 steps
    assert Recipe.from_json(record["recipe"]) == stated and record["config"]["milestones"] == [0.5]
    from compare.race.report import describe_config
    assert describe_config(record).splitlines()[0].startswith("784-200-10, sigmoid, half squared error, no bias, "
                                                              "Adam, lr ×0.1 at step 100, lr 0.001, batch 1")
    for name in ("from_scratch", "torch_impl"):
        assert load_recipe(tmp_path / "saved" / f"{name}.npz") == stated
    steps = [c for c in record["agreement"]["checks"] if c["kind"] == "step"]
    assert len(steps) == 2 * 2 and all(c["passed"] for c in steps)  # W_ih and W_ho at steps 0 and 100


def test_a_retrained_segment_starts_from_the_optimizer_state_not_only_the_weights():
    """compare.race.sensitivity retrains a segment in a twin to measure rounding's growth: from the segment's
    weights and Adam's state its twin lands where the reference did, to rounding; from the weights
    alone (a fresh Adam) it would not."""
    from compare.race import sensitivity

    x, t = mnist(30)
    reference = TorchNetwork(784, 16, 10, 0.01, optimizer="adam", seed=4)
    for i in range(10):
        reference.train(x[i], t[i])
    start = snapshot(reference)
    for i in range(10, 30):
        reference.train(x[i], t[i])

    def train(network):
        for i in range(10, 30):
            network.train(x[i], t[i])

    twin = TorchNetwork(784, 16, 10, 0.01, optimizer="adam")
    sizes, growth = sensitivity.measure_growth(twin, train, start, reference.get_weights(), seed=1)
    assert max(growth) < 1e-12 and twin.get_optimizer_state()["step"] == 30
    fresh = TorchNetwork(784, 16, 10, 0.01, optimizer="adam")
    _, forgetting = sensitivity.measure_growth(fresh, train, TrainingState(start.weights, None), reference.get_weights(),
                                               seed=1)
    assert max(forgetting) > 1e-3


def test_the_configuration_takes_every_field_of_the_recipe_with_its_default():
    """compare.Config mirrors common.recipe.Recipe field by field (its milestones in epochs), so the
    command line and run_comparison take every recipe keyword, and a new field cannot be missed."""
    from dataclasses import fields

    from compare import Config

    defaults = {f.name: f.default for f in fields(Config)}
    assert all(defaults[f.name] == f.default for f in fields(Recipe))
