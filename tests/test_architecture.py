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


LENET = Architecture(784, [120, 84], 10, "relu", "cross_entropy", True, conv=((6, 5, 2), (16, 5, 0)))


def test_lenet_parameters_follow_nn_sequential_order_with_its_conv_layers_named_first():
    assert LENET.parameter_names() == ["W_conv1", "b_conv1", "W_conv2", "b_conv2", "W1", "b1", "W2", "b2", "W3", "b3"]
    assert LENET.parameter_shapes() == [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120),
                                        (84,), (10, 84), (10,)]
    assert LENET.per_layer(LENET.parameter_names())[:2] == [["W_conv1", "b_conv1"], ["W_conv2", "b_conv2"]]
    assert LENET.conv_names() == ["conv1", "conv2"] and LENET.dense_sizes == (400, 120, 84, 10)
    assert LENET.intermediate_names() == {"dLdz": ["z_conv1", "z_conv2", "z1", "z2", "z3"],
                                          "dLdh": ["h_conv1", "h_conv2", "h1", "h2"]}
    assert LENET.intermediate_shapes() == {"dLdz": [(6, 28, 28), (16, 10, 10), (120,), (84,), (10,)],
                                           "dLdh": [(6, 14, 14), (16, 5, 5), (120,), (84,)]}
    one_hidden = Architecture(784, 100, 10, conv=((4, 3, 0),))
    assert one_hidden.parameter_names() == ["W_conv1", "W_ih", "W_ho"] and not one_hidden.is_book
    assert one_hidden.parameter_shapes() == [(4, 1, 3, 3), (100, 676), (10, 100)]  # 26x26 pooled to 13x13


def test_a_fully_connected_architecture_reads_and_records_as_before_convolutions():
    book = Architecture(784, 200, 10)
    assert book.conv == () and book.changed_keywords() == {} and "conv" not in book.to_json()
    assert book.describe() == "784-200-10, sigmoid, half squared error, no bias"
    assert repr(book) == "Architecture(784, (200,), 10, activation='sigmoid', loss='half_sse', bias=False)"
    assert Architecture.from_json({"input_nodes": 784, "hidden_nodes": [200], "output_nodes": 10}) == book


def test_conv_describes_itself_as_the_command_line_writes_it_and_round_trips_through_json():
    assert LENET.describe() == "784-conv6x5p2-conv16x5-120-84-10, relu, softmax cross-entropy, bias"
    assert Architecture(784, [], 10, loss="cross_entropy", conv=((2, 3, 0),)).describe() == (
        "784-conv2x3-10, sigmoid, softmax cross-entropy, no bias")  # the activation follows each convolution
    assert LENET.to_json()["conv"] == [[6, 5, 2], [16, 5, 0]] and Architecture.from_json(LENET.to_json()) == LENET
    assert LENET.changed_keywords()["conv"] == ((6, 5, 2), (16, 5, 0))
    assert Architecture(784, [120, 84], 10, "relu", "cross_entropy", True).differences(LENET) == [
        "convolutions none here, 6x5p2,16x5 there"]
    assert Architecture(784, 10, 10, conv=[[6, 5, 2]]).conv == ((6, 5, 2),)  # lists, as JSON gives them


@pytest.mark.parametrize("conv, message", [
    (((6, 5),), r"^The 'conv' parameter must be a sequence of \(channels, kernel, padding\) triples of ints, channels "
                r"and kernel >= 1 and padding >= 0, e.g. \(\(6, 5, 2\), \(16, 5, 0\)\). Got \(\(6, 5\),\) instead\.$"),
    ("6x5", "must be a sequence of"), (((0, 5, 0),), "Got \\(\\(0, 5, 0\\),\\)"), (((6, 5, -1),), "padding >= 0"),
    (((6, 5.0, 0),), "triples of ints"), (((True, 5, 0),), "triples of ints"),
    (((6, 29, 0),), r"^The 'conv' parameter shrinks the image below a kernel: conv1 \(6x29\) gets a 28x28 image "
                    r"\(28x28 with its padding 0\), smaller than its 29x29 kernel\.$"),
    (((6, 5, 0), (6, 5, 0), (6, 5, 0)), r"conv3 \(6x5\) gets a 4x4 image"),
    (((6, 28, 0),), r"^The 'conv' parameter shrinks the image below the pool: conv1 \(6x28\) leaves a 1x1 image, "
                    r"smaller than the 2x2 max pool that follows it\.$"),
])
def test_bad_conv_layers_fail_with_one_sentence(conv, message):
    with pytest.raises(ParameterError, match=message):
        Architecture(784, 10, 10, conv=conv)


def test_an_image_just_large_enough_for_the_pool_is_accepted():
    assert Architecture(784, 10, 10, conv=((6, 27, 0),)).conv_shapes()[0].h == (6, 1, 1)  # 2x2, pooled to 1x1
    assert Architecture(784, 10, 10, conv=((6, 27, 0),)).conv_shapes()[0].z == (6, 2, 2)


def test_a_conv_network_needs_square_images():
    with pytest.raises(ParameterError, match=r"^The 'conv' parameter needs square images: input_nodes must be a "
                                             r"square number, as 784 = 28 x 28\. Got 780 instead\.$"):
        Architecture(780, 10, 10, conv=((2, 3, 0),))
