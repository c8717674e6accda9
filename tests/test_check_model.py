"""check_model: a learner's model, as written (cs231n's fc_net.py models, nnfs's Model), checked with one call.

Correct models pass in float64 and float32, under their codebase's conventions (cs231n's batch norm and
dropout, nnfs's dropout); each planted mistake of the catalogues is named by the catalogue's name; a
planted layer of a kind whose catalogue has no entry for it still fails where its numbers depart; the
update rule's steps are checked against torch.optim; the model itself is left as it was; and input that
is neither form, or that the form's methods answer wrongly, is one sentence.
"""
from __future__ import annotations

import numpy as np
import pytest

from common.errors import ConformanceError, ParameterError
from compare import check_model
from compare.check.model_forms import Cs231nModel
from tests.users import cs231n_norm
from tests.users import cs231n_optim as optim
from tests.users import cs231n_optim_planted as optim_planted
from tests.users import nnfs_layers as nnfs
from tests.users import nnfs_planted
from tests.users.cs231n_layers_planted import PLANTED
from tests.users.cs231n_models import PLANTED_MODELS, FullyConnectedNet, TwoLayerNet
from tests.users.nnfs_model import Model

DTYPES = ("float64", "float32")
HIDDEN = [16, 12]
SCALE = 5e-2  # weights at which MNIST's pixels give scores of order 1: a mistake moves the probabilities

# The catalogue's name for each planted model's cause (tests/users/cs231n_models.PLANTED_MODELS), where the
# fixture's name differs; the others are the catalogue's own.
CATALOGUE_NAMES = {"bn_batch_stats_in_test": "bn_batch_stats_in_eval",
                   "dropout_mask_shared_by_rows": "dropout_mask_shared", "softmax_sum_not_mean": "sum_not_mean"}
# Planted layers of kinds whose catalogues (dense, relu, the loss) name none of these: each fails where its
# numbers depart, the gradients, and the report says by how much.
UNNAMED = ("dense_grads_averaged", "relu_mask_from_dout", "softmax_dx_no_subtract")


def cs231n_model(kind: str, dtype: str, **keywords):
    np.random.seed(0)
    if kind == "two_layer":
        model = TwoLayerNet(input_dim=784, hidden_dim=20, num_classes=10, weight_scale=SCALE, reg=1e-3)
        model.params = {k: v.astype(dtype) for k, v in model.params.items()}
        return model
    options = {"plain": {}, "batchnorm_dropout": {"normalization": "batchnorm", "dropout_keep_ratio": 0.8, "seed": 3},
               "layernorm_dropout": {"normalization": "layernorm", "dropout_keep_ratio": 0.5}}[kind]
    return FullyConnectedNet(HIDDEN, input_dim=784, num_classes=10, weight_scale=SCALE, reg=1e-3, dtype=np.dtype(dtype),
                             **{**options, **keywords})


def planted_model(cause: str, dtype: str):
    np.random.seed(0)
    factory = PLANTED_MODELS[cause]
    scale = {} if "weight_scale" in factory.keywords else {"weight_scale": SCALE}
    return factory(HIDDEN, input_dim=784, num_classes=10, dtype=np.dtype(dtype), **scale)


def nnfs_model(dtype: str = "float64", optimizer=None, rate: float = 0.1, l2: float = 0.0, finalize: bool = True,
               **planted):
    """784-16-12-10 in nnfs's Model, ReLU, Layer_Dropout(rate) after each hidden layer, softmax and
    categorical cross-entropy; ``planted``: a class in place of the book's (dense, relu, dropout) or the
    combined softmax and loss (combined)."""
    np.random.seed(0)
    dense, relu, dropout = (planted.get(k, default) for k, default in (
        ("dense", nnfs.Layer_Dense), ("relu", nnfs.Activation_ReLU), ("dropout", nnfs.Layer_Dropout)))
    model = Model()
    for n_in, n_out in ((784, 16), (16, 12)):
        model.add(dense(n_in, n_out, weight_regularizer_l2=l2, dtype=dtype))
        model.add(relu())
        if rate:
            model.add(dropout(rate))
    model.add(dense(12, 10, weight_regularizer_l2=l2, dtype=dtype))
    model.add(nnfs.Activation_Softmax())
    model.set(loss=nnfs.Loss_CategoricalCrossentropy(),
              optimizer=optimizer or nnfs.Optimizer_Adam(learning_rate=0.01, decay=1e-3))
    for layer in model.layers:
        if hasattr(layer, "weights"):
            layer.weights *= 5  # the book's 0.01 · randn, made SCALE
    if finalize:
        model.finalize()
    if "combined" in planted:
        model.softmax_classifier_output = planted["combined"]()
    return model


# -- cs231n ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["two_layer", "plain", "batchnorm_dropout", "layernorm_dropout"])
def test_a_correct_cs231n_model_passes_with_one_call(kind, dtype):
    report = check_model(cs231n_model(kind, dtype))
    assert report.passed, str(report)
    assert report.dtype == dtype and report.network in ("TwoLayerNet", "FullyConnectedNet")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cause", [c for c in PLANTED_MODELS if c not in UNNAMED])
def test_each_planted_cs231n_model_is_named_by_the_catalogue(cause, dtype):
    report = check_model(planted_model(cause, dtype))
    assert not report.passed
    assert report.cause.name == CATALOGUE_NAMES.get(cause, cause), str(report)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_planted_two_layer_model_is_named_by_the_catalogue(dtype):
    model = cs231n_model("two_layer", dtype)
    model.reg = 0.0  # with reg, the batch's gradient is n g + reg W: no longer n times autograd's (batch_only)
    model.layers.softmax_loss = PLANTED["softmax_loss"]["softmax_sum_not_mean"]["forward"]
    report = check_model(model)
    assert (report.cause.name, report.cause.layer) == ("sum_not_mean", "W_ho"), str(report)


@pytest.mark.parametrize("cause", UNNAMED)
def test_a_planted_layer_no_catalogue_entry_names_fails_at_its_gradients_with_its_numbers(cause):
    report = check_model(planted_model(cause, "float64"))
    row, _, cell = report.first_failure
    assert (row.kind, cell.passed) == ("gradient", False) and cell.relative > 1e-3
    assert f"FAILED: first at gradient {row.layer}" in str(report)


def test_the_conventions_compared_under_are_the_handouts_and_the_report_says_them():
    model = cs231n_model("batchnorm_dropout", "float64")
    report = check_model(model)
    assert report.reference == "torch_impl (autograd, torch.optim) under cs231n's conventions"
    text = str(report)
    assert "moved towards the batch's biased variance, with momentum 0.9 on the old value" in text
    assert "np.random.seed(seed), then np.random.rand(*x.shape) < p" in text and "(seed 3)" in text
    assert "W1 = params['W1'].T" in text and "reg 0.001 as L2 0.001 on the weights" in text
    biases = [row for row in report.rows if row.kind == "gradient" and row.layer in ("b1", "b2")]
    assert all(row.batch.passed for row in biases)  # exactly 0, compared at the weight's scale, not their own


def test_the_2017_handouts_dropout_is_compared_when_p_is_said_to_be_the_drop_probability():
    layers = {"dropout_forward": cs231n_norm.dropout_forward_2017,
              "dropout_backward": cs231n_norm.dropout_backward_2017}
    model = cs231n_model("plain", "float64", dropout_keep_ratio=0.3, seed=1, layers=layers)  # p = 0.3 dropped
    assert check_model(model, dropout_p="drop").passed
    assert not check_model(model).passed


def test_a_model_of_another_input_size_is_fed_mnists_pixels_repeated_and_says_so():
    np.random.seed(0)
    report = check_model(FullyConnectedNet([10], num_classes=7, weight_scale=SCALE, dtype=np.float64))
    assert report.passed, str(report)
    assert report.architecture.startswith("3072-10-7") and "repeated to fill the model's 3072 inputs" in str(report)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule, config, recipe", [
    (optim.sgd_momentum, {}, "SGD (momentum 0.9)"), (optim.rmsprop, {"learning_rate": 1e-3}, "RMSprop"),
    (optim.adam, {}, "Adam")])
def test_an_update_rules_steps_are_checked_against_torch_optim(rule, config, recipe, dtype):
    report = check_model(cs231n_model("batchnorm_dropout", dtype), update=rule, optim_config=config)
    assert report.passed, str(report)
    assert report.recipe.startswith(recipe) and f"{rule.__name__}(w, dw, config) on each parameter" in str(report)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule, cause", [(optim_planted.adam_uncorrected, "adam_bias_correction"),
                                         (optim_planted.adam_t_from_one, "step_count_off_by_one"),
                                         (optim_planted.adam_t_not_stored, "adam_step_stuck"),
                                         (optim_planted.rmsprop_no_sqrt, "rmsprop_no_sqrt"),
                                         (optim_planted.sgd_momentum_velocity_not_stored,
                                          "momentum_no_velocity_store")])
def test_a_planted_update_rule_is_named_from_the_models_steps(rule, cause, dtype):
    report = check_model(cs231n_model("plain", dtype), update=rule)
    assert report.cause.name == cause, str(report)


def test_an_update_rule_that_forgets_its_state_is_compared_with_the_optimizer_its_hyperparameters_say():
    report = check_model(cs231n_model("plain", "float64"), update=optim_planted.sgd_momentum_velocity_not_stored)
    assert report.recipe.startswith("SGD (momentum 0.9)") and not report.passed


def test_the_learners_model_is_left_as_it_was():
    model = cs231n_model("batchnorm_dropout", "float64")
    del model.dropout_param["seed"]
    params = {k: v.copy() for k, v in model.params.items()}
    report = check_model(model, update=optim.adam)
    assert report.passed and "check_model set 0 on its copy" in str(report)
    assert "seed" not in model.dropout_param and all("running_mean" not in p for p in model.bn_params)
    assert all(np.array_equal(params[k], model.params[k]) for k in params)
    unfinalized = nnfs_model(finalize=False)
    assert check_model(unfinalized).passed and not hasattr(unfinalized, "input_layer")


def batchnorm_forward_in_place(x, gamma, beta, bn_param):
    """The handout's batchnorm_forward, its running statistics moved in the arrays it was given."""
    before = {key: bn_param[key] for key in ("running_mean", "running_var") if key in bn_param}
    out, cache = cs231n_norm.batchnorm_forward(x, gamma, beta, bn_param)
    for key, array in before.items():
        array[...] = bn_param[key]
        bn_param[key] = array
    return out, cache


def test_a_gradient_leaves_running_statistics_moved_in_place_as_they_were():
    model = cs231n_model("batchnorm_dropout", "float64", layers={"batchnorm_forward": batchnorm_forward_in_place})
    adapter = Cs231nModel(model, "FullyConnectedNet")
    x, t = np.random.default_rng(0).uniform(0, 1, (8, 784)), np.eye(10)[np.arange(8)]
    adapter.train(x, t)  # running statistics of its own, which the next pass moves in place
    before = adapter.get_buffers()
    adapter.gradients(x, t)
    assert all(np.array_equal(a, b) for a, b in zip(before, adapter.get_buffers()))
    assert check_model(model).passed


# -- nnfs -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer, l2, recipe", [
    (None, 0.0, "Adam (eps 1e-07), lr / (1 + 0.001 t)"),
    (nnfs.Optimizer_SGD(learning_rate=0.1, momentum=0.9), 5e-4, "SGD (momentum 0.9), L2 0.001 on the weights"),
    (nnfs.Optimizer_RMSprop(learning_rate=1e-3, decay=1e-2), 0.0, "RMSprop (alpha 0.9, eps 1e-07), lr / (1 + 0.01 t)")],
    ids=["adam", "sgd", "rmsprop"])
def test_a_correct_nnfs_model_passes_with_its_recipe_read_from_its_optimizer(optimizer, l2, recipe, dtype):
    report = check_model(nnfs_model(dtype, optimizer, l2=l2))
    assert report.passed, str(report)
    assert report.recipe == recipe and report.architecture.startswith("784-16-12-10, relu")
    assert "W2 = layers[3].weights.T, b2 = layers[3].biases[0]" in str(report)


class Loss_CategoricalCrossentropy_Chapter22(nnfs.Loss_CategoricalCrossentropy):
    """The book's chapter-22 loss: the penalty over the layers Model.finalize hands it, no argument."""

    def remember_trainable_layers(self, trainable_layers):
        self.trainable_layers = trainable_layers

    def regularization_loss(self):
        return sum(layer.weight_regularizer_l2 * np.sum(layer.weights * layer.weights)
                   for layer in self.trainable_layers)


def test_the_penalty_is_read_through_either_chapters_regularization_loss():
    model = nnfs_model(l2=5e-4, optimizer=nnfs.Optimizer_SGD(learning_rate=0.1))
    model.loss = Loss_CategoricalCrossentropy_Chapter22()
    model.loss.remember_trainable_layers(model.trainable_layers)
    report = check_model(model)
    assert report.passed and report.recipe == "SGD, L2 0.001 on the weights", str(report)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cause, planted, keywords", [
    ("dropout_not_inverted", {"dropout": nnfs_planted.Layer_Dropout_NotInverted}, {}),
    ("dropout_keep_for_drop", {"dropout": nnfs_planted.Layer_Dropout_RateKept}, {"dropout": 0.1}),
    ("sum_not_mean", {"combined": nnfs_planted.Activation_Softmax_Loss_CategoricalCrossentropy_Summed}, {})],
    ids=["dropout_not_inverted", "dropout_keep_for_drop", "softmax_dx_not_averaged"])
def test_each_planted_nnfs_layer_is_named_by_the_catalogue(cause, planted, keywords, dtype):
    report = check_model(nnfs_model(dtype, **planted), **keywords)
    assert report.cause.name == cause, str(report)


def test_nnfs_dropouts_stored_keep_rate_is_read_unless_the_built_rate_is_given():
    model = nnfs_model(dropout=nnfs_planted.Layer_Dropout_RateKept)  # Layer_Dropout(0.1) keeping 0.1
    assert "dropout 0.9" in check_model(model).architecture
    assert "dropout 0.1" in check_model(model, dropout=0.1).architecture


@pytest.mark.parametrize("planted", [{"dense": nnfs_planted.Layer_Dense_GradsAveraged},
                                     {"relu": nnfs_planted.Activation_ReLU_MaskFromDvalues}], ids=["dense", "relu"])
def test_a_planted_nnfs_layer_no_catalogue_entry_names_fails_at_its_gradients(planted):
    row, _, cell = check_model(nnfs_model(**planted)).first_failure
    assert row.kind == "gradient" and not cell.passed


# -- what is not a model ------------------------------------------------------------------------------

class ReturnsTheLossAlone(TwoLayerNet):
    def loss(self, X, y=None):
        found = super().loss(X, y)
        return found if y is None else found[0]


class ForgetsAGradient(TwoLayerNet):
    def loss(self, X, y=None):
        found = super().loss(X, y)
        return found if y is None else (found[0], {k: v for k, v in found[1].items() if k != "b2"})


class TransposesAGradient(TwoLayerNet):
    def loss(self, X, y=None):
        found = super().loss(X, y)
        return found if y is None else (found[0], {**found[1], "W1": found[1]["W1"].T})


def with_nan():
    model = TwoLayerNet(input_dim=784, hidden_dim=6)
    model.params["W2"][1, 2] = np.nan
    return model


def with_linear_output():
    model = nnfs_model(rate=0.0, finalize=False)
    model.layers[-1] = type("Activation_Linear", (), {"forward": lambda self, x, training: None})()
    return model


@pytest.mark.parametrize("make, words", [
    (object, "check_model takes a model as cs231n writes one"),
    (lambda: ReturnsTheLossAlone(input_dim=784, hidden_dim=6), "ReturnsTheLossAlone.loss(X, y) returned 2.30"),
    (lambda: ForgetsAGradient(input_dim=784, hidden_dim=6), "returned grads without b2; expected one per parameter"),
    (lambda: TransposesAGradient(input_dim=784, hidden_dim=6), "grads['W1'] of shape (6, 784); expected (784, 6) "
                                                               "(the transpose)"),
    (with_nan, "TwoLayerNet.params['W2'] holds nan at [1, 2]"),
    (with_linear_output, "expected Layer_Dense, then for each hidden layer one activation"),
])
def test_what_is_not_a_model_of_either_form_is_one_sentence(make, words):
    with pytest.raises(ConformanceError) as caught:
        check_model(make())
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_keyword_of_the_other_form_is_one_sentence():
    with pytest.raises(ParameterError, match="The 'update' parameter is for cs231n's models; Model is nnfs's"):
        check_model(nnfs_model(), update=optim.adam)
    with pytest.raises(ParameterError, match="The 'dropout' parameter is for nnfs's models"):
        check_model(cs231n_model("plain", "float64"), dropout=0.2)
