"""Networks by name: the built-in backends and a user's own class, resolved the same way.

A name is one of

=========================  ======================================================
``from_scratch``           the NumPy network (``from_scratch:Network``)
``torch_impl``             the PyTorch twin, autograd (``torch_impl:Network``)
``mypackage.mynet:MyNet``  a class in an importable module
``path/to/mynet.py:MyNet`` a class in a Python file, imported from where it lies
=========================  ======================================================

and each is built as the library builds its own networks: ``input_nodes, hidden_nodes,
output_nodes, learning_rate`` and ``dtype=``, plus ``activation``, ``loss`` and ``bias`` when the
class takes them (read from its signature), ``conv=((6, 5, 2), (16, 5, 0))`` (each convolution
layer's channels, kernel and padding) only for a convolutional network, each option of the
architecture (``norm="batch"``, ``dropout=0.3``; :data:`common.layers.OPTIONS`) only where the run
sets it, and the training recipe's keywords
(``optimizer="adam"``, ``momentum=0.9``, ``l2=1e-3``, ...; :mod:`common.recipe`) that the run sets
away from their defaults, so that a network of plain SGD needs none. Every bad name fails with
one sentence.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from common.architecture import Architecture
from common.architecture import keywords as architecture_keywords
from common.errors import ConformanceError, ParameterError
from common.recipe import Recipe
from compare.conformance import call_user, recipe_of

BUILT_IN = {"from_scratch": "from_scratch:Network", "torch_impl": "torch_impl:Network"}
# Passed whenever the class takes them; every other architecture keyword (conv, the options) only away
# from the book's value, which a class that does not take the keyword computes with.
ALWAYS_PASSED = ("activation", "loss", "bias")


def is_user_network(name: str) -> bool:
    """Whether ``name`` names a network of the user's own, not one of the library's backends."""
    return name not in BUILT_IN


def race_order(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` with the reference first: torch_impl (autograd) when a network of the user's own
    races, else the first name given. Each name is resolved, so a bad one fails here, in one sentence.
    """
    if not names:
        raise ParameterError("The 'backends' parameter must name at least one network.")
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:
        raise ParameterError(f"The 'backends' parameter names {twice!r} twice; each network races once.")
    for name in names:
        if is_user_network(name):  # the built-in ones are there, and loading torch_impl would import torch
            load_class(name)
    if not any(is_user_network(name) for name in names):
        return tuple(names)
    if "torch_impl" not in names:
        raise ParameterError("A network of your own races against torch_impl (autograd): add torch_impl to "
                             f"--backends, e.g. --backends torch_impl {names[0]}.")
    return ("torch_impl", *(name for name in names if name != "torch_impl"))


def load_class(name: str) -> type:
    """The class ``name`` stands for: a built-in backend, ``module:Class`` or ``file.py:Class``.

    Raises
    ------
    ParameterError
        One sentence: the name has no ``:Class``, the module or file is missing, the module
        fails to import (its own frames shown), the class is missing or is not a class.
    """
    spec = BUILT_IN.get(name, name)
    where, colon, attribute = spec.rpartition(":")
    if not colon or not where or not attribute:
        raise ParameterError(
            f"The network {name!r} is neither a built-in backend {tuple(BUILT_IN)} nor 'module:Class' "
            "or 'path/to/file.py:Class'.")
    if not where.endswith(".py") and ("/" in where or "\\" in where):
        raise ParameterError(f"{where!r} is neither a module name nor a Python file: give 'path/to/file.py:Class'.")
    module = _import_file(where) if where.endswith(".py") else _import_module(where)
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ParameterError(f"{where} has no class {attribute!r}.") from None
    if not inspect.isclass(found):
        raise ParameterError(f"{where}:{attribute} is an object of type {type(found).__name__}, not a class.")
    return found


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            raise ParameterError(f"No module named {name!r} (looked on sys.path from {Path.cwd()}).") from None
        return call_user(f"import {name}", importlib.import_module, name)  # it imports something missing
    except Exception:
        return call_user(f"import {name}", importlib.import_module, name)


def _import_file(path: str):
    file = Path(path).expanduser()
    if not file.is_file():
        raise ParameterError(f"No file {path!r}" + (" (it is a folder)." if file.is_dir() else "."))
    name = f"_user_network_{abs(hash(str(file.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    folder = str(file.resolve().parent)
    if folder not in sys.path:  # as `python path/to/file.py` would: its neighbours import too
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        call_user(f"import {path}", spec.loader.exec_module, module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def build_network(cls: type, architecture: Architecture, learning_rate: float, dtype: str = "float64",
                  recipe: Recipe | None = None, check: bool = True, **options: Any) -> Any:
    """``cls(input_nodes, hidden_nodes, output_nodes, learning_rate, dtype=...)`` as the library builds.

    ``hidden_nodes`` is an int for one hidden layer (what every network takes) and a list
    otherwise. ``activation``, ``loss`` and ``bias`` are passed when the class's signature takes
    them (``conv`` only where there are convolutions); a class that does not take one can only
    build the book's value of it. The recipe's
    keywords are passed only where they differ from their defaults, to a class that takes them; one
    that does not must state the value itself (``optimizer = "adam"`` of its own). ``options``
    (``device=``, ``seed=``) go only to a class that takes them. ``check=False`` builds it without
    checking the recipe it states (:func:`own_recipe` reads it).

    Raises
    ------
    ConformanceError
        The class cannot take what the run asks, or the network built states another recipe
        (its attributes ``optimizer``, ``momentum``, ..., an absent one meaning the default).
    """
    recipe = recipe or Recipe()
    parameters = _parameters(cls)
    takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    hidden = architecture.hidden_nodes
    keywords: dict[str, Any] = {"dtype": dtype}
    book = architecture_keywords()
    for key, value in architecture.keyword_values().items():
        if key not in ALWAYS_PASSED and value == book[key]:
            continue
        if takes_all or key in parameters:
            keywords[key] = value
        elif value != book[key]:
            raise ConformanceError(f"{cls.__name__}() takes no {key!r} argument, so it cannot be built as "
                                   f"{architecture.describe()}.")
    untaken = []  # recipe keywords the class does not take: it must state their values itself
    for key, value in recipe.changed_keywords().items():
        if takes_all or key in parameters:
            keywords[key] = value
        else:
            untaken.append(key)
    keywords.update({k: v for k, v in options.items() if takes_all or k in parameters})
    if not (takes_all or "dtype" in parameters):
        raise ConformanceError(f"{cls.__name__}() takes no 'dtype' argument; networks are built as "
                               "Network(input_nodes, hidden_nodes, output_nodes, learning_rate, dtype=...).")
    sizes = (architecture.input_nodes, hidden[0] if len(hidden) == 1 else list(hidden), architecture.output_nodes)
    if is_library_class(cls):  # what the library's own networks raise is not the user's code failing
        return cls(*sizes, learning_rate, **keywords)
    network = call_user(f"{cls.__name__}()", cls, *sizes, learning_rate, **keywords)
    if check:
        check_stated_recipe(network, recipe, passed=set(keywords), untaken=untaken)
    return network


def check_stated_recipe(network: Any, recipe: Recipe, passed: set[str] = frozenset(),
                        untaken: list[str] = ()) -> None:
    """One sentence unless ``network`` states ``recipe`` (:meth:`Recipe.of`), field by field.

    ``passed``: the keywords it was built with; ``untaken``: the recipe's keywords its class does
    not take, whose values it must state of itself. A field left at its default that the network
    states otherwise (nnfs's eps of 1e-7) is the run's to adopt first (:func:`own_recipe`)."""
    name = type(network).__name__
    stated = recipe_of(network).to_json()
    for key, value in recipe.to_json().items():
        if stated[key] == value:
            continue
        if key in untaken:
            raise ConformanceError(f"{name}() takes no {key!r} argument and states {key} = {stated[key]!r}, so it "
                                   f"cannot be built to train with {recipe.describe()}.")
        if key in passed:
            raise ConformanceError(f"{name} was built to train with {key}={value!r} but states {key} = "
                                   f"{stated[key]!r}: set the attribute {key!r} from the argument, as "
                                   "activation, loss and bias are.")
        raise ConformanceError(f"{name} states {key} = {stated[key]!r}, where this run trains with {key}={value!r}: "
                               f"state {key} from its constructor's argument, as activation, loss and bias are.")


def own_recipe(names: tuple[str, ...], architecture: Architecture, learning_rate: float, dtype: str,
               recipe: Recipe) -> Recipe:
    """The run's recipe, each field it leaves at the library's default taken from the user's networks' own
    (their constructors' defaults, nnfs's Adam with eps 1e-7): a value equal to the library's default is
    never passed to a constructor, so a network whose own default differs could never be asked for it.
    The race's first line says the recipe it trains with."""
    asked, own, whose = recipe.changed_keywords(), {}, []
    for name in names:
        if not is_user_network(name):
            continue
        network = build_network(load_class(name), architecture, learning_rate, dtype, recipe, check=False)
        taken = {k: v for k, v in recipe_of(network).changed_keywords().items() if k not in asked and k not in own}
        if taken:
            own.update(taken)
            whose.append(f"{type(network).__name__}'s {', '.join(f'{k}={v!r}' for k, v in taken.items())}")
    if not own:
        return recipe
    try:
        return Recipe(**{**asked, **own})
    except ParameterError as error:
        raise ConformanceError(f"This run trains with {recipe.describe()} and {' and '.join(whose)} of its own (its "
                               f"constructor's defaults), which do not go together: {error}") from None


def is_library_class(cls: type) -> bool:
    """Whether ``cls`` is one of the library's own networks (from_scratch's, torch_impl's)."""
    return cls.__module__.split(".")[0] in ("from_scratch", "torch_impl")


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(cls).parameters)
    except (TypeError, ValueError):  # a signature Python cannot read: pass what it may take
        return {"kwargs": inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)}
