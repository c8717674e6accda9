"""check_layer on the learners' own layers (tests/users): every correct cs231n pair and nnfs object passes,
in float64 and float32; every planted mistake is named with its catalogue's cause, at the configurations
check_layer chooses itself (never the fixture's ``param``); and what the check is told or given
besides (a parameter dict, a convention, code that changes what it is given, code of neither form)."""
from __future__ import annotations

import numpy as np
import pytest

from common.errors import ConformanceError, ParameterError
from compare import check_layer
from compare.check.layer import layer_checks
from compare.check.mistakes import catalogue
from common.layers import KINDS
from tests.users import cs231n_layers as cs231n
from tests.users import nnfs_layers as nnfs
from tests.users.cs231n_layers_planted import PLANTED
from tests.users.nnfs_planted import PLANTED_LAYERS

DTYPES = ("float64", "float32")

# The fixtures' names for mistakes the catalogues name otherwise: one name per mistake, for check_network
# and check_layer alike (a missing derivative and a sum where the mean belongs are check_network's own).
CATALOGUE_NAMES = {
    "dw_kernel_rotated": "rotated_dw", "padding_one_side": "padding_mismatch",
    "pool_gradient_spread": "pool_gradient", "pool_ties_all": "pool_ties",
    "spatial_reshape_no_transpose": "spatial_reshape", "bn_batch_stats_in_test": "bn_batch_stats_in_eval",
    "dropout_mask_shared_by_rows": "dropout_mask_shared", "sigmoid_missing_derivative": "missing_derivative",
    "softmax_sum_not_mean": "sum_not_mean", "softmax_dx_not_averaged": "sum_not_mean",
}

CORRECT_PAIRS = {
    "dense": [(cs231n.affine_forward, cs231n.affine_backward)],
    "relu": [(cs231n.relu_forward, cs231n.relu_backward)],
    "sigmoid": [(cs231n.sigmoid_forward, cs231n.sigmoid_backward)],
    "tanh": [(cs231n.tanh_forward, cs231n.tanh_backward)],
    "conv": [(cs231n.conv_forward_naive, cs231n.conv_backward_naive)],
    "maxpool": [(cs231n.max_pool_forward_naive, cs231n.max_pool_backward_naive)],
    "batchnorm": [(cs231n.batchnorm_forward, cs231n.batchnorm_backward),
                  (cs231n.batchnorm_forward, cs231n.batchnorm_backward_alt),
                  (cs231n.batchnorm_forward_torch, cs231n.batchnorm_backward)],
    "spatial_batchnorm": [(cs231n.spatial_batchnorm_forward, cs231n.spatial_batchnorm_backward)],
    "layernorm": [(cs231n.layernorm_forward, cs231n.layernorm_backward)],
    "dropout": [(cs231n.dropout_forward, cs231n.dropout_backward),
                (cs231n.dropout_forward_2017, cs231n.dropout_backward_2017)],
    "softmax_loss": [(cs231n.softmax_loss, None)],
}
PAIRS = [(kind, forward, backward) for kind, pairs in CORRECT_PAIRS.items() for forward, backward in pairs]
OBJECTS = {"dense": nnfs.Layer_Dense, "relu": nnfs.Activation_ReLU, "sigmoid": nnfs.Activation_Sigmoid,
           "dropout": nnfs.Layer_Dropout, "softmax_loss": nnfs.Activation_Softmax_Loss_CategoricalCrossentropy}
ENTRIES = [(kind, cause, entry) for kind, causes in PLANTED.items() for cause, entry in causes.items()]
NNFS_ENTRIES = [(kind, cause, entry) for kind, causes in PLANTED_LAYERS.items() for cause, entry in causes.items()]


def _id(kind, forward, backward=None):
    return f"{kind}-{forward.__name__}" + (f"-{backward.__name__}" if backward else "")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, forward, backward", PAIRS, ids=[_id(*p) for p in PAIRS])
def test_every_correct_pair_passes_at_every_configuration(kind, forward, backward, dtype):
    report = check_layer(kind, forward, backward, dtype=dtype)
    assert report.passed and report.cause is None, str(report)
    assert len({row.configuration for row in report.rows}) >= 2, "a kind is checked at more than one configuration"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", list(OBJECTS))
def test_every_correct_nnfs_object_passes(kind, dtype):
    report = check_layer(kind, OBJECTS[kind], dtype=dtype)
    assert report.passed, str(report)
    assert check_layer(kind, OBJECTS[kind](*((4, 3) if kind == "dense" else (0.1,) if kind == "dropout" else ())),
                       dtype=dtype).passed, "an instance is checked by its class"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, cause, entry", ENTRIES, ids=[f"{k}-{c}" for k, c, _ in ENTRIES])
def test_planted_pair_is_named_with_its_catalogue_cause(kind, cause, entry, dtype):
    report = check_layer(kind, entry["forward"], entry["backward"], dtype=dtype)
    assert not report.passed, str(report)
    assert report.cause.name == CATALOGUE_NAMES.get(cause, cause), str(report)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, cause, entry", NNFS_ENTRIES, ids=[f"{k}-{c}" for k, c, _ in NNFS_ENTRIES])
def test_planted_nnfs_object_is_named_with_its_catalogue_cause(kind, cause, entry, dtype):
    report = check_layer(kind, entry["layer"], dtype=dtype)
    assert not report.passed, str(report)
    assert report.cause.name == CATALOGUE_NAMES.get(cause, cause), str(report)


def test_every_fixture_kind_is_a_kind_check_layer_knows():
    assert set(layer_checks()) == set(PLANTED) == set(CORRECT_PAIRS)


@pytest.mark.parametrize("kind", sorted(k for k in layer_checks() if k in KINDS and k != "dense"))
def test_a_network_catalogue_mistake_is_named_the_same_by_check_layer(kind):
    """One catalogue per kind: each mistake check_network can name in a layer of this kind, check_layer can
    name in the layer alone, by the same name (a dense layer's transposed weight is a layout check_layer reads)."""
    spec = KINDS[kind](inputs=(3, 8, 8) if kind in ("conv", "maxpool", "spatial_batchnorm") else (12,))
    network = {planted.name for planted in catalogue(spec)}
    assert network <= {mistake.name for mistake in layer_checks()[kind].mistakes()}


def test_a_mistake_one_configuration_shows_is_said_to_fail_there_alone():
    entry = PLANTED["conv"]["dx_pad_slice_empty_at_pad0"]
    report = check_layer("conv", entry["forward"], entry["backward"])
    assert report.failed_configurations == ["pad 0, stride 1, 3×3 kernel, maps 2×2×8×8"]
    first = report.first_failure
    assert (first.compared, first.note) == ("dx", "shape (2, 2, 0, 0); torch's (2, 2, 8, 8)")
    text = str(report)
    assert "FAILED: first at dx for pad 0, stride 1, 3×3 kernel, maps 2×2×8×8: shape (2, 2, 0, 0); torch's" in text
    assert "likely cause (dx_pad_slice_empty_at_pad0, conv_backward_unpad_negative): " in text


def test_a_parameter_dict_by_keyword_checks_that_configuration_alone():
    entry = PLANTED["conv"]["dx_pad_slice_empty_at_pad0"]
    at_pad_1 = check_layer("conv", entry["forward"], entry["backward"], conv_param={"stride": 1, "pad": 1})
    assert at_pad_1.passed and {row.configuration for row in at_pad_1.rows} == {
        "conv_param {'stride': 1, 'pad': 1}, 3×3 kernel, maps 2×2×8×8"}
    at_pad_0 = check_layer("conv", entry["forward"], entry["backward"], conv_param={"stride": 2, "pad": 0})
    assert at_pad_0.cause.name == "dx_pad_slice_empty_at_pad0"
    report = check_layer("maxpool", cs231n.max_pool_forward_naive, cs231n.max_pool_backward_naive,
                         pool_param={"pool_height": 2, "pool_width": 3, "stride": 1})
    assert report.passed and len({row.configuration for row in report.rows}) == 1
    with pytest.raises(ParameterError, match=r"check_layer\('conv', \.\.\.\) takes conv_param=\. Got pool_param="):
        check_layer("conv", cs231n.conv_forward_naive, cs231n.conv_backward_naive, pool_param={})


def test_the_conventions_read_are_said_and_torch_compared_under_them():
    recent = check_layer("dropout", cs231n.dropout_forward, cs231n.dropout_backward)
    old = check_layer("dropout", cs231n.dropout_forward_2017, cs231n.dropout_backward_2017)
    assert recent.passed and old.passed
    assert recent.conventions[0].startswith("p is the probability of keeping a unit (cs231n's recent handouts): read")
    assert old.conventions[0].startswith("p is the probability of dropping a unit")
    cs231n_bn = check_layer("batchnorm", cs231n.batchnorm_forward, cs231n.batchnorm_backward)
    torch_bn = check_layer("batchnorm", cs231n.batchnorm_forward_torch, cs231n.batchnorm_backward)
    assert "the biased σ²" in cs231n_bn.conventions[0] and "the unbiased σ²" in torch_bn.conventions[0]
    assert "read from bn_param after the first training call" in cs231n_bn.conventions[0]


def test_a_convention_given_by_keyword_makes_the_other_a_mistake():
    told = check_layer("batchnorm", cs231n.batchnorm_forward, cs231n.batchnorm_backward,
                       convention={"running_var": "unbiased"})
    assert told.cause.name == "bn_biased_running_var", str(told)
    assert check_layer("dropout", cs231n.dropout_forward_2017, cs231n.dropout_backward_2017,
                       convention="cs231n").cause.name == "dropout_keep_for_drop"
    assert check_layer("dropout", cs231n.dropout_forward, cs231n.dropout_backward,
                       convention="cs231n-2017").cause.name == "dropout_keep_for_drop"
    assert check_layer("dropout", cs231n.dropout_forward_2017, cs231n.dropout_backward_2017,
                       convention={"p": "drop"}).passed
    with pytest.raises(ParameterError, match="The 'convention' parameter of check_layer\\('dropout'"):
        check_layer("dropout", cs231n.dropout_forward, cs231n.dropout_backward, convention={"p": "kept"})


def test_torchs_whole_convention_is_read_and_a_keyword_the_code_does_not_keep_is_named():
    def batchnorm_forward_ones(x, gamma, beta, bn_param):  # torch's start: the running variance at 1
        bn_param.setdefault("running_var", np.ones(x.shape[1], dtype=x.dtype))
        return cs231n.batchnorm_forward_torch(x, gamma, beta, bn_param)

    read = check_layer("batchnorm", batchnorm_forward_ones, cs231n.batchnorm_backward)
    assert read.passed, str(read)
    assert read.conventions[0].startswith("running statistics from 0 (mean) and 1 (variance), moved towards the "
                                          "batch's mean and the unbiased σ²")
    assert check_layer("batchnorm", batchnorm_forward_ones, cs231n.batchnorm_backward, convention="torch").passed
    from_zero = check_layer("batchnorm", cs231n.batchnorm_forward_torch, cs231n.batchnorm_backward,
                            convention="torch")
    assert from_zero.cause.name == "bn_running_var_from_zero", str(from_zero)
    assert from_zero.conventions[1] == ("the code's own, read from bn_param after the first training call: from 0 "
                                        "(mean and variance)")
    handout = check_layer("batchnorm", cs231n.batchnorm_forward, cs231n.batchnorm_backward, convention="torch")
    assert handout.cause.name == "bn_other_convention", str(handout)
    assert "the biased σ²" in handout.conventions[1]


def test_weights_in_torchs_layout_are_read_as_such():
    def affine_forward(x, w, b):  # w (M, D), as nn.Linear.weight
        return x.reshape(len(x), -1) @ w.T + b, (x, w)

    def affine_backward(dout, cache):
        x, w = cache
        return (dout @ w).reshape(x.shape), dout.T @ x.reshape(len(x), -1), dout.sum(axis=0)

    class Layer_Dense(nnfs.Layer_Dense):  # weights (n_neurons, n_inputs), biases (n_neurons,)
        def __init__(self, n_inputs, n_neurons):
            self.weights, self.biases = np.zeros((n_neurons, n_inputs)), np.zeros(n_neurons)

        def forward(self, inputs, training=False):
            self.inputs, self.output = inputs, inputs @ self.weights.T + self.biases

        def backward(self, dvalues):
            self.dweights, self.dbiases = dvalues.T @ self.inputs, dvalues.sum(axis=0)
            self.dinputs = dvalues @ self.weights

    for report in (check_layer("dense", affine_forward, affine_backward), check_layer("dense", Layer_Dense)):
        assert report.passed, str(report)
        assert report.conventions[0].startswith("w laid out (M, D), out = x @ w.T (torch's nn.Linear.weight)")


def test_code_that_changes_what_it_is_given_is_checked_on_copies_and_told():
    def relu_forward(x):
        np.maximum(x, 0, out=x)  # in place: x is the cache, and still says where x > 0
        return x, x

    def relu_backward(dout, cache):
        dout[cache <= 0] = 0  # writes into dout
        return dout

    report = check_layer("relu", relu_forward, relu_backward)
    assert report.passed, str(report)
    assert report.notes == [
        "relu_forward changes the x it is given in place (every call is given a copy, so it is checked all the same)",
        "relu_backward changes the dout it is given in place (every call is given a copy, so it is checked all the "
        "same)"]
    assert "Note: relu_backward changes the dout it is given in place" in str(report)


def test_a_float64_result_from_float32_inputs_is_told_and_compared_as_it_is():
    report = check_layer("dropout", nnfs.Layer_Dropout, dtype="float32")  # np.random.binomial's mask is float64
    assert report.passed
    assert report.notes[0].startswith("Layer_Dropout.forward returns output as float64 for float32 inputs")


def _relu_forward_out_alone(x):
    return np.maximum(0, x)


_relu_forward_out_alone.__name__ = "relu_forward"


def _raises_everywhere(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(W) + b  # noqa: F821 (the reader's typo: W for w)
    return out, (x, w, b)


def test_code_of_neither_form_or_that_never_runs_is_one_sentence():
    with pytest.raises(ParameterError, match="The 'kind' parameter must be one of batchnorm, conv, dense, dropout, "
                                             "layernorm, maxpool, relu, sigmoid, softmax_loss, spatial_batchnorm, "
                                             "tanh. Got 'affine' instead."):
        check_layer("affine", cs231n.affine_forward, cs231n.affine_backward)
    with pytest.raises(ConformanceError, match="its backward is an int"):
        check_layer("dense", cs231n.affine_forward, 3)
    with pytest.raises(ConformanceError, match=r"affine_forward alone; it takes cs231n's pair"):
        check_layer("dense", cs231n.affine_forward)
    with pytest.raises(ConformanceError, match="nnfs has no conv object"):
        check_layer("conv", nnfs.Layer_Dense)
    with pytest.raises(ConformanceError, match=r"relu_forward returned an ndarray of shape \(4, 30\) and dtype "
                                               r"float64; expected \(out, cache\), cs231n's form: relu_forward"):
        check_layer("relu", _relu_forward_out_alone, cs231n.relu_backward)
    with pytest.raises(ConformanceError) as raised:
        check_layer("dense", _raises_everywhere, cs231n.affine_backward)
    message = str(raised.value)
    assert message.startswith("_raises_everywhere raised NameError: name 'W' is not defined")
    assert "test_check_layer.py" in message and "compare/check" not in message, message
    with pytest.raises(ConformanceError, match=r"returned dx of shape \(2, 3\) at every configuration"):
        check_layer("softmax_loss", lambda x, y: (0.0, np.zeros((2, 3))))


def test_the_report_is_rendered_from_its_record():
    entry = PLANTED["maxpool"]["pool_overwrites_overlap"]
    report = check_layer("maxpool", entry["forward"], entry["backward"])
    record = report.to_json()
    assert record["passed"] is False and record["cause"]["name"] == "pool_overwrites_overlap"
    assert record["failed_configurations"] == ["3×3 windows, stride 2 (overlapping), maps 2×2×9×9",
                                               "3×2 windows, stride 2, maps 2×2×7×8"]  # its rows overlap too
    text = str(report)
    assert text.splitlines()[0] == ("check_layer('maxpool'): max_pool_forward_naive / max_pool_backward_overwrites, "
                                    "cs231n's pair, float64")
    assert text.splitlines()[-1].startswith("likely cause (pool_overwrites_overlap, max_pool_backward_overwrites): ")


def _dropout_forward_rows_only(x, dropout_param):
    if x.ndim != 2:
        raise ValueError(f"expected rows of samples, got x of shape {x.shape}")
    return cs231n.dropout_forward(x, dropout_param)


def test_code_that_raises_at_one_configuration_fails_there_and_is_checked_at_the_others():
    report = check_layer("dropout", _dropout_forward_rows_only, cs231n.dropout_backward, dtype=np.float32)
    assert report.failed_configurations == ["p = 0.5, MNIST maps 4×2×14×14"]
    row = report.first_failure
    assert (row.compared, row.note) == ("forward", "_dropout_forward_rows_only raised ValueError: expected rows of "
                                                   "samples, got x of shape (4, 2, 14, 14)")
    assert report.cause.name == "unexplained"
    assert report.cause.sentence.startswith("at p = 0.5, MNIST maps 4×2×14×14, _dropout_forward_rows_only raised "
                                            "ValueError")
    assert all(row.passed for row in report.rows if row.configuration.startswith("p = 0.8"))
