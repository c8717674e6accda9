"""check_update: an update rule as the learner wrote it (cs231n's optim.py functions, nnfs's optimizer objects)
against torch.optim, with one call and no adapter: each correct rule passes and each planted one is caught with
its cause named, in float64 and float32; the rule's own defaults are read and said; bad input is one sentence."""
from __future__ import annotations

import numpy as np
import pytest

from common.errors import ConformanceError, ParameterError
from compare import check_network, check_update
from from_scratch import Network
from from_scratch.optimizers import Adam, RMSprop
from tests.users import cs231n_optim as optim
from tests.users import nnfs_layers as nnfs
from tests.users.cs231n_optim_planted import EXPOSED_BY
from tests.users.cs231n_optim_planted import PLANTED as CS231N_PLANTED
from tests.users.nnfs_planted import PLANTED_OPTIMIZERS as NNFS_PLANTED

DTYPES = ["float64", "float32"]
RATES = EXPOSED_BY["lr_inside_velocity"]["learning_rates"]  # the Solver's lr_decay: 1e-2, 1e-2, 1e-3, ...

CS231N_CORRECT = [("sgd", optim.sgd), ("sgd_momentum", optim.sgd_momentum), ("sgd_momentum", optim.sgd_momentum_torch),
                  ("nesterov", optim.sgd_nesterov), ("rmsprop", optim.rmsprop), ("adam", optim.adam)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer, rule", CS231N_CORRECT, ids=[rule.__name__ for _, rule in CS231N_CORRECT])
def test_each_correct_cs231n_rule_passes(optimizer, rule, dtype):
    report = check_update(optimizer, rule, dtype=dtype)
    assert report.passed, str(report)
    assert report.cause is None and str(report).splitlines()[-1].startswith("PASSED")


CS231N_MISTAKES = [(optimizer, cause, rule) for optimizer, causes in CS231N_PLANTED.items()
                   for cause, rule in causes.items()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer, cause, rule", CS231N_MISTAKES, ids=[c for _, c, _ in CS231N_MISTAKES])
def test_each_planted_cs231n_rule_is_caught_and_its_cause_named(optimizer, cause, rule, dtype):
    rates = EXPOSED_BY.get(cause, {}).get("learning_rates")  # the gradients' small columns expose ε's place
    report = check_update(optimizer, rule, dtype=dtype, learning_rates=rates)
    assert not report.passed and report.cause.name == cause, str(report)
    assert f"likely cause ({cause})" in str(report) and "Fix:" in report.cause.sentence


NNFS_CORRECT = [("sgd", nnfs.Optimizer_SGD, {"learning_rate": 0.1}),
                ("sgd", nnfs.Optimizer_SGD, {"learning_rate": 0.1, "momentum": 0.9}),
                ("adagrad", nnfs.Optimizer_Adagrad, {"learning_rate": 0.1, "decay": 0.1}),
                ("rmsprop", nnfs.Optimizer_RMSprop, {}), ("rmsprop", nnfs.Optimizer_RMSprop, {"decay": 0.1}),
                ("adam", nnfs.Optimizer_Adam, {}), ("adam", nnfs.Optimizer_Adam, {"learning_rate": 0.01, "decay": 0.1})]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer, cls, hyper", NNFS_CORRECT, ids=[f"{o}-{h}" for o, _, h in NNFS_CORRECT])
def test_each_correct_nnfs_optimizer_passes_as_an_object_and_as_its_class(optimizer, cls, hyper, dtype):
    assert check_update(optimizer, cls(**hyper), dtype=dtype).passed
    report = check_update(optimizer, cls, dtype=dtype, **hyper)
    assert report.passed, str(report)


NNFS_MISTAKES = [(optimizer, cause, entry) for optimizer, causes in NNFS_PLANTED.items()
                 for cause, entry in causes.items()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer, cause, entry", NNFS_MISTAKES, ids=[f"{o}-{c}" for o, c, _ in NNFS_MISTAKES])
def test_each_planted_nnfs_optimizer_is_caught_and_its_cause_named(optimizer, cause, entry, dtype):
    report = check_update(optimizer, entry["optimizer"](**entry["hyper"]), dtype=dtype)
    assert not report.passed and report.cause.name == cause, str(report)


def test_the_classic_velocity_agrees_at_a_constant_rate_and_keeps_the_old_rates_under_a_changing_one():
    assert check_update("sgd_momentum", optim.sgd_momentum).passed
    assert check_update("sgd_momentum", optim.sgd_momentum_torch, learning_rates=RATES).passed
    report = check_update("sgd_momentum", optim.sgd_momentum, learning_rates=RATES)
    assert report.cause.name == "lr_inside_velocity" and report.first_failure.step == 3  # where the rate first drops
    assert "at the learning rates given, 0.01, 0.01, 0.001" in report.setting


def test_the_rules_own_defaults_are_read_and_given_hyperparameters_override_them():
    report = check_update("adam", optim.adam)
    assert report.reference == "torch.optim.Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08)"
    assert "learning_rate 0.001 → lr, beta1 0.9 → betas[0], beta2 0.999 → betas[1], epsilon 1e-08 → eps " \
           "(the rule's own)" in report.read
    assert report.state_names == "m → exp_avg, v → exp_avg_sq, t → step (the steps taken)"
    given = check_update("adam", optim.adam, learning_rate=0.01, beta1=0.5)
    assert given.passed and given.reference.startswith("torch.optim.Adam(lr=0.01, betas=(0.5, 0.999)")
    assert "learning_rate 0.01 → lr, beta1 0.5 → betas[0] (given)" in given.read
    nnfs_report = check_update("rmsprop", nnfs.Optimizer_RMSprop(decay=0.1))
    assert "rho 0.9 → alpha" in nnfs_report.read and "lr / (1 + 0.1 t), the rule's decay" in nnfs_report.setting


def test_a_rule_that_states_no_learning_rate_is_told_which_one_was_taken():
    def fixed_rate(w, dw, config=None):
        return w - 0.05 * dw, config

    report = check_update("sgd", fixed_rate)
    assert report.cause.name == "unexplained" and "torch.optim's default, 0.001, was taken" in report.cause.sentence
    assert check_update("sgd", fixed_rate, learning_rate=0.05).passed


def test_a_rule_that_changes_w_in_place_or_writes_into_dw_is_checked_on_copies_and_told():
    def scales_dw(w, dw, config=None):
        config = {"learning_rate": 1e-2, **(config or {})}
        dw *= config["learning_rate"]
        w -= dw
        return w, config

    report = check_update("sgd", scales_dw)
    assert report.passed, str(report)
    assert [note.split(" (")[0].split(",")[0] for note in report.notes] == ["scales_dw changes w in place",
                                                                             "scales_dw writes into dw"]
    assert "Note: scales_dw writes into dw, the gradient it was given: checked on copies" in str(report)


def test_a_rule_that_computes_in_float64_is_checked_in_float32_and_told():
    def promotes(w, dw, config=None):
        config = {"learning_rate": 1e-2, **(config or {})}
        return w - np.float64(config["learning_rate"]) * dw.astype(np.float64), config

    report = check_update("sgd", promotes, dtype="float32")
    assert report.passed and "promotes returned float64 weights for float32 ones" in report.notes[0]


def test_the_state_is_compared_in_the_rules_own_names_and_the_steps_decide():
    def adam_counted_from_one(w, dw, config=None):
        """Correct steps, with t from 1 and incremented after use: config['t'] ends one ahead of torch's."""
        config = {} if config is None else config
        config.setdefault("t", 1)
        config["t"] -= 1
        next_w, config = optim.adam(w, dw, config)
        config["t"] += 1
        return next_w, config

    report = check_update("adam", adam_counted_from_one)
    assert report.passed, str(report)
    state = {row.name: row for row in report.rows if row.kind == "state"}
    assert state["m → exp_avg"].cell.passed and not state["t → step"].cell.passed
    assert (state["t → step"].mine, state["t → step"].theirs) == (7.0, 6.0)


def test_the_report_says_in_text_what_its_record_says():
    report = check_update("adam", CS231N_PLANTED["adam"]["adam_step_stuck"])
    record, text = report.to_json(), str(report)
    assert record["passed"] is False and record["first_failure"]["step"] == 2
    assert record["cause"]["name"] == "adam_step_stuck" and record["cause"]["sentence"] in text
    assert len([row for row in record["rows"] if row["kind"] == "step"]) == 6 * 2
    assert text.splitlines()[0] == ("adam_t_not_stored, checked as 'adam': adam_t_not_stored(w, dw, config) -> "
                                    "(next_w, config), one config per parameter")
    assert f"FAILED: first at step 2 W: relative {record['first_failure']['relative']:.3g}" in text


def test_a_rule_whose_optimizer_has_no_catalogue_says_what_was_seen():
    class Optimizer_Adagrad_Unsquared(nnfs.Optimizer_Adagrad):
        def update_params(self, layer):
            layer.dweights, layer.dbiases = layer.dweights * 2, layer.dbiases * 2  # steps twice as long
            super().update_params(layer)

    report = check_update("adagrad", Optimizer_Adagrad_Unsquared(learning_rate=0.1))
    assert report.cause.name == "unexplained" and "the catalogue has no mistakes of torch.optim.Adagrad" in \
        report.cause.sentence


def returns_none(w, dw, config=None):
    w = w - 1e-2 * dw


def returns_bare(w, dw, config=None):
    return w - 1e-2 * dw


def returns_transposed(w, dw, config=None):
    return (w - 1e-2 * dw).T, config


def divides_by_zero(w, dw, config=None):
    m = np.zeros_like(dw)
    with np.errstate(all="ignore"):
        return w - 1e-3 * m / np.sqrt(m), config


@pytest.mark.parametrize("optimizer, rule, hyper, error, message", [
    ("sgd", 3, {}, ConformanceError, "The 'rule' parameter must be an update rule as cs231n writes one"),
    ("sgd", returns_none, {}, ConformanceError, "returns_none returned None at step 1; expected the pair "
                                                "\\(next_w, config\\): is its return statement missing\\?"),
    ("sgd", returns_bare, {}, ConformanceError, "returns_bare returned an ndarray of shape \\(5, 4\\) and dtype "
                                                "float64 at step 1; expected the pair \\(next_w, config\\)"),
    ("sgd", returns_transposed, {}, ConformanceError, "of shape \\(4, 5\\); expected \\(5, 4\\), the shape it was "
                                                      "given \\(the transpose\\)"),
    ("adam", divides_by_zero, {}, ConformanceError, "divides_by_zero returned next_w for W at step 1 with nan at "
                                                    "\\[0, 0\\], where torch.optim's step is finite"),
    ("adamm", optim.adam, {}, ParameterError, "The 'optimizer' parameter must be one of 'sgd', 'sgd_momentum', "
                                              "'nesterov', 'rmsprop', 'adagrad', 'adam', 'adamw'"),
    ("adam", optim.adam, {"lerning_rate": 1}, ParameterError, "unexpected hyperparameter 'lerning_rate'"),
    ("adam", optim.adam, {"beta_1": 0.5}, ParameterError, "The rule holds beta_1 0.5 and beta1 0.9, both betas\\[0\\] "
                                                          "to torch.optim: give the hyperparameter in the rule's own"),
    ("adam", nnfs.Optimizer_Adam(), {"learning_rate": 0.1}, ParameterError,
     "This Optimizer_Adam object holds its hyperparameters already: build it with them"),
    ("sgd_momentum", optim.sgd, {}, ParameterError, "needs a momentum"),
])
def test_bad_input_is_one_sentence(optimizer, rule, hyper, error, message):
    with pytest.raises(error, match=message) as caught:
        check_update(optimizer, rule, **hyper)
    assert "\n" not in str(caught.value)


# -- the same catalogue, for a whole network ---------------------------------------------------------------

class StuckAdam(Adam):
    """Adam whose count is reset before each step: every step bias-corrected as the first."""

    def step(self, parameters, gradients, lr):
        self.t = 0
        super().step(parameters, gradients, lr)


class RootlessRMSprop(RMSprop):
    """RMSprop dividing by the mean square itself: g / (v + ε)."""

    def update(self, i, w, g, lr, weight_decay):
        v = self.square_avg[i]
        v[...] = self.recipe.alpha * v + (1 - self.recipe.alpha) * g * g
        w -= lr * g / (v + self.recipe.eps)


class PlantedOptimizer(Network):
    """from_scratch's network with its optimizer swapped for ``RULE``, built for the recipe's optimizer."""

    RULE, OPTIMIZER = StuckAdam, "adam"

    def __init__(self, *args, **keywords):
        super().__init__(*args, optimizer=self.OPTIMIZER, **keywords)
        self.optimizer = self.RULE(self.recipe, self.optimizer.shapes, self.dtype, self.optimizer.decays)


class RootlessNetwork(PlantedOptimizer):
    RULE, OPTIMIZER = RootlessRMSprop, "rmsprop"


@pytest.mark.parametrize("cls, cause", [(PlantedOptimizer, "adam_step_stuck"), (RootlessNetwork, "rmsprop_no_sqrt")])
def test_check_network_names_the_update_rules_mistakes_in_a_network_too(cls, cause):
    report = check_network(cls(784, [16], 10, 0.01))
    assert not report.passed and report.cause.name == cause, str(report)
