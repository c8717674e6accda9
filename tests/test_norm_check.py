"""check_network and the race on networks with batch normalization, layer normalization and dropout.

Correct networks written in cs231n's style (tests/users/cs231n_normnet.py) pass, in float64 and float32;
each classic mistake of those layers, planted one line at a time, is named, each only where its
numbers are the network's; and what a network with such layers must keep (its buffers, the seed its
masks are drawn from, batches where a layer normalizes over the batch) is said in one sentence.
"""
import re

import numpy as np
import pytest

import from_scratch
import torch_impl
from common.errors import ConformanceError, ParameterError
from common.tolerances import relative_difference
from compare import check_network
from compare.race.cli import EXIT_OK, EXIT_USAGE, main
from from_scratch.layers import batchnorm as numpy_batchnorm
from tests.users import cs231n_normnet as users

CORRECT = (users.BatchNormNet, users.LayerNormNet, users.DropoutNet)
HIDDEN = [16, 12]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls", CORRECT, ids=lambda c: c.__name__)
def test_a_correct_network_with_these_layers_passes_check_network(cls, dtype):
    report = check_network(cls(784, HIDDEN, 10, 0.05, dtype=dtype))
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls", users.MISTAKES, ids=lambda c: c.__name__)
def test_each_planted_mistake_is_named_at_its_layer(cls, dtype):
    report = check_network(cls(784, HIDDEN, 10, 0.05, dtype=dtype))
    if cls is users.EpsOutsideSqrt and dtype == "float32":
        # ε = 1e-5 outside the square root moves x̂ by about ε/2 of itself where σ² is of order 1: below
        # float32's tolerance (4.9e-4), so the network computes what torch does, to its dtype.
        assert report.passed, str(report)
        return
    assert not report.passed
    assert (report.cause.name, report.cause.layer) == (cls.CAUSE, cls.LAYER), str(report)


def test_a_batch_normalized_dense_layer_is_checked_on_batches_alone_and_the_report_says_why():
    report = check_network(users.BatchNormNet(784, HIDDEN, 10, 0.05))
    assert all(row.single is None for row in report.rows if row.kind not in ("state",))
    assert "One sample: not checked: batch normalization after a dense layer" in str(report)
    with pytest.raises(Exception, match="at least 2"):
        check_network(users.BatchNormNet(784, HIDDEN, 10, 0.05), batch_size=1)


class ReshapedBatchNorm(numpy_batchnorm.BatchNorm):
    """A spatial batch norm that reshapes (n, C, H, W) to (n·H·W, C) without moving the channels last."""

    def forward(self, x, training):
        rows = np.ascontiguousarray(x).reshape(-1, x.shape[1])  # the mistake: no transpose to channels last first
        out, cache = super().forward(rows, training)
        return out.reshape(x.shape), (cache, x.shape)

    def backward(self, dout, cached, need_dx=True):
        cache, shape = cached
        dx, grads = super().backward(np.ascontiguousarray(dout).reshape(-1, shape[1]), cache, need_dx)
        return dx.reshape(shape), grads


class ReshapedSpatialNorm(from_scratch.Network):
    """from_scratch's network running :class:`ReshapedBatchNorm` for its spatial batch norms."""

    def __init__(self, *args, **keywords):
        super().__init__(*args, **keywords)
        for position, spec in enumerate(self.architecture.layers):
            if spec.kind == "spatial_batchnorm":
                self.use_layer(position, ReshapedBatchNorm(spec, self.dtype))


def test_a_spatial_batch_norm_reshaped_without_moving_the_channels_is_named():
    keywords = dict(activation="relu", loss="cross_entropy", bias=True, conv=((3, 5, 0),), norm="batch", seed=0)
    assert check_network(from_scratch.Network(784, [10], 10, 0.05, **keywords), batch_size=4).passed
    report = check_network(ReshapedSpatialNorm(784, [10], 10, 0.05, **keywords), batch_size=4)
    assert (report.cause.name, report.cause.layer) == ("spatial_reshape", "norm_conv1"), str(report)


def test_gradients_leave_the_running_statistics_as_they_were_in_both_backends():
    rng = np.random.default_rng(0)
    x, t = rng.uniform(0, 1, (8, 784)), np.eye(10)[rng.integers(0, 10, 8)]
    for cls in (from_scratch.Network, torch_impl.Network):
        network = cls(784, HIDDEN, 10, 0.05, "relu", "cross_entropy", True, seed=0, norm="batch",
                      conv=((2, 5, 0),))
        before = network.get_buffers()
        network.gradients(x, t)
        network.intermediate_gradients(x, t)
        assert all(np.array_equal(a, b) for a, b in zip(before, network.get_buffers())), cls
        network.train(x, t)
        assert not all(np.array_equal(a, b) for a, b in zip(before, network.get_buffers())), cls


def test_both_backends_drop_the_same_units_at_each_step():
    rng = np.random.default_rng(1)
    x, t = rng.uniform(0, 1, (8, 784)), np.eye(10)[rng.integers(0, 10, 8)]
    networks = [cls(784, HIDDEN, 10, 0.05, "relu", "cross_entropy", True, seed=3, dropout=0.5)
                for cls in (from_scratch.Network, torch_impl.Network)]
    for _ in range(3):
        gradients = [network.gradients(x, t) for network in networks]
        assert max(relative_difference(a, b) for a, b in zip(*gradients)) < 1e-12
        for network in networks:
            network.train(x, t)
    moved = networks[0].get_weights()
    again = from_scratch.Network(784, HIDDEN, 10, 0.05, "relu", "cross_entropy", True, seed=4, dropout=0.5)
    again.set_weights(from_scratch.Network(784, HIDDEN, 10, 0.05, "relu", "cross_entropy", True, seed=3,
                                           dropout=0.5).get_weights())
    for _ in range(3):
        again.train(x, t)
    assert max(relative_difference(a, b) for a, b in zip(moved, again.get_weights())) > 1e-3  # another seed


class WithoutBuffers(users.BatchNormNet):
    get_buffers = set_buffers = None


class WithoutSeed(users.DropoutNet):
    def __init__(self, *args, **keywords):
        super().__init__(*args, **keywords)
        del self.layer_seed

    def dropout_forward(self, x, dropout_param):
        return x, None


@pytest.mark.parametrize("cls, words", [(WithoutBuffers, "needs get_buffers() and set_buffers(buffers)"),
                                        (WithoutSeed, "needs a layer_seed attribute")])
def test_a_network_that_cannot_share_its_layers_state_is_told_so_in_one_sentence(cls, words):
    with pytest.raises(ConformanceError, match=re.escape(words)) as caught:
        check_network(cls(784, HIDDEN, 10, 0.05))
    assert "\n" not in str(caught.value)


def test_batch_norm_after_a_dense_layer_at_one_sample_a_step_is_one_sentence(capsys):
    assert main(["--hidden", "20", "--norm", "batch", "--train-limit", "50", "--test-limit", "10", "--quiet"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "--batch-size must be at least 2" in error and "batch normalization after a dense layer" in error


def test_a_network_that_normalizes_only_convolutions_trains_one_sample_a_step(capsys):
    assert main(["--conv", "2x5", "--hidden", "none", "--activation", "relu", "--loss", "cross-entropy",
                 "--norm", "batch", "--train-limit", "30", "--test-limit", "10", "--check-every", "10",
                 "--quiet"]) == EXIT_OK, capsys.readouterr()


def test_a_correct_user_network_races_and_a_planted_one_is_named_before_the_race(tmp_path, capsys):
    common = ["--hidden", "16,12", "--activation", "relu", "--loss", "cross-entropy", "--bias", "--lr", "0.05",
              "--batch-size", "8", "--train-limit", "80", "--test-limit", "20", "--check-every", "40"]
    path = "tests/users/cs231n_normnet.py"
    assert main(["--backends", "torch_impl", f"{path}:BatchNormNet", "--norm", "batch", *common, "--quiet"]) == EXIT_OK
    capsys.readouterr()
    assert main(["--backends", "torch_impl", f"{path}:MomentumForm", "--norm", "batch", *common]) == 1
    assert "bn_momentum_form" in capsys.readouterr().out


def test_lenet_with_batch_norm_races_and_agrees_its_running_statistics_compared_as_values(capsys):
    """A running mean moves by 0.1 · (batch mean − running), far less than the batch mean's own rounding
    over 32·28·28 numbers a channel: compared as a step it would part beyond the tolerance (1.9e-12 of
    9.1e-13 at the first check on full MNIST); compared as values, both backends' agree."""
    assert main(["--conv", "6x5p2,16x5", "--hidden", "120,84", "--activation", "relu", "--loss", "cross-entropy",
                 "--bias", "--norm", "batch", "--batch-size", "32", "--lr", "0.05", "--train-limit", "2000",
                 "--test-limit", "100", "--quiet"]) == EXIT_OK, capsys.readouterr()


@pytest.mark.parametrize("backend", [from_scratch.Network, torch_impl.Network], ids=["from_scratch", "torch_impl"])
def test_a_training_pass_on_one_sample_of_a_batch_normalized_dense_layer_is_one_sentence(backend):
    network = backend(784, [10], 10, 0.1, norm="batch", seed=0)
    before = network.get_buffers()
    x, t = np.full(784, 0.5), np.eye(10)[1]
    for call in (lambda: network.train(x, t), lambda: network.gradients(x[None], t[None]),
                 lambda: network.intermediate_gradients(x, t)):
        with pytest.raises(ParameterError, match="needs batches of at least 2 samples"):
            call()
    assert all(np.array_equal(a, b) for a, b in zip(before, network.get_buffers()))  # nothing moved
    assert network.query(x).shape == (10,)  # evaluation reads the running statistics: one sample is fine


def test_a_step_of_a_bias_a_batch_norm_cancels_is_judged_at_its_weights_step():
    """The bias's step is rounding noise in both backends; its tolerance (the nudge's measured rounding)
    is taken at the same floor as the difference, so a planted backward that gives it a real step fails."""
    report = check_network(users.NoMeanTerm(784, HIDDEN, 10, 0.05))
    (row,) = [r for r in report.rows if (r.kind, r.layer) == ("step 1", "b1")]
    assert not row.batch.passed and row.batch.tolerance < 1e-6, str(report)
    passing = check_network(users.BatchNormNet(784, HIDDEN, 10, 0.05))
    (row,) = [r for r in passing.rows if (r.kind, r.layer) == ("step 1", "b1")]
    assert row.batch.passed and row.batch.relative < row.batch.tolerance < 1e-6


def test_a_normalized_lenet_under_adam_passes_where_its_rounding_is_measured_inside_the_backward_pass():
    """LeNet-5 with layer normalization under Adam at lr 0.01: at seed 0 a steps row went past the
    tolerance a nudge of the weights gave (the normalization's cancelling sums round inside the backward
    pass, and Adam carries an entry's relative rounding into a full step); the gradients moved by one
    rounding at their own scale (compare.state.rule_step) measure it."""
    from compare import check_network
    from from_scratch import Network as Scratch

    network = Scratch(784, [120, 84], 10, 0.01, activation="relu", loss="cross_entropy", bias=True,
                      conv=((6, 5, 2), (16, 5, 0)), norm="layer", optimizer="adam", seed=0)
    report = check_network(network)
    assert report.passed, str(report)


def test_gradients_nudged_at_their_own_scale_move_every_entry_by_one_rounding_of_the_largest():
    from common.tolerances import nudge_at_scale

    g = [np.array([[4.0, -1e-9], [0.0, 2.0]]), np.zeros(3)]
    moved = nudge_at_scale(g, 2.0**-52, seed=1)
    assert np.allclose(np.abs(moved[0] - g[0]), 4.0 * 2.0**-52, rtol=1e-6, atol=0)
    assert np.array_equal(moved[1], g[1])
