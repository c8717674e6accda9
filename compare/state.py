"""What a network needs to take "the same step" as another: its weights, its optimizer's state, its
buffers and the seed its random layers draw from.

A step of momentum or Adam depends on more than the weights and the batch: on the buffers the
optimizer keeps and on the step count that drives the schedule and Adam's bias correction. So
wherever ``compare`` starts a network from another's place (a twin that checks one step, a
retrained segment, a re-synchronised trajectory) it loads both, through the protocol's optional
``get_optimizer_state`` and ``set_optimizer_state`` (in :mod:`common.recipe`'s format). A network
whose recipe keeps no state (plain SGD, decay or L2 without momentum) needs neither method. One
whose recipe keeps state and that lacks them keeps its state to itself (:func:`keeps_state_to_itself`):
its snapshot carries a deep copy of it, which :func:`restore` puts back into a network of its class,
so that a twin of it starts from its own place, state and all; into a network of another class only
the weights, buffers and seed go, the optimizer's state staying that network's own.
Layers carry state of their own too: a batch normalization's running statistics (the buffers,
``get_buffers``/``set_buffers``, which evaluation reads and a training step moves), and the
``layer_seed`` a dropout layer draws its masks from (:func:`common.layers.layer_rng`), so that two
networks at the same step drop the same units. Both travel with the state wherever the network has them.

One step is also where the recipe can amplify rounding: Adam and RMSprop divide each gradient
entry by its own running size, so an entry whose sum nearly cancels carries its rounding, a
large part of itself, into a step of full length. :func:`step_rounding` measures that in the
reference itself.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from common.errors import ParameterError
from common.recipe import Recipe
from common.architecture import Architecture
from common.tolerances import Tolerance, measure_step, nudge, nudge_at_scale, step_floors
from compare.conformance import Guarded

STATE_METHODS = ("get_optimizer_state", "set_optimizer_state")
BUFFER_METHODS = ("get_buffers", "set_buffers")


def has_state_methods(network: object) -> bool:
    return all(callable(getattr(network, name, None)) for name in STATE_METHODS)


def has_buffer_methods(network: object) -> bool:
    return all(callable(getattr(network, name, None)) for name in BUFFER_METHODS)


def _own(network: Any) -> Any:
    """The user's network itself, behind its :class:`~compare.conformance.Guarded` wrapper if it has one."""
    return network.network if isinstance(network, Guarded) else network


def keeps_state_to_itself(network: object) -> bool:
    """Whether the network's steps depend on an optimizer state it does not hand out: its recipe keeps
    state (momentum, Adam's moments, a schedule's step count) and it has no get/set_optimizer_state."""
    if has_state_methods(network):
        return False
    try:
        return Recipe.of(_own(network)).has_state
    except ParameterError:  # a recipe it cannot state is conformance's to say
        return False


@dataclass(frozen=True)
class TrainingState:
    """A network's place in training: its weights, and its optimizer's state where it has one.

    ``optimizer`` is None for a network without the state methods; ``buffers`` (running statistics)
    None for a network without ``get_buffers``; ``seed`` (its ``layer_seed``) None for a network
    without one; ``carried`` a deep copy of a network that keeps its optimizer state to itself
    (:func:`keeps_state_to_itself`), None for any other.
    """

    weights: list[np.ndarray]
    optimizer: dict[str, Any] | None
    buffers: list[np.ndarray] | None = None
    seed: int | None = None
    carried: Any = None

    @property
    def step(self) -> int | None:
        return None if self.optimizer is None else self.optimizer["step"]


def snapshot(network: Any) -> TrainingState:
    """Copies of the network's weights, optimizer state and buffers, and its layer seed; of the whole
    network where it keeps its optimizer state to itself (and can be copied)."""
    seed = getattr(network, "layer_seed", None)
    carried = None
    if keeps_state_to_itself(network):
        try:
            carried = copy.deepcopy(_own(network))
        except Exception:  # noqa: BLE001 (one that cannot be copied carries nothing: its weights still go)
            carried = None
    return TrainingState(network.get_weights(), network.get_optimizer_state() if has_state_methods(network) else None,
                         network.get_buffers() if has_buffer_methods(network) else None,
                         None if seed is None else int(seed), carried)


def restore(network: Any, state: TrainingState, weights: list[np.ndarray] | None = None) -> None:
    """Put ``network`` at ``state`` (with ``weights`` in place of the state's own, if given)."""
    own = _own(network)
    if state.carried is not None and type(own) is type(state.carried):  # its own state, as it was
        vars(own).clear()
        vars(own).update(copy.deepcopy(vars(state.carried)))
    # copies: a user's set_weights may keep the arrays it is given, and a state is restored more than once
    network.set_weights([w.copy() for w in (state.weights if weights is None else weights)])
    if state.optimizer is not None and has_state_methods(network):
        network.set_optimizer_state(state.optimizer)
    if state.buffers is not None and has_buffer_methods(network):
        network.set_buffers([b.copy() for b in state.buffers])
    if state.seed is not None and hasattr(network, "layer_seed"):
        network.layer_seed = state.seed


def one_step(network: Any, state: TrainingState, inputs: np.ndarray, targets: np.ndarray,
             prepare: Callable[[np.ndarray], Any] = lambda a: a,
             weights: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """The weights after one ``train()`` call of ``network`` from ``state`` on the batch.

    A batch of one is handed to ``train`` as a row, as one sample a step does in training.
    """
    restore(network, state, weights)
    single = len(inputs) == 1
    network.train(prepare(inputs[0] if single else inputs), prepare(targets[0] if single else targets))
    return network.get_weights()


def step_rounding(network: Any, state: TrainingState, inputs: np.ndarray, targets: np.ndarray, tol: Tolerance,
                  stepped: list[np.ndarray], seed: int, prepare: Callable[[np.ndarray], Any] = lambda a: a,
                  nudges: int = 2, gradients: list[np.ndarray] | None = None) -> list[float]:
    """How far rounding of the size two backends add moves the network's own step, per parameter.

    ``stepped`` is the network's step from ``state`` itself. Each of ``nudges`` times every weight is
    moved to a neighbouring float (:func:`common.tolerances.nudge`) and the step is taken again from
    there, the optimizer state unchanged. Where the network's update rule can be handed gradients
    (a torch.optim optimizer, :func:`rule_step`), its gradients are also moved by one rounding of
    each one's largest entry (:func:`common.tolerances.nudge_at_scale`) and the rule takes its step
    with them: the rounding a backward pass adds inside a normalization's cancelling sums, which no
    nudge of the weights makes. Each step is compared with ``stepped`` as
    :func:`common.tolerances.measure_step` compares two backends' steps. Returns the largest over the
    nudges: what rounding of the size the two backends add can do to this step. ``gradients``: the
    network's own at ``state`` on the batch, where the caller has them already.
    """
    worst = [0.0] * len(stepped)
    # a step that is rounding noise (a bias a batch norm cancels) is measured at its partner's step, as it is compared
    floors = step_floors(stepped, state.weights, Architecture.of(network).floor_partners())
    exact = None
    if _torch_rule(network) is not None:
        exact = gradients
        if exact is None:
            restore(network, state)
            single = len(inputs) == 1
            exact = network.gradients(prepare(inputs[0] if single else inputs),
                                      prepare(targets[0] if single else targets))
    for k in range(nudges):
        nudged = nudge(state.weights, seed + k)
        moved = one_step(network, state, inputs, targets, prepare, weights=nudged)
        for i, (after, start, reference, before) in enumerate(zip(moved, nudged, stepped, state.weights)):
            # the nudged step, laid on the un-nudged start: before + (after − start)
            shifted = before.astype(np.float64) + (after.astype(np.float64) - start)
            worst[i] = max(worst[i], measure_step(shifted, reference, before, tol, floors[i])["relative"])
        if exact is not None:
            ruled = rule_step(network, state, nudge_at_scale(exact, tol.eps, seed + k))
            for i, (after, reference, before) in enumerate(zip(ruled, stepped, state.weights)):
                worst[i] = max(worst[i], measure_step(after, reference, before, tol, floors[i])["relative"])
    return worst


def _torch_rule(network: Any) -> tuple[Any, Any] | None:
    """``(model, optimizer)`` of a network that trains a torch model with a torch.optim optimizer."""
    import torch

    model, optimizer = getattr(network, "model", None), getattr(network, "optimizer", None)
    if isinstance(model, torch.nn.Module) and isinstance(optimizer, torch.optim.Optimizer):
        return model, optimizer
    return None


def rule_step(network: Any, state: TrainingState, gradients: list[np.ndarray]) -> list[np.ndarray]:
    """The weights after the optimizer step of ``network`` (one :func:`_torch_rule` finds) from ``state``
    with ``gradients`` (in ``model.parameters()`` order) in place of its own: what its update rule makes
    of them. The scheduler is not stepped: it sets the lr of later steps."""
    import torch

    model, optimizer = _torch_rule(network)
    restore(network, state)
    for parameter, gradient in zip(model.parameters(), gradients):
        parameter.grad = torch.as_tensor(np.array(gradient), dtype=parameter.dtype,
                                         device=parameter.device).reshape(parameter.shape)
    optimizer.step()
    model.zero_grad()
    return network.get_weights()
