"""The PyTorch twin: an ``nn.Sequential``, a loss module, a ``torch.optim`` optimizer and autograd.

No gradient is written by hand here: every derivative comes from ``loss.backward()``.

The class wraps the module rather than being one because ``nn.Module`` already has a
``train(mode)`` method (it switches dropout and batch norm to training mode, and
``eval()`` calls it); the Network protocol's ``train(inputs, targets)`` would clash with it.
"""
from __future__ import annotations

import contextlib
import secrets
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from common.architecture import network_repr, set_network_attributes
from common.errors import ParameterError
from common.recipe import check_optimizer_state
from common.validation import check_batch, check_buffers, check_weights
from common.weights import initial_weights
from torch_impl import optim
from torch_impl.graphs import CapturedStep
from torch_impl.layers import Context
from torch_impl.model import make_loss_function, make_model

DEVICES = ("cpu", "cuda", "auto")
MAX_CAPTURED_SHAPES = 4


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` becomes ``"cuda"`` when CUDA is available, else ``"cpu"``; checks the rest."""
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.split(":")[0] not in ("cpu", "cuda"):
        raise ParameterError(f"The 'device' parameter must be one of {DEVICES}. Got {device!r} instead.")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(
            f"The 'device' parameter is {name!r} but CUDA is not available "
            f"(torch {torch.__version__}); use 'cpu' or 'auto'."
        )
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:  # name the GPU, as tensors on it do
        device = torch.device("cuda", torch.cuda.current_device())
    return device


class Network:
    """The torch network behind the Network protocol: the same math as ``from_scratch.Network``.

    Parameters
    ----------
    input_nodes : int
    hidden_nodes : int or sequence of int
        One hidden layer's size (the book's 200), or each hidden layer's size in order, from
        the input side; ``[]`` is no hidden layer.
    output_nodes : int
    learning_rate : float
        The step size ``lr`` (finite, > 0); the schedule's starting value where it has one.
    activation : {"sigmoid", "tanh", "relu"}, default "sigmoid"
        The hidden layers' activation: ``nn.Sigmoid``, ``nn.Tanh`` or ``nn.ReLU``.
    loss : {"half_sse", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_mean"}, default "half_sse"
        :class:`~torch_impl.model.HalfSquaredError` on sigmoid outputs, ``nn.CrossEntropyLoss``
        on the logits with probability targets, or binary cross-entropy on the logits
        (:func:`~torch_impl.model.make_loss_function`).
    bias : bool, default False
        ``nn.Linear(..., bias=True)``, each bias starting at 0.
    dtype : {"float32", "float64"}, default "float64"
    device : {"cpu", "cuda", "auto"}, default "cpu"
        A convolutional network on CUDA turns cuDNN's TF32 off for the process
        (``torch.backends.cudnn.allow_tf32 = False``), so that float32 convolutions round as float32.
    seed : int or None, default None
        Seed for :func:`common.weights.initial_weights`; the same seed gives the same
        starting weights as the NumPy network.
    cuda_graphs : bool or None, default None
        Replay each training step as a CUDA graph (:mod:`torch_impl.graphs`), captured once
        per input shape. None: on for a CUDA device with the plain SGD recipe, else off.
    conv : sequence of (int, int, int), default ()
        Convolution layers in front of the dense ones, (channels, kernel, padding) each:
        ``nn.Conv2d``, the activation and ``nn.MaxPool2d(2)`` per layer, then ``nn.Flatten``
        (:func:`~torch_impl.model.make_model`). LeNet-5: ``conv=((6, 5, 2), (16, 5, 0))``.
    **recipe
        The training recipe, :class:`common.recipe.Recipe`'s fields with torch.optim's names
        (``optimizer="adam"``, ``momentum=0.9``, ``weight_decay``, ``l2``, ``schedule``, ...);
        none given: plain SGD, as the book.

    Attributes
    ----------
    architecture : common.architecture.Architecture
    input_nodes, output_nodes : int
    hidden_nodes : int or list of int
        As given: an int stays an int (``architecture.hidden_nodes`` is always a tuple).
    activation, loss : str
    bias : bool
    model : torch.nn.Sequential
        ``nn.Linear`` and activation modules (:func:`~torch_impl.model.make_model`); for the
        book's network ``model.wih`` and ``model.who`` are its two layers.
    loss_function : torch.nn.Module
        L, averaged over the batch (without the L2 penalty, which :meth:`objective` adds).
    recipe : common.recipe.Recipe
    optimizer : torch.optim.Optimizer
        The recipe's (:func:`torch_impl.optim.make_optimizer`): by default ``torch.optim.SGD``
        at ``lr``, no momentum.
    scheduler : torch.optim.lr_scheduler.LRScheduler or None
        Stepped after each ``optimizer.step()``, when the recipe has a schedule.
    steps : int
        ``train()`` calls taken.
    """

    def __init__(
        self,
        input_nodes: int,
        hidden_nodes: int | Sequence[int],
        output_nodes: int,
        learning_rate: float,
        activation: str = "sigmoid",
        loss: str = "half_sse",
        bias: bool = False,
        dtype: str | np.dtype = "float64",
        device: str = "cpu",
        seed: int | None = None,
        cuda_graphs: bool | None = None,
        conv: Sequence[tuple[int, int, int]] = (),
        **options: Any,
    ) -> None:
        set_network_attributes(self, input_nodes, hidden_nodes, output_nodes, learning_rate, activation, loss,
                               bias, dtype, options, conv)
        self.device = resolve_device(device)
        if self.device.type == "cuda" and self.architecture.conv:
            # cuDNN's convolutions round float32 to TF32 (a 10-bit mantissa) by default on Ampere and later
            # GPUs: 1e-3 relative, far beyond float32's rounding, which the twins are compared to.
            torch.backends.cudnn.allow_tf32 = False
        self.torch_dtype = getattr(torch, self.dtype.name)
        self._context = Context(seed=int(seed) if seed is not None else secrets.randbits(63))
        self.model = make_model(self.architecture, self._context).to(self.device, self.torch_dtype)
        self.loss_function = make_loss_function(self.architecture)
        weights = self.architecture.weights_decayed()
        self.optimizer = optim.make_optimizer(self.recipe, self.model, self.lr, weights)
        self._penalised = optim.split_by_decay(self.recipe, self.model, weights)[0]  # what the L2 penalty reaches
        self.scheduler = optim.make_scheduler(self.recipe, self.optimizer)
        self.steps = 0
        layers = self.architecture.layers
        self._modal = any(spec.modal for spec in layers)  # query() switches to model.eval() and back
        draws = any(spec.draws for spec in layers)
        if cuda_graphs and self.device.type != "cuda":
            raise ParameterError(f"cuda_graphs=True needs a CUDA device. Got device {str(self.device)!r} instead.")
        if cuda_graphs and not self.recipe.is_plain:
            raise ParameterError(f"cuda_graphs=True captures the plain SGD step only. Got {self.recipe.describe()} "
                                 "instead.")
        if cuda_graphs and draws:
            raise ParameterError("cuda_graphs=True replays one captured step, which would drop the same units at "
                                 "every step; this network draws a dropout mask at each.")
        self.cuda_graphs = (self.device.type == "cuda" and self.recipe.is_plain and not draws if cuda_graphs is None
                            else bool(cuda_graphs))
        self._captured: dict[tuple, "CapturedStep"] = {}
        self.set_weights(initial_weights(self.architecture, seed=seed, dtype=self.dtype))

    # -- weights ---------------------------------------------------------------------------

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy every parameter, in ``architecture.parameter_names()`` order, into the model.

        That is the order of ``model.parameters()``; ``nn.Linear.weight`` has the same
        ``(n_out, n_in)`` layout, so no transpose is needed.
        """
        checked = check_weights(weights, self.architecture, self.dtype)
        with torch.no_grad():
            for parameter, array in zip(self.model.parameters(), checked):
                parameter.copy_(torch.from_numpy(array))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter as NumPy arrays in the network's dtype, in ``model.parameters()`` order."""
        return [p.detach().cpu().numpy().copy() for p in self.model.parameters()]

    def _buffer_tensors(self) -> list[torch.Tensor]:
        """Each layer's buffers, in ``architecture.buffer_names()`` order: the module's own tensors."""
        return [getattr(getattr(self.model, spec.name), buffer.key) for spec in self.architecture.layers
                for buffer in spec.buffers()]

    def set_buffers(self, buffers: Sequence[np.ndarray]) -> None:
        """Copy every buffer (``running_mean``, ``running_var``), in ``architecture.buffer_names()``
        order, into the model: ``model.buffers()`` without ``num_batches_tracked``."""
        checked = check_buffers(buffers, self.architecture, self.dtype)
        with torch.no_grad():
            for tensor, array in zip(self._buffer_tensors(), checked):
                tensor.copy_(torch.from_numpy(array))

    def get_buffers(self) -> list[np.ndarray]:
        """Copies of every buffer as NumPy arrays, in ``architecture.buffer_names()`` order."""
        return [b.detach().cpu().numpy().copy() for b in self._buffer_tensors()]

    @property
    def layer_seed(self) -> int:
        """What the random layers (dropout) draw from, with the step and their place: see
        :func:`common.layers.layer_rng`; ``from_scratch.Network.layer_seed`` is the same."""
        return self._context.seed

    @layer_seed.setter
    def layer_seed(self, seed: int) -> None:
        self._context.seed = int(seed)

    def get_optimizer_state(self) -> dict[str, Any]:
        """``{"step": steps, buffer: [NumPy copy per parameter]}`` from ``optimizer.state``, with
        torch.optim's buffer names (:func:`common.recipe.check_optimizer_state`)."""
        return optim.get_state(self.recipe, self.optimizer, self.model, self.steps)

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        """Load an optimizer state into ``optimizer.state`` and the scheduler (copies)."""
        checked = check_optimizer_state(state, self.recipe, self.architecture.parameter_names(),
                                        self.architecture.parameter_shapes(), self.dtype,
                                        f"{type(self).__name__}'s optimizer state")
        optim.set_state(self.recipe, self.optimizer, self.scheduler, self.model, self.lr, checked)
        self.steps = checked["step"]

    # -- forward and backward --------------------------------------------------------------

    def as_tensor(self, array: np.ndarray | torch.Tensor, width: int, name: str) -> torch.Tensor:
        """``array`` as a tensor of the network's dtype on its device, shape ``(n, width)`` or ``(width,)``.

        NumPy arrays of the right dtype are shared, not copied, on the CPU.
        """
        if isinstance(array, torch.Tensor):
            tensor = array
            if tensor.dtype != self.torch_dtype or tensor.device != self.device:
                tensor = tensor.to(self.device, self.torch_dtype)
        else:
            tensor = torch.as_tensor(np.asarray(array, dtype=self.dtype), device=self.device)
        if tensor.dim() not in (1, 2) or tensor.shape[-1] != width:
            raise ParameterError(
                f"{name} must have shape (n, {width}) or ({width},). Got {tuple(tensor.shape)} instead."
            )
        return tensor

    def _rows(self, inputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_batch` for a training pass, one sample as a batch of one: every layer sees a batch (a
        normalization over the features or the channels reads its batch axis as such), and the outputs
        are the same; a batch too small to normalize over is one sentence (:func:`common.validation.check_batch`)."""
        inputs, targets = self._batch(inputs, targets)
        check_batch(tuple(inputs.shape), self.architecture)
        return (inputs.unsqueeze(0), targets.unsqueeze(0)) if inputs.dim() == 1 else (inputs, targets)

    def _batch(self, inputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = self.as_tensor(inputs, self.input_nodes, "inputs")
        targets = self.as_tensor(targets, self.output_nodes, "targets")
        if targets.shape[:-1] != inputs.shape[:-1]:
            raise ParameterError(
                f"targets must have shape {tuple(inputs.shape[:-1]) + (self.output_nodes,)}. "
                f"Got {tuple(targets.shape)} instead."
            )
        return inputs, targets

    def query(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Outputs o of shape ``(n, output_nodes)``, or ``(output_nodes,)`` for one sample.

        Sigmoid outputs for ``loss="half_sse"``; for ``"cross_entropy"`` the softmax of the
        logits the model returns: the probabilities; for the binary cross-entropies their sigmoid.
        A convolutional network answers a large batch in chunks (``architecture.query_chunk()``
        rows), so that its maps take a few hundred MB at most.
        """
        inputs = self.as_tensor(inputs, self.input_nodes, "inputs")
        chunk = self.architecture.query_chunk()
        if self.architecture.conv_floats_per_sample and inputs.dim() == 2 and len(inputs) > chunk:  # maps stay small
            return np.concatenate([self.query(inputs[i:i + chunk]) for i in range(0, len(inputs), chunk)])
        with torch.no_grad():
            if self._modal:
                self.model.eval()
            try:
                outputs = self.model(inputs.unsqueeze(0) if inputs.dim() == 1 else inputs)  # one sample: a batch of one
            finally:
                if self._modal:
                    self.model.train()
            if self.architecture.loss == "cross_entropy":
                outputs = torch.softmax(outputs, dim=-1)
            elif self.architecture.loss != "half_sse":
                outputs = torch.sigmoid(outputs)
            return outputs[0].cpu().numpy() if inputs.dim() == 1 else outputs.cpu().numpy()

    def objective(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss training minimises: ``loss_function`` plus the recipe's L2 penalty ½ · l2 · Σ ‖W‖²."""
        loss = self.loss_function(outputs, targets)
        return loss + optim.l2_penalty(self.recipe.l2, self._penalised) if self.recipe.l2 else loss

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """dL/d(every parameter) from autograd at the current weights, in ``model.parameters()``
        order, in training mode; no update, and the buffers (running statistics) left as they were.

        Uses ``torch.autograd.grad``, which returns the gradients without touching the
        parameters' ``.grad``, so a later :meth:`train` step is unaffected.
        """
        inputs, targets = self._rows(inputs, targets)
        with self._buffers_kept():  # put back after the backward pass, which reads the forward's tensors
            loss = self.objective(self.model(inputs), targets)
            grads = torch.autograd.grad(loss, list(self.model.parameters()))
        return [g.cpu().numpy() for g in grads]

    @contextlib.contextmanager
    def _buffers_kept(self) -> Iterator[None]:
        """The forward passes inside leave every buffer as it was (a training pass moves running
        statistics); the step for the random layers is the next ``train()`` call's."""
        self._context.step = self.steps
        saved = [b.clone() for b in self._buffer_tensors()]
        try:
            yield
        finally:
            with torch.no_grad():
                for tensor, value in zip(self._buffer_tensors(), saved):
                    tensor.copy_(value)

    def intermediate_gradients(self, inputs: np.ndarray, targets: np.ndarray) -> dict[str, list[np.ndarray]]:
        """Autograd's derivatives of L (the batch mean) with respect to the intermediate tensors.

        Runs the model's modules one by one, keeping the output of each layer that
        ``architecture.intermediates()`` names: each affine layer's z (an ``nn.Linear`` or
        ``nn.Conv2d`` output) and each hidden block's output h, the tensor the next of those
        layers reads (a hidden activation's output, after any layer the options add; a
        convolution layer's pooled map, before ``nn.Flatten``), and asks ``torch.autograd.grad``
        for dL/dz and dL/dh.

        Returns
        -------
        dict
            ``"dLdz"``: for each layer's z, input side first, the output logits last;
            ``"dLdh"``: for each hidden layer's h. Shapes ``(n, nodes)``, or ``(nodes,)`` for
            one sample, as ``from_scratch.Network.intermediate_gradients`` returns them; a
            convolution layer's ``(n, C, H, W)`` (``architecture.intermediate_shapes()``).
        """
        single = np.ndim(inputs) == 1
        inputs, targets = self._rows(inputs, targets)
        found = list(self.architecture.intermediates())
        wanted = {index for _, index, _, _ in found}
        kept, outputs = {}, inputs
        with self._buffers_kept():
            for index, module in enumerate(self.model.children()):
                outputs = module(outputs)
                if index in wanted:
                    kept[index] = outputs
            loss = self.objective(outputs, targets)
            grads = torch.autograd.grad(loss, [kept[index] for _, index, _, _ in found])
        result: dict[str, list[np.ndarray]] = {"dLdz": [], "dLdh": []}
        for (key, _, _, _), grad in zip(found, grads):
            result[key].append((grad[0] if single else grad).cpu().numpy())
        return result

    def train(self, inputs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor) -> float:
        """One step of the recipe on the batch, the canonical torch loop; returns L before the step."""
        inputs, targets = self._rows(inputs, targets)  # a batch of one: nn.Linear on a row skips two reshaping nodes
        self._context.step = self.steps  # what a dropout layer draws its mask by: the calls before this one
        self.steps += 1
        if self.cuda_graphs:
            return self._replay(inputs, targets).item()
        # model.zero_grad() does what optimizer.zero_grad() does (set each .grad to None)
        # without opening a profiler range around it, a cost that shows at a step this small.
        self.model.zero_grad()
        loss = self.objective(self.model(inputs), targets)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.item()

    def _replay(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The step as a CUDA graph, captured the first time each input shape is seen."""
        key = (tuple(inputs.shape), tuple(targets.shape))
        step = self._captured.get(key)
        if step is None:
            if len(self._captured) >= MAX_CAPTURED_SHAPES:  # e.g. a short last batch: run it eagerly
                self.model.zero_grad()
                loss = self.loss_function(self.model(inputs), targets)
                loss.backward()
                self.optimizer.step()
                return loss.detach()
            step = self._captured[key] = CapturedStep(self, *key)
        return step(inputs, targets)

    def __deepcopy__(self, memo: dict) -> "Network":
        """An independent twin: the same configuration, weights and optimizer state.

        Built afresh rather than copied attribute by attribute: an lr_scheduler copied that way no
        longer recognises its optimizer's ``step`` as the one it wrapped, and torch warns at every step.
        """
        twin = Network(self.input_nodes, self.hidden_nodes, self.output_nodes, self.lr, self.activation, self.loss,
                       self.bias, self.dtype, str(self.device), cuda_graphs=self.cuda_graphs, conv=self.conv,
                       **dict(self.architecture.options), **self.recipe.changed_keywords())
        twin.set_weights(self.get_weights())
        twin.set_buffers(self.get_buffers())
        twin.set_optimizer_state(self.get_optimizer_state())
        twin.layer_seed = self.layer_seed
        return twin

    def __repr__(self) -> str:
        return f"{network_repr(self)}, device={str(self.device)!r})"
