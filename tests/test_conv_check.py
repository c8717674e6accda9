"""check_network for convolutional networks: a correct im2col network written as cs231n's students write
it passes, check_network and a race; each classic convolution mistake planted in it is caught and named,
through check_network and through ``python -m compare --backends torch_impl path.py:Class``; and no
convolution cause is named where the numbers are not its mistake's."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.architecture import Architecture
from common.recipe import Recipe
from common.weights import initial_weights
from compare import check_network
from compare.race.cli import EXIT_DISAGREE, EXIT_OK, main
from compare.state import TrainingState
from compare.check.mistakes import GRADIENTS, OUTPUTS, fitting
from from_scratch import Network
from tests.users import cs231n_conv
from tests.users.cs231n_conv import ConvNet

CONV = ((4, 5, 2), (6, 3, 0))  # small, but padded and unpadded, and overlapping windows in both
HIDDEN = [20]
FILE = "tests/users/cs231n_conv.py"
CONV_CAUSES = {"flipped_kernel", "flatten_order", "padding_mismatch", "pool_gradient", "col2im_overwrites"}


def build(cls, dtype="float64", conv=CONV):
    """``cls`` at the library's starting weights for its architecture, as the race loads them."""
    network = cls(784, HIDDEN, 10, ConvNet.LEARNING_RATE, dtype=dtype, conv=conv)
    network.set_weights(initial_weights(Architecture.of(network), seed=0, dtype=dtype))
    return network


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_correct_im2col_network_as_cs231n_writes_it_passes_check_network(dtype):
    report = check_network(build(ConvNet, dtype))
    assert report.passed and report.cause is None, str(report)
    layers = [row.layer for row in report.rows if row.kind == "gradient"]
    assert layers[-4:] == ["W_conv2", "b_conv2", "W_conv1", "b_conv1"]  # backwards from the output, conv layers last


def test_from_scratch_conv_network_passes_check_network_with_its_intermediate_gradients_named_per_layer():
    report = check_network(Network(784, [20, 12], 10, 0.05, "relu", "cross_entropy", True, conv=CONV, seed=0))
    assert report.passed, str(report)
    rows = [(row.kind, row.layer) for row in report.rows]
    for expected in [("dL/dh", "h_conv2"), ("dL/dz", "z_conv2"), ("gradient", "W_conv2"), ("dL/dh", "h_conv1"),
                     ("dL/dz", "z_conv1"), ("gradient", "W_conv1"), ("step 1", "W_conv1")]:
        assert expected in rows
    assert rows.index(("dL/dh", "h1")) < rows.index(("dL/dh", "h_conv2")) < rows.index(("dL/dh", "h_conv1"))


@pytest.mark.parametrize("cls", cs231n_conv.MISTAKES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_each_planted_conv_mistake_is_caught_at_its_layer_with_its_cause(cls, dtype):
    report = check_network(build(cls, dtype))
    assert not report.passed
    assert (report.cause.name, report.cause.layer) == (cls.CAUSE, cls.LAYER), str(report)
    assert f"likely cause ({cls.CAUSE}, {cls.LAYER})" in str(report)


def race(tmp_path, name, *extra):
    """``python -m compare --backends torch_impl tests/users/cs231n_conv.py:NAME ...`` in this process."""
    path = tmp_path / f"{name}.json"
    code = main(["--backends", "torch_impl", f"{FILE}:{name}", "--conv", "4x5p2,6x3", "--hidden", "20",
                 "--activation", "relu", "--loss", "cross-entropy", "--bias", "--lr", "0.01", "--train-limit", "200",
                 "--test-limit", "50", "--check-every", "100", "--json", str(path), *extra])
    return code, json.loads(path.read_text())


def test_a_correct_im2col_network_races_autograd_and_agrees(tmp_path, capsys):
    code, record = race(tmp_path, "ConvNet")
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert record["agreement"]["passed"] and record["config"]["architectures"][0]["conv"] == [[4, 5, 2], [6, 3, 0]]
    layers = {check["layer"] for check in record["agreement"]["checks"]}
    assert {"W_conv1", "b_conv1", "W_conv2", "b_conv2", "W_ih", "W_ho"} <= layers
    assert "784-conv4x5p2-conv6x3-20-10, relu, softmax cross-entropy, bias" in out
    assert "predictions   ConvNet: identical on 50 of 50 test images" in out


def assert_named_before_the_race(code: int, record: dict, out: str, cls: type) -> None:
    """The race stopped at check_network before its first step (exit 1), naming ``cls.CAUSE`` at ``cls.LAYER``."""
    assert code == EXIT_DISAGREE, out
    diagnosis = record["runs"][0]["diagnosis"]
    assert diagnosis["before_race"] and (diagnosis["cause"]["name"], diagnosis["cause"]["layer"]) == (cls.CAUSE,
                                                                                                     cls.LAYER)
    assert f"likely cause ({cls.CAUSE}, {cls.LAYER})" in out
    assert record["message"].startswith(f"{cls.__name__} fails compare.check_network at its starting weights")


@pytest.mark.parametrize("cls", cs231n_conv.MISTAKES, ids=lambda c: c.__name__)
def test_each_planted_conv_mistake_is_named_by_the_race_before_it_begins(tmp_path, capsys, cls):
    code, record = race(tmp_path, cls.__name__)
    assert_named_before_the_race(code, record, capsys.readouterr().out, cls)


class FlippedInConv2Only(ConvNet):
    """The kernel flipped in the second convolution layer alone: named there, not at conv1."""

    def conv_forward(self, x, w, b, conv_param):
        return super().conv_forward(x, w[:, :, ::-1, ::-1] if w.shape[1] > 1 else w, b, conv_param)

    def conv_backward(self, dout, cache):
        x, w, b, conv_param, x_cols = cache
        if w.shape[1] == 1:
            return super().conv_backward(dout, cache)
        dx, dw, db = super().conv_backward(dout, (x, w[:, :, ::-1, ::-1], b, conv_param, x_cols))
        return dx, dw[:, :, ::-1, ::-1], db


class NoReluMaskInConvLayers(ConvNet):
    """The relu's mask left out below the pools: a mistake outside the convolution catalogue."""

    def scores_and_caches(self, X):
        scores, caches, shape = super().scores_and_caches(X)
        for n in range(len(self.conv)):
            conv_cache, relu_cache, pool_cache = caches[n]
            caches[n] = (conv_cache, np.ones_like(relu_cache), pool_cache)
        return scores, caches, shape


def test_a_mistake_in_one_layer_is_named_at_that_layer():
    report = check_network(build(FlippedInConv2Only))
    assert (report.cause.name, report.cause.layer) == ("flipped_kernel", "conv2"), str(report)
    assert "with the kernel of conv2 flipped" in report.cause.sentence


def test_no_convolution_cause_is_named_where_the_numbers_are_another_mistakes():
    report = check_network(build(NoReluMaskInConvLayers))
    assert not report.passed and report.cause.name not in CONV_CAUSES, str(report)


def test_hypotheses_fit_only_the_numbers_of_their_own_mistake():
    network = build(ConvNet)
    architecture = Architecture.of(network)
    weights, recipe = network.get_weights(), Recipe()
    rng = np.random.default_rng(0)
    inputs = rng.uniform(0.01, 1.0, (4, 784))
    targets = np.eye(10)[[1, 2, 3, 4]]
    doubled = [w * 2 if w.ndim == 1 else w for w in weights]  # every bias doubled: no hypothesis of the catalogue
    other = build(ConvNet)
    other.set_weights(doubled)
    assert fitting(architecture, recipe, TrainingState(weights, None), OUTPUTS,
                   [(inputs, targets, other.query(inputs), 1e-9)]) == []
    cases = [(inputs, targets, other.gradients(inputs, targets), 1e-9)]
    assert fitting(architecture, recipe, TrainingState(weights, None), GRADIENTS, cases) == []
    spread = build(cs231n_conv.PoolGradientSpread)
    found = fitting(architecture, recipe, TrainingState(weights, None), GRADIENTS,
                    [(inputs, targets, spread.gradients(inputs, targets), 1e-9)])
    assert [(h.name, h.layer) for h in found] == [("pool_gradient", "pool2")]
    assert "every maxpool layer (pool1, pool2) hands dL/dy / 4" in found[0].sentence



class Unstated(ConvNet):
    """A convolutional network that does not state its convolutions: described as a dense one."""

    def __init__(self, *args, **keywords):
        super().__init__(*args, **keywords)
        del self.conv


def test_a_conv_network_that_does_not_state_conv_is_told_to_in_one_sentence():
    from common.errors import ConformanceError
    with pytest.raises(ConformanceError, match=r"Unstated.get_weights returned 8 arrays; expected 4: W_ih \(20, 784\), "
                                               r".* \(a convolution's weight among them: the network describes dense "
                                               r"layers only; a convolutional network states its layers as conv = "):
        check_network(Unstated(784, HIDDEN, 10, 0.01, conv=CONV))
