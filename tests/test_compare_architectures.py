"""``python -m compare`` beyond the book's network: hidden layers as a list (or none), tanh and
ReLU, softmax cross-entropy, biases; recorded, saved, and refused where they do not fit."""
from __future__ import annotations

import numpy as np
import pytest

import from_scratch
from common.architecture import Architecture
from common.data import load_embedded, one_hot_targets, scale_inputs
from common.errors import DataError
from common.weights import initial_weights, load_weights
from compare import Config
from tests.cli_helpers import exited, outcome

DEEP = Architecture(784, [20, 10], 10, "tanh", "cross_entropy", True)
NONE = Architecture(784, [], 10, "tanh", "cross_entropy", True)


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    """Two hidden layers and none, tanh, softmax cross-entropy, biases: a sweep of two networks."""
    folder = tmp_path_factory.mktemp("deep")
    return outcome(folder, "--hidden", "20,10", "none", "--activation", "tanh", "--loss", "cross-entropy", "--bias",
                   "--lr", "0.05", "--train-limit", 300, "--test-limit", 50, "--check-every", 100,
                   "--save", folder / "saved")


def test_deep_and_shallow_networks_run_and_agree_with_the_architecture_in_the_header(deep):
    report, record = exited(deep, 0).run.stdout, deep.record()
    assert report.startswith("784-{20-10 | none}-10, tanh, softmax cross-entropy, bias, lr 0.05, ")
    assert [run["architecture"] for run in record["runs"]] == [DEEP.to_json(), NONE.to_json()]
    assert record["config"]["architectures"] == [DEEP.to_json(), NONE.to_json()]
    assert record["agreement"]["passed"] is True


def test_every_parameter_is_checked_by_its_name(deep):
    for run, architecture in zip(exited(deep, 0).record()["runs"], (DEEP, NONE), strict=True):
        checks = run["agreement"]["checks"]
        for kind in ("gradient", "step", "weights"):
            assert {c["layer"] for c in checks if c["kind"] == kind} == set(architecture.parameter_names())
        assert all(c["passed"] for c in checks)


def test_saved_weights_load_into_their_architecture_and_nowhere_else(deep):
    folder = exited(deep, 0).folder / "saved"
    record = deep.record()
    test_set = load_embedded().limit(300, 50)
    weights = load_weights(folder / "torch_impl_h20-10.npz", DEEP)
    network = from_scratch.Network(784, [20, 10], 10, 0.05, activation="tanh", loss="cross_entropy", bias=True)
    network.set_weights(weights)
    accuracy = np.mean(network.query(scale_inputs(test_set.test_images)).argmax(axis=1) == test_set.test_labels)
    assert accuracy == record["runs"][0]["backends"]["torch_impl"]["accuracy"]
    with pytest.raises(DataError) as refused:
        load_weights(folder / "from_scratch_hnone.npz", Architecture(784, 200, 10))
    (sentence,) = str(refused.value).splitlines()
    assert "holds weights for 784-10, softmax cross-entropy, bias, not for 784-200-10" in sentence


def test_targets_follow_the_loss():
    """Cross-entropy trains towards 0/1 one-hot targets, the book's loss towards 0.01/0.99."""
    from compare.race.runner import run

    data = load_embedded().limit(10, 10)
    for loss in ("cross_entropy", "half_sse"):
        config = Config(hidden=(20,), loss=loss, bias=True, train_limit=10, test_limit=10, check_every=10)
        (result,), _ = run(config, data)
        architecture = config.architectures[0]
        network = from_scratch.Network(784, 20, 10, 0.1, loss=loss, bias=True)
        network.set_weights(initial_weights(architecture, seed=0))
        targets = one_hot_targets(data.train_labels[:1], values=architecture.target_values)
        first = network.train(scale_inputs(data.train_images[:1])[0], targets[0])
        assert result.backends[0].loss_curve[0] == (1, first), loss  # ten points a segment: the first is step 1
