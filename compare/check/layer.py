"""``check_layer``: one layer as the learner wrote it, against autograd, with the likely mistake named.

Where a learner starts: cs231n's ``affine_forward``/``affine_backward``, ``conv_backward_naive``,
``batchnorm_forward``, or nnfs's ``Layer_Dense``, one at a time, with no network around them. The
kind's catalogue (:mod:`compare.check.mistakes`, found by discovery: each module's ``CHECKS``, see
:mod:`compare.check.one_layer`) says how a layer of that kind is called, at which configurations it
is checked and what torch computes there; this module runs them:

1. each configuration is drawn (real MNIST images, or maps cut from them), the learner's code is run
   on copies (:mod:`compare.check.layer_forms`), and what it shows of its conventions is read (a
   weight's layout, what dropout's p means, where batch norm's running statistics start);
2. torch computes the same with the same parameters, in float64 (autograd, ``torch.nn.functional``),
   under the conventions read, and every output, gradient and statistic is compared within the
   dtype's tolerance (:mod:`common.tolerances`);
3. where something differs, each mistake of the kind's catalogue is computed at every configuration,
   and the first whose numbers are the learner's in every one (and differ from torch's correct ones
   in at least one) is named. Else the report says what was seen where it first failed.

NumPy's global generator, which the learner's dropout draws from (and cs231n's seeds), is seeded
before each configuration, so that a check gives the same numbers every run, and put back as it was
afterwards.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Any

import numpy as np

from common.errors import ConformanceError, ParameterError
from common.tolerances import relative_difference, tolerance
from compare.check.diagnosis import Cause
from compare.check.layer_forms import Calls, Object, UserRaised, form_of
from compare.check.network import _cell
from compare.check.layer_report import LayerReport, LayerRow
from compare.check.one_layer import BACKWARD, FORWARD, Case, LayerCheck, Mistake, Raised, Theirs, is_gradient

CODEBASES = ("cs231n", "cs231n-2017", "nnfs", "torch")  # the conventions the 'convention' keyword names


@lru_cache(maxsize=1)
def layer_checks() -> dict[str, LayerCheck]:
    """Every kind check_layer knows, as its catalogue module declares it (``CHECKS``)."""
    import compare.check.mistakes as mistakes

    found: dict[str, LayerCheck] = {}
    for info in pkgutil.iter_modules(mistakes.__path__):
        found.update(getattr(importlib.import_module(f"{mistakes.__name__}.{info.name}"), "CHECKS", {}))
    return found


def check_layer(kind: str, forward: Any, backward: Any = None, *, dtype: str = "float64", convention: Any = None,
                **param: dict[str, Any]) -> LayerReport:
    """Check one layer, as written, against autograd at several configurations, and name its likely mistake.

    Parameters
    ----------
    kind : str
        dense, relu, sigmoid, tanh, conv, maxpool, batchnorm, spatial_batchnorm, layernorm, dropout or
        softmax_loss.
    forward, backward : callable
        cs231n's pair, ``forward(x, *params[, param_dict]) -> (out, cache)`` and ``backward(dout, cache)
        -> dx`` or ``(dx, *dparams)``; for softmax_loss the one function ``softmax_loss(x, y) -> (loss,
        dx)``. Or, alone, an nnfs layer (its class, or an instance whose class is used): ``forward(inputs)``
        or ``forward(inputs, training)``, ``backward(dvalues)``, ``dinputs``, a dense layer's
        ``weights``, ``biases``, ``dweights``, ``dbiases``; the softmax-cross-entropy object's
        ``forward(inputs, y_true)`` and ``backward(softmax_outputs, y_true)``.
    dtype : {"float64", "float32"}
        The dtype of everything handed over, and of the tolerance.
    convention : None, str or dict
        None: read from what the code does (dropout's p from the keep rate it shows at p = 0.8; batch
        norm's running statistics from their values after a call). Or a codebase's: "cs231n" (p the
        keep probability; running statistics from zeros, the biased variance), "cs231n-2017" (p the
        drop probability), "nnfs" (the rate dropped), "torch" (p dropped; running variance from 1,
        unbiased). Or the kind's own fields, each kind's module says which (``{"p": "keep"}``).
    conv_param, pool_param, bn_param, ln_param, dropout_param : dict, optional
        The kind's parameter dict: check that one configuration alone, instead of the kind's own.

    Returns
    -------
    LayerReport
        ``.passed``, ``.rows``, ``.cause``, ``.conventions``; ``print(report)`` shows the table,
        ``report.to_json()`` the record.

    Raises
    ------
    ParameterError
        An unknown kind, dtype, convention or parameter dict.
    ConformanceError
        Code not of either form, a result of the wrong form, or code that raises (or returns the wrong
        shape) at every configuration: one sentence, with the code's own frames of an exception.
    """
    checks = layer_checks()
    if kind not in checks:
        raise ParameterError(f"The 'kind' parameter must be one of {', '.join(sorted(checks))}. Got {kind!r} instead.")
    check = checks[kind]
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in ("float32", "float64"):
        raise ParameterError(f"The 'dtype' parameter must be 'float32' or 'float64'. Got {dtype!r} instead.")
    form = form_of(kind, check, forward, backward)
    given = _given(check, kind, param)
    if not (convention is None or isinstance(convention, dict) or convention in CODEBASES):
        raise ParameterError(f"The 'convention' parameter must be None (read it from the code), one of {CODEBASES} "
                             f"or a dict of the kind's own fields. Got {convention!r} instead.")
    shape = "object" if isinstance(form, Object) else "pair"
    reading = check.reading(convention, shape)
    calls = Calls(dtype, check.pair_words)
    limit = tolerance(dtype).single
    cases: list[tuple[Case, dict, dict]] = []
    state = np.random.get_state()
    try:
        for index, configuration in enumerate(check.configurations(shape, given)):
            np.random.seed(index)  # what draws from NumPy's global generator (a dropout's mask) draws the same each run
            case = check.draw(configuration, dtype, index)
            mine = _run(check, form, case, reading, calls)
            if "raised" not in mine:
                check.read(reading, case, mine)
            theirs = check.reference(case, reading)
            for key in theirs:  # a stage that raised gives nothing after it
                if key not in mine:
                    mine[key] = mine["raised"]
            cases.append((case, mine, theirs))
    finally:
        np.random.set_state(state)
    rows = [row for case, mine, theirs in cases for row in _rows(case, mine, theirs, limit)]
    failed = next((row for row in rows if not row.passed), None)
    cause = None if failed is None else _cause(check, form, cases, reading, limit, failed)
    if cause is not None and cause.name == "unexplained":
        _refuse_unreadable(cases)
    return LayerReport(kind=kind, code=form.words, form="nnfs's object" if shape == "object" else "cs231n's pair",
                       dtype=dtype.name, reference=check.reference_words, conventions=check.conventions(reading),
                       notes=list(calls.notes), tolerance=limit, rows=rows, cause=cause)


def _given(check: LayerCheck, kind: str, param: dict[str, Any]) -> dict[str, Any] | None:
    """The parameter dict given by keyword, checked to be the kind's."""
    if not param:
        return None
    if len(param) > 1 or check.param not in param:
        expected = f"{check.param}=" if check.param else "no parameter dict"
        raise ParameterError(f"check_layer({kind!r}, ...) takes {expected}. Got {', '.join(param)}= instead.")
    value = param[check.param]
    if not isinstance(value, dict):
        raise ParameterError(f"The '{check.param}' parameter must be a dict, as cs231n's. Got {value!r} instead.")
    return dict(value)


def _run(check: LayerCheck, form: Any, case: Case, reading: Any, calls: Calls) -> dict[str, Any]:
    """The learner's numbers for ``case``; from a stage that raised on, :class:`Raised`."""
    mine: dict[str, Any] = {}
    try:
        run = check.run_object if isinstance(form, Object) else check.run_pair
        run(form, case, reading, calls, mine)
    except UserRaised as error:
        mine["raised"] = error.raised
    return mine


def _refuse_unreadable(cases: list[tuple[Case, dict, dict]]) -> None:
    """Code that raised at every configuration, or returned one thing of the wrong shape at every one, and
    whose numbers no mistake explains, is bad input: one sentence, not a table of failures."""
    raised = [mine.get("raised") for _, mine, _ in cases]
    if all(raised):
        first = raised[0]
        raise ConformanceError(first.description or first.words) from None
    for key in cases[0][2]:
        shapes = [(np.shape(mine[key]), np.shape(_value(theirs[key]))) for _, mine, theirs in cases
                  if not isinstance(mine[key], Raised)]
        if shapes and all(got != expected for got, expected in shapes):
            got, expected = shapes[0]
            raise ConformanceError(f"The code returned {key} of shape {got} at every configuration; expected "
                                   f"{expected} at the first ({cases[0][0].configuration.label})"
                                   + (" (the transpose)." if got == expected[::-1] and len(got) == 2 else "."))


def _value(theirs: Any) -> Any:
    return theirs.value if isinstance(theirs, Theirs) else theirs


def _limit(theirs: Any, limit: float) -> tuple[float, float]:
    """The tolerance and the floor of a compared number."""
    if isinstance(theirs, Theirs):
        return (limit if theirs.tolerance is None else theirs.tolerance), theirs.floor
    return limit, 0.0


def _rows(case: Case, mine: dict, theirs: dict, limit: float) -> list[LayerRow]:
    rows, told = [], set()
    for key, expected in theirs.items():
        tol, floor = _limit(expected, limit)
        label = case.configuration.label
        got, expected = mine[key], _value(expected)
        if isinstance(got, Raised):
            if got.stage not in told:
                told.add(got.stage)
                rows.append(LayerRow(label, got.stage, None, None, None, tol, False, note=got.words))
            continue
        got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
        if got.shape != expected.shape:
            rows.append(LayerRow(label, key, None, None, None, tol, False,
                                 note=f"shape {got.shape}; torch's {expected.shape}"))
            continue
        with np.errstate(all="ignore"):
            cell = _cell(got, expected, tol, floor=floor)
        if cell.nonfinite is not None:
            index, value = cell.nonfinite
            rows.append(LayerRow(label, key, cell.relative, cell.cosine, cell.ratio, tol, False,
                                 note=f"{value} at {list(index)}, where torch's is {expected[index]:.6g}"))
            continue
        rows.append(LayerRow(label, key, cell.relative, cell.cosine, cell.ratio, tol, cell.passed, cell.worst))
    return rows


def agree(got: Any, expected: Any, limit: float, floor: float = 0.0) -> bool:
    """Whether two numbers are the same within ``limit``: both raised in the same stage, or of one shape,
    non-finite at the same places with the same values, and the finite ones within ``limit``."""
    if isinstance(got, Raised) or isinstance(expected, Raised):
        return isinstance(got, Raised) and isinstance(expected, Raised) and got.stage == expected.stage
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        return False
    finite = np.isfinite(expected)
    if not np.array_equal(finite, np.isfinite(got)) or not np.array_equal(got[~finite], expected[~finite],
                                                                          equal_nan=True):
        return False
    return relative_difference(got[finite], expected[finite], floor) <= limit


def fits(mistake: Mistake, cases: list[tuple[Case, dict, dict]], reading: Any, limit: float) -> bool:
    """Whether ``mistake``'s numbers are the learner's at every configuration, and differ from torch's
    correct ones at one at least (on the forward's numbers alone, for a mistake in the forward pass)."""
    differs = False
    for case, mine, theirs in cases:
        numbers = mistake.numbers(case, reading)
        if numbers is None:
            return False
        for key, value in numbers.items():
            if key not in theirs or (mistake.forward_only and is_gradient(key)):
                continue
            tol, floor = _limit(theirs.get(key, value), limit)
            if not agree(mine[key], _value(value), tol, floor):
                return False
            differs = differs or not agree(_value(value), _value(theirs[key]), tol, floor)
    return differs


def _cause(check: LayerCheck, form: Any, cases: list, reading: Any, limit: float, failed: LayerRow) -> Cause:
    """The first mistake of the catalogue that fits; else what was seen where it first failed."""
    for mistake in check.mistakes():
        if fits(mistake, cases, reading, limit):
            where = form.name(FORWARD if mistake.forward_only else BACKWARD)
            return Cause(mistake.name, where, mistake.sentence.format(where=where))
    return Cause("unexplained", failed.compared, _seen(check, failed))


def _seen(check: LayerCheck, row: LayerRow) -> str:
    at = f"at {row.configuration}"
    if row.relative is None:
        what = row.note if row.compared in (FORWARD, BACKWARD) else f"{row.compared} came back with {row.note}"
        return f"{at}, {what}. No mistake of the {check.kind} catalogue gives that."
    text = (f"{at}, {row.compared} is the first to differ from torch's: relative {row.relative:.3g}, cosine "
            f"{row.cosine:.6f}, length ratio {row.ratio:.4g}")
    if row.note:
        text += f"; {row.note}"
    elif row.worst is not None:
        index, mine, theirs = row.worst
        text += f"; largest difference at {list(index)}: Mine {mine:.6g}, Theirs {theirs:.6g}"
    return text + f". No mistake of the {check.kind} catalogue gives these numbers at every configuration."
