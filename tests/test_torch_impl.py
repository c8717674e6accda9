"""The torch twin on its own: autograd on the 2017 tutorial's first example, the loss, devices."""
import numpy as np
import pytest
import torch

from common.errors import ParameterError
from common.tolerances import assert_close, tolerance
from torch_impl import HalfSquaredError, Network

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; none here")


def test_seed_autograd_example():
    """The 2017 tutorial's example: y = x² + 5x + 2 has dy/dx = 2x + 5 = 9 at x = 2."""
    x = torch.tensor(2.0, requires_grad=True)
    y = x**2 + 5 * x + 2
    y.backward()
    assert y.item() == 16.0
    assert x.grad.item() == 9.0 == 2 * 2.0 + 5


def test_half_squared_error_is_half_of_summed_mse_per_sample():
    outputs, targets = torch.rand(4, 10, dtype=torch.float64), torch.rand(4, 10, dtype=torch.float64)
    summed = torch.nn.MSELoss(reduction="sum")(outputs, targets)
    assert HalfSquaredError()(outputs, targets).item() == pytest.approx(summed.item() / 2 / 4, rel=1e-15)
    assert HalfSquaredError()(outputs[0], targets[0]).item() == pytest.approx(
        0.5 * ((outputs[0] - targets[0]) ** 2).sum().item(), rel=1e-15)


def test_summed_mse_takes_steps_twice_as_long():
    """The 2017 tutorial's port used MSELoss(reduction='sum') at the book's lr: every step doubled."""
    network = Network(6, 4, 3, 0.1, seed=0)
    inputs, targets = torch.rand(1, 6, dtype=torch.float64), torch.rand(1, 3, dtype=torch.float64)
    half = network.gradients(inputs, targets)
    doubled = torch.autograd.grad(
        torch.nn.MSELoss(reduction="sum")(network.model(inputs), targets),
        [network.model.wih.weight, network.model.who.weight])
    for g, d in zip(half, doubled):
        assert_close(d.numpy(), 2 * g, tolerance("float64").single, "2L against L")


def test_module_keeps_nn_module_train_and_eval():
    network = Network(3, 2, 1, 0.1, seed=0)
    network.model.eval()
    assert not network.model.training
    network.model.train()
    assert network.model.training


def test_weights_round_trip_without_transpose():
    network = Network(5, 3, 2, 0.1, seed=0)
    weights = [np.arange(15.0).reshape(3, 5), np.arange(6.0).reshape(2, 3)]
    network.set_weights(weights)
    assert torch.equal(network.model.wih.weight.detach(), torch.from_numpy(weights[0]))
    for w, got in zip(weights, network.get_weights()):
        np.testing.assert_array_equal(w, got)
        got[...] = -1  # a copy: changing it leaves the network alone
    np.testing.assert_array_equal(network.get_weights()[0], weights[0])


def test_same_seed_same_weights_as_numpy():
    from from_scratch import Network as NumpyNetwork
    for dtype in ("float32", "float64"):
        for a, b in zip(Network(7, 5, 3, 0.1, dtype=dtype, seed=3).get_weights(),
                        NumpyNetwork(7, 5, 3, 0.1, dtype=dtype, seed=3).get_weights()):
            assert a.dtype == b.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(a, b)


def test_unknown_device_and_missing_cuda_are_refused():
    with pytest.raises(ParameterError, match="'device' parameter must be one of"):
        Network(3, 2, 1, 0.1, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="CUDA is not available"):
            Network(3, 2, 1, 0.1, device="cuda")
    assert Network(3, 2, 1, 0.1, device="auto").device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_learning_rate_the_dtype_cannot_hold_is_refused_before_a_step():
    """torch.optim.SGD would take it, then fail at its first step: "value cannot be converted to type
    float without overflow"."""
    with pytest.raises(ParameterError, match=r"'lr' parameter must be a number float32 can hold, .* Got 1e\+39"):
        Network(3, 2, 1, 1e39, dtype="float32")
    assert Network(3, 2, 1, 1e39, dtype="float64").lr == 1e39


def test_bad_input_shapes_are_refused():
    network = Network(3, 2, 1, 0.1, seed=0)
    with pytest.raises(ParameterError, match=r"inputs must have shape \(n, 3\)"):
        network.query(np.zeros((2, 4)))
    with pytest.raises(ParameterError, match=r"targets must have shape \(2, 1\)"):
        network.train(np.zeros((2, 3)), np.zeros((3, 1)))


@cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_matches_cpu(dtype):
    cpu, gpu = Network(20, 10, 4, 0.5, dtype=dtype, seed=0), Network(20, 10, 4, 0.5, dtype=dtype, device="cuda", seed=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(size=(30, 20)).astype(dtype), rng.uniform(size=(30, 4)).astype(dtype)
    for i in range(30):
        cpu.train(inputs[i], targets[i])
        gpu.train(inputs[i], targets[i])
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        assert_close(b, a, tolerance(dtype).single, "cuda against cpu")


@cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_graph_steps_match_eager_steps(dtype):
    """The captured step replays the same kernels: same losses, same weights, any batch shape."""
    graph = Network(20, 10, 4, 0.5, dtype=dtype, device="cuda", seed=0)
    eager = Network(20, 10, 4, 0.5, dtype=dtype, device="cuda", seed=0, cuda_graphs=False)
    assert graph.cuda_graphs and not eager.cuda_graphs
    rng = np.random.default_rng(1)
    inputs, targets = rng.uniform(size=(40, 20)).astype(dtype), rng.uniform(size=(40, 4)).astype(dtype)
    before = graph.get_weights()
    batches = [slice(i, i + 1) for i in range(10)] + [slice(10, 13), slice(13, 17), slice(17, 22),
                                                       slice(22, 28), slice(28, 35), slice(35, 40)]
    for rows in batches:  # seven shapes: four captured, the rest run eagerly
        assert graph.train(inputs[rows], targets[rows]) == pytest.approx(
            eager.train(inputs[rows], targets[rows]), rel=tolerance(dtype).single)
    for a, b in zip(graph.get_weights(), eager.get_weights()):
        assert_close(a, b, tolerance(dtype).single, "graph against eager")
    assert not np.array_equal(before[0], graph.get_weights()[0])


@cuda
def test_cuda_graph_capture_leaves_the_weights_as_they_were():
    network = Network(20, 10, 4, 0.5, device="cuda", seed=0)
    before = network.get_weights()
    network._replay(torch.zeros(1, 20, device="cuda", dtype=torch.float64),
                    torch.zeros(1, 4, device="cuda", dtype=torch.float64))
    network.set_weights(before)  # the replay itself trained; capture alone must not
    from torch_impl.graphs import CapturedStep
    CapturedStep(network, (1, 20), (1, 4))
    for a, b in zip(before, network.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_cuda_graphs_need_a_cuda_device():
    with pytest.raises(ParameterError, match="cuda_graphs=True needs a CUDA device"):
        Network(3, 2, 1, 0.1, cuda_graphs=True)


def test_model_is_a_sequential_of_linear_layers_and_activation_modules():
    book = Network(784, 200, 10, 0.1)
    assert [name for name, _ in book.model.named_children()] == ["wih", "sigmoid", "who", "output_sigmoid"]
    assert book.model.wih.weight.shape == (200, 784) and book.model.who.weight.shape == (10, 200)
    deep = Network(784, [128, 64], 10, 0.01, activation="relu", loss="cross_entropy", bias=True)
    assert isinstance(deep.model, torch.nn.Sequential)
    assert [type(m).__name__ for m in deep.model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [name for name, _ in deep.model.named_parameters()] == [
        "w1.weight", "w1.bias", "w2.weight", "w2.bias", "w3.weight", "w3.bias"]
    assert [tuple(p.shape) for p in deep.model.parameters()] == deep.architecture.parameter_shapes()
    assert isinstance(deep.loss_function, torch.nn.CrossEntropyLoss)
    assert type(Network(4, [], 3, 0.1, activation="tanh").model[-1]) is torch.nn.Sigmoid
    assert [type(m).__name__ for m in Network(4, [3, 2], 3, 0.1, activation="tanh").model][:2] == ["Linear", "Tanh"]


def test_cross_entropy_query_returns_softmax_probabilities():
    network = Network(6, [5], 4, 0.1, loss="cross_entropy", bias=True, seed=0)
    inputs = torch.rand(3, 6, dtype=torch.float64)
    probabilities = network.query(inputs)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=tolerance("float64").single)
    expected = torch.softmax(network.model(inputs), dim=1).detach().numpy()
    assert_close(probabilities, expected, tolerance("float64").single, "softmax of the logits")


def test_cross_entropy_is_torch_cross_entropy_with_probability_targets():
    """One training step's loss is nn.CrossEntropyLoss's, −Σ t log softmax(z), batch mean."""
    network = Network(6, [5, 4], 3, 0.1, activation="tanh", loss="cross_entropy", seed=1)
    inputs, targets = torch.rand(4, 6, dtype=torch.float64), torch.softmax(torch.rand(4, 3, dtype=torch.float64), 1)
    by_hand = -(targets * torch.log_softmax(network.model(inputs), dim=1)).sum(dim=1).mean().item()
    assert network.train(inputs, targets) == pytest.approx(by_hand, rel=tolerance("float64").single)


def test_the_book_network_keeps_its_attributes_and_repr():
    book = Network(784, 200, 10, 0.1)
    assert book.hidden_nodes == 200 and isinstance(book.hidden_nodes, int)
    assert repr(book) == "Network(784, 200, 10, 0.1, dtype='float64', device='cpu')"
    deep = Network(784, [200, 100], 10, 0.05, activation="tanh", loss="cross_entropy", bias=True)
    assert deep.hidden_nodes == [200, 100] and (deep.activation, deep.loss, deep.bias) == ("tanh", "cross_entropy", True)
    assert repr(deep) == ("Network(784, [200, 100], 10, 0.05, activation='tanh', loss='cross_entropy', bias=True, "
                          "dtype='float64', device='cpu')")


@cuda
def test_cuda_graph_steps_match_eager_steps_at_any_architecture():
    keywords = dict(activation="relu", loss="cross_entropy", bias=True, device="cuda", seed=0)
    graph = Network(20, [10, 6], 4, 0.5, **keywords)
    eager = Network(20, [10, 6], 4, 0.5, cuda_graphs=False, **keywords)
    rng = np.random.default_rng(2)
    inputs = rng.uniform(size=(12, 20))
    targets = np.eye(4)[rng.integers(0, 4, size=12)]
    for rows in [slice(i, i + 1) for i in range(8)] + [slice(8, 12)]:
        assert graph.train(inputs[rows], targets[rows]) == pytest.approx(
            eager.train(inputs[rows], targets[rows]), rel=tolerance("float64").single)
    for a, b in zip(graph.get_weights(), eager.get_weights()):
        assert_close(a, b, tolerance("float64").single, "graph against eager")
