"""Networks by name: built-in backends, module:Class and file.py:Class resolve one way, and each
bad name or constructor gets one sentence."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import from_scratch
import torch_impl
from common.architecture import Architecture
from common.errors import ConformanceError, ParameterError
from compare.conformance import call_user
from compare.plugins import build_network, load_class
from tests import gallery


@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    (folder / "helpers.py").write_text("SIZE = 3\n")
    (folder / "mynet.py").write_text(textwrap.dedent("""\
        from helpers import SIZE                      # a neighbour of the file imports too
        from tests.gallery import RowNetwork

        class MyNetwork(RowNetwork):
            pass

        class Explodes(RowNetwork):
            def __init__(self, *args, **kwargs):
                self.setup()

            def setup(self):
                raise RuntimeError("no weights yet")

        answer = 42
        """))
    (folder / "broken.py").write_text("import numpy as np\nnp.zeros(SIZE_MISSING)\n")
    return folder


def test_built_in_names_resolve_to_the_library_networks():
    assert load_class("from_scratch") is from_scratch.Network
    assert load_class("torch_impl") is torch_impl.Network


def test_a_module_path_and_a_file_path_resolve_the_same_way(user_file):
    assert load_class("tests.gallery:WrongSign") is gallery.WrongSign
    cls = load_class(f"{user_file / 'mynet.py'}:MyNetwork")
    assert cls.__name__ == "MyNetwork" and issubclass(cls, gallery.RowNetwork)
    assert load_class(f"{user_file / 'mynet.py'}:MyNetwork") is cls  # imported once


@pytest.mark.parametrize("name, message", [
    ("no_such_module.sub:Net", r"No module named 'no_such_module.sub' \(looked on sys.path from "),
    ("tests.gallery:Missing", r"tests.gallery has no class 'Missing'\."),
    ("tests.gallery", r"is neither a built-in backend \('from_scratch', 'torch_impl'\) nor 'module:Class'"),
    ("json:loads", r"json:loads is an object of type function, not a class\."),
    ("{folder}/absent.py:Net", r"No file '.*absent.py'\."),
    ("{folder}:Net", r"is neither a module name nor a Python file: give 'path/to/file.py:Class'\."),
    ("{folder}/mynet.py:answer", r"mynet.py:answer is an object of type int, not a class\."),
])
def test_a_bad_name_gets_one_sentence(user_file, name, message):
    with pytest.raises(ParameterError, match=message):
        load_class(name.format(folder=user_file))


def test_a_file_that_fails_to_import_shows_its_own_frames(user_file):
    with pytest.raises(ConformanceError, match=r"raised NameError: name 'SIZE_MISSING' is not defined") as caught:
        load_class(f"{user_file / 'broken.py'}:Net")
    assert 'broken.py", line 2' in str(caught.value) and "importlib" not in str(caught.value)


def test_networks_are_built_as_the_library_builds_its_own():
    network = build_network(gallery.RowNetwork, Architecture(784, 20, 10), 0.05, "float32")
    assert (network.hidden_nodes, network.lr, network.dtype.name) == (20, 0.05, "float32")
    deep = build_network(gallery.RowNetwork, Architecture(784, [20, 12], 10), 0.05)
    assert deep.hidden_nodes == [20, 12]


def test_architecture_keywords_go_only_to_a_class_that_takes_them():
    class Takes(gallery.RowNetwork):
        def __init__(self, *sizes, dtype="float64", activation="sigmoid", loss="half_sse", bias=False):
            super().__init__(*sizes, dtype=dtype)
            self.given = (activation, loss, bias)

    built = build_network(Takes, Architecture(784, 20, 10, "tanh", "cross_entropy", True), 0.1)
    assert built.given == ("tanh", "cross_entropy", True)
    with pytest.raises(ConformanceError, match=r"RowNetwork\(\) takes no 'bias' argument, so it cannot be built "
                                               r"as 784-20-10, sigmoid, half squared error, bias\."):
        build_network(gallery.RowNetwork, Architecture(784, 20, 10, bias=True), 0.1)


def test_an_exception_in_a_constructor_shows_the_users_frames(user_file):
    cls = load_class(f"{user_file / 'mynet.py'}:Explodes")
    with pytest.raises(ConformanceError, match=r"^Explodes\(\) raised RuntimeError: no weights yet") as caught:
        build_network(cls, Architecture(784, 20, 10), 0.1)
    assert "in setup" in str(caught.value) and "plugins.py" not in str(caught.value)


# -- whose frames an exception shows --------------------------------------------------------------

def calls_the_library_wrongly():
    return from_scratch.Network(3, 2, 1, 0.1).query(np.zeros(5))  # raises inside from_scratch


def draws_with_a_negative_scale():
    return np.random.default_rng(0).normal(0.0, -1.0, 3)  # raises inside NumPy's compiled code


@pytest.mark.parametrize("function, said", [(calls_the_library_wrongly, "ParameterError: inputs must have shape"),
                                            (draws_with_a_negative_scale, "ValueError: scale < 0")])
def test_only_the_users_own_frames_are_labelled_its_own(function, said):
    with pytest.raises(ConformanceError) as caught:
        call_user("MyNetwork.query", function)
    first, label, *frames = str(caught.value).splitlines()
    assert said in first and label == "Traceback (the network's own frames, most recent call last):"
    files = [line for line in frames if line.strip().startswith("File ")]
    assert len(files) == 1 and "tests/test_plugins.py" in files[0] and function.__name__ in files[0], frames
    assert "from_scratch/" not in str(caught.value) and ".pyx" not in str(caught.value)


def test_an_exception_in_the_librarys_own_network_is_not_labelled_the_users():
    with pytest.raises(ParameterError) as caught:
        build_network(from_scratch.Network, Architecture(784, 20, 10), 1e39, "float32")
    assert "own frames" not in str(caught.value) and "Network() raised" not in str(caught.value)


def test_a_memory_error_in_a_users_network_passes_through_to_be_named():
    def allocates_too_much():
        raise MemoryError("Unable to allocate 5.70 TiB for an array with shape (1000000000, 784) and data type float64")

    with pytest.raises(MemoryError):
        call_user("MyNetwork.train", allocates_too_much)
