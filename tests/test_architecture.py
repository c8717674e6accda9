"""common.architecture: one checked description of a network's shape, activation, loss and bias."""
import pytest

from common.architecture import Architecture
from common.errors import ParameterError


def test_the_book_network_keeps_its_names_and_shapes():
    book = Architecture(784, 200, 10)
    assert book.is_book and book.hidden_nodes == (200,)
    assert book.parameter_names() == ["W_ih", "W_ho"]
    assert book.parameter_shapes() == [(200, 784), (10, 200)]
    assert book.target_values == (0.01, 0.99)


def test_parameters_follow_torch_order_weight_then_bias_at_any_depth():
    deep = Architecture(784, [128, 64], 10, "relu", "cross_entropy", True)
    assert deep.parameter_names() == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert deep.parameter_shapes() == [(128, 784), (128,), (64, 128), (64,), (10, 64), (10,)]
    assert not deep.is_book and deep.target_values == (0.0, 1.0)
    assert Architecture(784, [], 10, bias=True).parameter_shapes() == [(10, 784), (10,)]
    assert Architecture(4, 3, 2, bias=True).parameter_names() == ["W_ih", "b_h", "W_ho", "b_o"]


def test_json_round_trip_and_differences_in_words():
    deep = Architecture(784, [200, 100], 10, "tanh", "cross_entropy", True)
    assert Architecture.from_json(deep.to_json()) == deep
    assert Architecture(784, 200, 10).differences(deep) == [
        "hidden layers 200 here, 200-100 there", "activation sigmoid here, tanh there",
        "loss half_sse here, cross_entropy there", "bias False here, True there"]


@pytest.mark.parametrize("arguments, message", [
    ((784, 0, 10), "'hidden_nodes' parameter must be an int >= 1. Got 0"),
    ((784, "200", 10), "'hidden_nodes' parameter must be an int or a sequence of ints"),
    ((784, [200, -1], 10), "Got -1 instead"),
    ((784, 200, 10, "softplus"), "'activation' parameter must be one of"),
    ((784, 200, 10, "sigmoid", "mse"), "'loss' parameter must be one of"),
    ((784, 200, 10, "sigmoid", "half_sse", 1), "'bias' parameter must be True or False"),
])
def test_bad_architectures_fail_with_one_sentence(arguments, message):
    with pytest.raises(ParameterError, match=message):
        Architecture(*arguments)


def test_changed_keywords_are_those_that_differ_from_the_book():
    assert Architecture(784, 200, 10).changed_keywords() == {}
    assert Architecture(784, [], 10, loss="cross_entropy", bias=True).changed_keywords() == {
        "loss": "cross_entropy", "bias": True}


def test_describe_leaves_out_the_activation_where_no_layer_has_one():
    assert Architecture(784, [], 10, loss="cross_entropy", bias=True).describe() == "784-10, softmax cross-entropy, bias"


def test_per_layer_groups_parameters_with_their_layer():
    assert Architecture(784, [128, 64], 10, bias=True).per_layer(
        ["W1", "b1", "W2", "b2", "W3", "b3"]) == [["W1", "b1"], ["W2", "b2"], ["W3", "b3"]]
    assert Architecture(784, 200, 10).per_layer(["W_ih", "W_ho"]) == [["W_ih"], ["W_ho"]]
