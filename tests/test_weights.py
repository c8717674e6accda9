"""common.weights: the book's initial draw at any architecture; files that record their architecture."""
import numpy as np
import pytest

from common.architecture import Architecture
from common.errors import DataError, ParameterError
from common.weights import initial_weights, load_weights, save_weights


def test_the_books_draw_is_unchanged():
    """784-200-10, seed 3: W_ih then W_ho from one generator, normal(0, n_in^-½), in float64."""
    rng = np.random.default_rng(3)
    wih, who = rng.normal(0.0, 784**-0.5, size=(200, 784)), rng.normal(0.0, 200**-0.5, size=(10, 200))
    for weights in (initial_weights(784, 200, 10, seed=3), initial_weights(784, 200, 10, 3),
                    initial_weights(Architecture(784, 200, 10), seed=3)):
        np.testing.assert_array_equal(weights[0], wih)
        np.testing.assert_array_equal(weights[1], who)
    float32 = initial_weights(784, 200, 10, 3, "float32")
    assert float32[0].dtype == np.float32 and np.array_equal(float32[1], who.astype(np.float32))


def test_every_layer_drawn_as_the_book_does_and_biases_start_at_zero():
    architecture = Architecture(50, [40, 30], 10, "relu", "cross_entropy", True)
    weights = initial_weights(architecture, seed=0, dtype="float32")
    assert [w.shape for w in weights] == architecture.parameter_shapes()
    assert all(w.dtype == np.float32 for w in weights)
    for (n_out, n_in), w in zip(architecture.parameter_shapes()[0::2], weights[0::2]):
        assert abs(w.std() * n_in**0.5 - 1) < 0.15  # normal(0, n_in^-½)
    assert all(not b.any() for b in weights[1::2])
    # the weights are those of the same layers without bias: the biases draw nothing
    plain = initial_weights(Architecture(50, [40, 30], 10), seed=0, dtype="float32")
    for a, b in zip(weights[0::2], plain):
        np.testing.assert_array_equal(a, b)


def test_architecture_and_sizes_together_are_refused():
    with pytest.raises(ParameterError, match="an Architecture or the three layer sizes, not both"):
        initial_weights(Architecture(4, 3, 2), 3, 2)


def test_saved_weights_load_back_for_the_same_architecture(tmp_path):
    architecture = Architecture(6, [5, 4], 3, "tanh", "cross_entropy", True)
    weights = initial_weights(architecture, seed=1)
    weights[1] += 0.5
    path = save_weights(tmp_path / "deep.npz", weights, architecture)
    for loaded in (load_weights(path, architecture), load_weights(path)):
        assert len(loaded) == len(weights)
        for a, b in zip(loaded, weights):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("other, difference", [
    (Architecture(6, [5], 3, "tanh", "cross_entropy", True), "hidden layers 5 here, 5-4 in the file"),
    (Architecture(6, [5, 4], 3, "relu", "cross_entropy", True), "activation relu here, tanh in the file"),
    (Architecture(6, [5, 4], 3, "tanh", "half_sse", False),
     "loss half_sse here, cross_entropy in the file; bias False here, True in the file"),
])
def test_weights_for_another_architecture_are_refused_in_one_sentence(tmp_path, other, difference):
    architecture = Architecture(6, [5, 4], 3, "tanh", "cross_entropy", True)
    path = save_weights(tmp_path / "deep.npz", initial_weights(architecture, seed=1), architecture)
    with pytest.raises(DataError, match="holds weights for 6-5-4-3, tanh, softmax cross-entropy, bias, not for") as error:
        load_weights(path, other)
    assert str(error.value).endswith(difference + ".") and str(error.value).count(". ") == 0


def test_files_of_earlier_versions_still_load(tmp_path):
    """W_ih and W_ho alone, no architecture record: sizes come from the shapes."""
    weights = initial_weights(5, 4, 3, seed=0)
    path = tmp_path / "old.npz"
    np.savez(path, W_ih=weights[0], W_ho=weights[1])
    for loaded in (load_weights(path), load_weights(path, Architecture(5, 4, 3, activation="tanh"))):
        np.testing.assert_array_equal(loaded[1], weights[1])
    with pytest.raises(DataError, match="hidden layers 7 here, 4 in the file"):
        load_weights(path, Architecture(5, 7, 3))
    with pytest.raises(DataError, match="bias True here, False in the file"):
        load_weights(path, Architecture(5, 4, 3, bias=True))
    assert save_weights(tmp_path / "again.npz", weights)  # the book's pair needs no architecture


def test_bad_files_and_missing_architectures_fail_with_one_sentence(tmp_path):
    with pytest.raises(DataError, match="no such weights file"):
        load_weights(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a weights file of this library"):
        load_weights(tmp_path / "junk.npz")
    architecture = Architecture(5, [4, 4], 3)
    with pytest.raises(ParameterError, match="Saving 3 parameters needs their architecture"):
        save_weights(tmp_path / "deep.npz", initial_weights(architecture, seed=0))
    assert not (tmp_path / "deep.npz").exists()


def test_a_batch_normalized_networks_running_statistics_are_saved_with_its_weights_and_load_back(tmp_path):
    from common.weights import load_buffers
    from from_scratch import Network

    network = Network(784, [12], 10, 0.1, norm="batch", seed=3)
    x = np.random.default_rng(0).random((4, 784))
    network.train(x, np.eye(10)[[1, 2, 3, 4]])
    path = save_weights(tmp_path / "bn.npz", network.get_weights(), network.architecture,
                        buffers=network.get_buffers())
    for saved, loaded in zip(network.get_buffers(), load_buffers(path)):
        np.testing.assert_array_equal(saved, loaded)
    assert len(load_buffers(path)) == 2
    assert load_buffers(save_weights(tmp_path / "book.npz", initial_weights(784, 12, 10))) == []  # no record: none
    with pytest.raises(ParameterError, match="needs its buffers"):
        save_weights(tmp_path / "no.npz", network.get_weights(), network.architecture)
    with pytest.raises(DataError, match="no such weights file"):
        load_buffers(tmp_path / "missing.npz")
