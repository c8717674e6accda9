"""A network trained by true backpropagation, in NumPy and SciPy only: a loop over its layers.

The book's network is 784-200-10 with sigmoids, no bias and L = ½ Σ (t − o)². Each forward
step sits beside the derivative the backward pass needs from it:

.. math::

    h = \\sigma(W_{ih} x), \\quad o = \\sigma(W_{ho} h), \\quad
    L = \\tfrac12 \\sum_k (t_k - o_k)^2

    \\frac{\\partial L}{\\partial o} = o - t, \\quad
    \\frac{\\partial L}{\\partial z_o} = (o - t)\\, o (1 - o), \\quad
    \\frac{\\partial L}{\\partial W_{ho}} = \\frac{\\partial L}{\\partial z_o} h^\\top

    \\frac{\\partial L}{\\partial h} = W_{ho}^\\top \\frac{\\partial L}{\\partial z_o}, \\quad
    \\frac{\\partial L}{\\partial z_h} = \\frac{\\partial L}{\\partial h}\\, h (1 - h), \\quad
    \\frac{\\partial L}{\\partial W_{ih}} = \\frac{\\partial L}{\\partial z_h} x^\\top

Every architecture runs the same loop. The architecture is a sequence of layers
(``architecture.layers``, :mod:`common.layers`), and each runs as its kind's forward/backward
pair of :mod:`from_scratch.layers`: the dense layer's z = W a + b, the activation's h = f(z), a
convolution, a pool, a flatten, and whatever the architecture's options add. Forward, each
layer's output is the next one's input, and the last one's is the logits z_o; the output layer's
function and the loss, fused (:mod:`from_scratch.losses`), give L and dL/dz_o; backward, each
layer turns dL/d(its output) into dL/d(its input) and the gradients of its own parameters. L is
the mean over a batch, so dL/dz_o carries each sample's 1/n and every gradient below is of L.

Samples are rows: a batch ``inputs`` has shape ``(n, input_nodes)``, one sample
``(input_nodes,)``; a dense layer's ``W a`` is written ``a @ W.T``, which serves both. A
convolutional network sees each row as an image and one sample as a batch of one.
"""
from __future__ import annotations

import secrets
from typing import Any, Sequence

import numpy as np

from common.architecture import network_repr, set_network_attributes
from common.errors import ParameterError
from common.recipe import check_optimizer_state
from common.validation import check_batch, check_buffers, check_weights
from common.weights import initial_buffers, initial_weights
from from_scratch.blas import add_scaled
from from_scratch.layers import Context, build
from from_scratch.losses import LOSSES
from from_scratch.optimizers import make_optimizer


class Network:
    """A network trained by gradient descent, built from its layers; by default the book's.

    With the defaults it is the book's network: sigmoid layers without biases and
    L = ½ Σ (t − o)². The ½ is there so that dL/do = o − t: with it, the book's output-layer
    update is exactly a gradient step, and L matches what the book's code minimises. Torch's
    ``MSELoss(reduction='sum')`` is twice L.

    Parameters
    ----------
    input_nodes : int
    hidden_nodes : int or sequence of int
        One hidden layer's size (the book's 200), or each hidden layer's size in order, from
        the input side; ``[]`` is no hidden layer (softmax regression with cross-entropy).
    output_nodes : int
    learning_rate : float
        The step size ``lr`` (finite, > 0); the schedule's starting value where it has one.
    activation : {"sigmoid", "tanh", "relu"}, default "sigmoid"
        The hidden layers' activation.
    loss : {"half_sse", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_mean"}, default "half_sse"
        ``"half_sse"``: sigmoid outputs, L = ½ Σ (t − o)². ``"cross_entropy"``: softmax
        outputs, L = −Σ t log o. ``"binary_cross_entropy"``: sigmoid outputs,
        L = −Σ [t log o + (1 − t) log(1 − o)], summed over the outputs (``_mean``: averaged
        over them). Each is averaged over the samples of a batch.
    bias : bool, default False
        A bias vector in every layer, starting at 0.
    dtype : {"float32", "float64"}, default "float64"
        Dtype of the weights and of every computation.
    seed : int or None, default None
        Seed for :func:`common.weights.initial_weights`, which draws the starting weights (the
        same seed gives the same weights in every backend), and the ``layer_seed`` a random
        layer (dropout) draws from; None draws both at random.
    conv : sequence of (int, int, int), default ()
        Convolution layers in front of the dense ones, (channels, kernel, padding) each:
        LeNet-5 is ``conv=((6, 5, 2), (16, 5, 0))`` with ``hidden_nodes=[120, 84]``. Each is
        followed by the activation and a 2×2 max pool (:mod:`common.architecture`).
    **options
        The architecture's options (:data:`common.layers.OPTIONS`: ``norm="batch"`` or
        ``"layer"``, ``dropout=p``), and the training recipe, :class:`common.recipe.Recipe`'s
        fields with torch.optim's names: ``optimizer`` ("sgd", "adam", "adamw", "rmsprop"),
        ``momentum``, ``dampening``, ``nesterov``, ``betas``, ``eps``, ``amsgrad``, ``alpha``,
        ``centered``, ``weight_decay``, ``l2``, ``decay_biases``, ``schedule``, ``milestones``,
        ``gamma``, ``lr_decay``. None given: the book's plain SGD, ``W −= lr · dL/dW``.

    Attributes
    ----------
    architecture : common.architecture.Architecture
        The layers, checked.
    input_nodes, output_nodes : int
    hidden_nodes : int or list of int
        As given: an int stays an int (``architecture.hidden_nodes`` is always a tuple).
    activation, loss : str
    bias : bool
    recipe : common.recipe.Recipe
        How :meth:`train` steps.
    optimizer : from_scratch.optimizers.Optimizer
        The update rule and its state (:mod:`from_scratch.optimizers`).
    layers : list of from_scratch.layers.Layer
        Each layer as it runs, ``architecture.layers`` in order.
    layer_seed : int
        What random layers draw from, with the step and the layer's place (:mod:`common.layers`).
    weights : list of ndarray
        Each affine layer's W, shape ``(n_out, n_in)`` like ``torch.nn.Linear.weight``, input side
        first; a convolution's ``(C_out, C_in, K, K)`` like ``torch.nn.Conv2d.weight``, before the dense ones.
    biases : list of ndarray or None
        Each affine layer's b, shape ``(n_out,)``; None in every layer without bias.
    wih, who : ndarray
        With one hidden layer, the book's names for ``weights[0]`` (W_ih, shape
        ``(hidden_nodes, input_nodes)``) and ``weights[1]`` (W_ho).
    """

    book_rule = False  # True in BookNetwork: carry the book's errors down, not dL/dz

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
        seed: int | None = None,
        conv: Sequence[tuple[int, int, int]] = (),
        **options: Any,
    ) -> None:
        set_network_attributes(self, input_nodes, hidden_nodes, output_nodes, learning_rate, activation, loss,
                               bias, dtype, options, conv)
        architecture = self.architecture
        if self.book_rule and ((self.activation, self.loss) != ("sigmoid", "half_sse") or not self.recipe.is_plain):
            raise ParameterError(
                "BookNetwork is the book's rule, defined for activation='sigmoid', loss='half_sse' and plain SGD only. "
                f"Got activation={activation!r}, loss={loss!r} and {self.recipe.describe()} instead; use Network "
                "for the gradient.")
        others = {k: v for k, v in architecture.changed_keywords().items() if k not in ("activation", "loss", "bias")}
        if self.book_rule and others:
            raise ParameterError("BookNetwork is the book's rule, defined for fully connected layers only. Got "
                                 f"{', '.join(f'{k}={v!r}' for k, v in others.items())}; use Network for the gradient.")
        # rows query() answers at a time: 256 for LeNet, whose maps would fill memory; all of them without maps
        self._query_chunk = architecture.query_chunk() if architecture.conv_floats_per_sample else None
        self._output, self._output_and_loss = LOSSES[loss]
        self._context = Context(seed=int(seed) if seed is not None else secrets.randbits(63))
        self.layers = [build(spec, self.dtype) for spec in architecture.layers]
        for position, index in architecture.draw_indices().items():  # what a layer that draws reads its numbers by
            self.layers[position].index = index
        # Layers at or below the first with parameters need not hand dL/d(input) further down.
        first = next(i for i, spec in enumerate(architecture.layers) if spec.parameters())
        self._need_dx = [i > first for i in range(len(self.layers))]
        self._loop()
        shapes = architecture.parameter_shapes()
        decayed = architecture.weights_decayed()
        self.optimizer = make_optimizer(self.recipe, shapes, self.dtype, decayed)
        self._plain = self.recipe.is_plain  # the book's W −= lr dL/dW, added into W by BLAS
        self._l2 = [self.recipe.l2 * d for d in self.recipe.decays(decayed)]  # each parameter's penalty
        self._buffers = initial_buffers(architecture, self.dtype)
        self.set_weights(initial_weights(architecture, seed=seed, dtype=self.dtype))

    # -- weights and buffers -------------------------------------------------------------------

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load copies of every parameter, in ``architecture.parameter_names()`` order.

        The book's network: ``[W_ih, W_ho]``, shapes ``(hidden, input)`` and ``(output, hidden)``.
        With biases each weight is followed by its bias: ``[W_ih, b_h, W_ho, b_o]``.
        """
        self._parameters = check_weights(weights, self.architecture, self.dtype)  # the optimizer's order
        self._bind()

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter in the network's dtype, in ``architecture.parameter_names()`` order."""
        return [p.copy() for p in self._parameters]

    def set_buffers(self, buffers: Sequence[np.ndarray]) -> None:
        """Load copies of every buffer (a batch normalization's ``running_mean`` and ``running_var``),
        in ``architecture.buffer_names()`` order: torch's ``model.buffers()`` without
        ``num_batches_tracked``. ``[]`` for a network without any."""
        self._buffers = check_buffers(buffers, self.architecture, self.dtype)
        self._bind()

    def get_buffers(self) -> list[np.ndarray]:
        """Copies of every buffer, in ``architecture.buffer_names()`` order."""
        return [b.copy() for b in self._buffers]

    def use_layer(self, position: int, layer: Any) -> None:
        """Run ``layer`` (a :class:`from_scratch.layers.Layer` for ``architecture.layers[position]``, a
        pair of one's own) in place of the network's own at ``position``: its parameters and buffers
        are handed to it, and every pass goes through it from then on."""
        if layer.spec != self.architecture.layers[position]:
            raise ParameterError(f"Layer {position} of {self.architecture.describe()} is {self.architecture.layers[position]!r}; "
                                 f"the layer given runs {layer.spec!r}.")
        layer.index = self.layers[position].index
        self.layers[position] = layer
        self._bind()
        self._loop()

    def _loop(self) -> None:
        """The loops' lists, made once: each layer's bound methods, top layer first for the backward pass."""
        self._forwards = [layer.forward for layer in self.layers]
        self._down = list(zip(range(len(self.layers) - 1, -1, -1), self.layers[::-1], self._need_dx[::-1]))
        self._steps = [(layer.step, need_dx) for _, layer, need_dx in self._down]

    def _bind(self) -> None:
        """Hand each layer its own parameters and buffers (the arrays themselves), in order."""
        parameters, buffers = iter(self._parameters), iter(self._buffers)
        for layer, spec in zip(self.layers, self.architecture.layers):
            layer.bind([next(parameters) for _ in spec.parameters()], [next(buffers) for _ in spec.buffers()],
                       self._context)
        affine = [layer.params for layer in self.layers if layer.spec.affine]
        self.weights = [params[0] for params in affine]
        self.biases = [params[1] if self.bias else None for params in affine]

    @property
    def layer_seed(self) -> int:
        """What the random layers (dropout) draw from, with the step and their place: see
        :func:`common.layers.layer_rng`. The seed by default; a twin that must drop the same
        units is given this network's."""
        return self._context.seed

    @layer_seed.setter
    def layer_seed(self, seed: int) -> None:
        self._context.seed = int(seed)

    def get_optimizer_state(self) -> dict[str, Any]:
        """Copies of the optimizer's state: ``{"step": t, buffer: [one array per parameter]}``
        with torch.optim's buffer names (:func:`common.recipe.check_optimizer_state`)."""
        return self.optimizer.get_state()

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        """Load an optimizer state (copies), in the format :meth:`get_optimizer_state` returns."""
        self.optimizer.set_state(check_optimizer_state(
            state, self.recipe, self.architecture.parameter_names(), self.architecture.parameter_shapes(),
            self.dtype, f"{type(self).__name__}'s optimizer state"))

    @property
    def wih(self) -> np.ndarray:
        """W_ih, the input -> hidden weights ``weights[0]``, for a network with one hidden layer."""
        return self._book_layer(0, "wih")

    @property
    def who(self) -> np.ndarray:
        """W_ho, the hidden -> output weights ``weights[1]``, for a network with one hidden layer."""
        return self._book_layer(1, "who")

    def _book_layer(self, index: int, name: str) -> np.ndarray:
        if self.conv:
            raise AttributeError(f"'{name}' names a layer of a fully connected network; this one has "
                                 f"{len(self.conv)} convolution layer(s) first: use weights[i].")
        if len(self.weights) != 2:
            raise AttributeError(f"'{name}' names a layer of a network with one hidden layer; this one has "
                                 f"{len(self.weights) - 1}: use weights[i].")
        return self.weights[index]

    # -- forward and backward --------------------------------------------------------------

    def _forward(self, inputs: np.ndarray, training: bool, caches: list | None = None,
                 outputs: list | None = None) -> np.ndarray:
        """The logits z_o for ``inputs``, each layer run in training or evaluation mode; each layer's
        cache appended to ``caches`` and its output to ``outputs``, where given."""
        x = inputs
        if caches is not None:
            for forward in self._forwards:
                x, cache = forward(x, training)
                caches.append(cache)
            return x
        for forward in self._forwards:
            x, _ = forward(x, training)
            if outputs is not None:
                outputs.append(x)
        return x

    def query(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs o of shape ``(n, output_nodes)``, or ``(output_nodes,)`` for one sample, in
        evaluation mode (running statistics, no dropout).

        Sigmoid outputs for ``loss="half_sse"`` and the binary cross-entropies, softmax
        probabilities for ``"cross_entropy"``.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes) or (input_nodes,)
            Scaled inputs, e.g. from :func:`common.data.scale_inputs`.
        """
        inputs = self._check_inputs(inputs)
        chunk = self._query_chunk
        if chunk and inputs.ndim == 2 and len(inputs) > chunk:  # a convolutional network's maps stay small
            return np.concatenate([self.query(inputs[i:i + chunk]) for i in range(0, len(inputs), chunk)])
        outputs = self._output(self._forward(inputs, False))
        return outputs[0] if inputs.ndim == 1 and outputs.ndim == 2 else outputs  # one image, a batch of one

    def hidden_outputs(self, inputs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Each hidden block's output h, input side first, and the output logits z_o, in evaluation
        mode; no update.

        A convolution layer's h is its pooled map, ``(n, C, H, W)``; a dense hidden layer's
        ``(n, nodes)``; z_o ``(n, output_nodes)``, of which :meth:`query` is the output function.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes)
        """
        inputs = self._check_inputs(inputs)
        if inputs.ndim != 2:
            raise ParameterError(f"inputs must have shape (n, {self.input_nodes}). Got {inputs.shape} instead.")
        at = [index for key, index, _, _ in self.architecture.intermediates() if key == "dLdh"]
        hidden, logits, chunk = [], [], self._query_chunk or max(len(inputs), 1)
        for start in range(0, len(inputs), chunk):
            outputs: list[np.ndarray] = []
            logits.append(self._forward(inputs[start:start + chunk], False, outputs=outputs))
            hidden.append([outputs[i] for i in at])
        return [np.concatenate(layer) for layer in zip(*hidden)], np.concatenate(logits)

    def _backward(self, inputs: np.ndarray, targets: np.ndarray, into: list[np.ndarray] | None = None,
                  lr: float | None = None, at: dict[int, np.ndarray] | None = None) -> tuple[float, list]:
        """One forward pass in training mode and backpropagation through every layer.

        Each layer's parameters' gradients are returned as new arrays (in parameter order), or
        written into ``into`` (the optimizer's arrays, reused from step to step, so that a step
        allocates no gradient matrix), or, with ``lr``, added into the parameters as plain SGD's
        step. ``at``: each layer index whose dL/d(output) to keep (the intermediates). Returns L
        (the batch mean) and the gradients (``[]`` with ``lr``).
        """
        self._context.step = self.optimizer.t
        caches: list = []
        z_o = self._forward(inputs, True, caches)
        if targets.shape != z_o.shape:  # one image, seen as a batch of one
            targets = targets.reshape(z_o.shape)
        final_outputs, loss, dout = self._output_and_loss(z_o, targets)  # o, L, dL/dz_o
        if z_o.ndim == 2 and len(z_o) > 1:
            dout /= len(z_o)  # L is the mean over the batch: each sample's dL/dz_o carries 1/n
        if lr is not None:  # plain SGD, the hot loop: each layer steps as it goes down
            for (step, need_dx), cache in zip(self._steps, reversed(caches)):
                dout = step(dout, cache, need_dx, lr)
            return loss, []
        grads: list = []
        k = len(self._parameters)
        for i, layer, need_dx in self._down:
            if at is not None and i in at:
                at[i] = dout
            if into is not None:
                count = len(layer.params)
                dout = layer.backward_into(dout, caches[i], need_dx, into[k - count:k])
                k -= count
            else:
                dout, layer_grads = layer.backward(dout, caches[i], need_dx)
                grads[:0] = layer_grads
        return loss, (into if into is not None else grads)

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """dL/d(every parameter) at the current weights, averaged over the batch, in training mode;
        no update, and the buffers (running statistics) left as they were.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes) or (input_nodes,)
        targets : ndarray of shape (n, output_nodes) or (output_nodes,)

        Returns
        -------
        list of ndarray
            In ``architecture.parameter_names()`` order, each shaped like its parameter: for
            the book's network ``[dL/dW_ih, dL/dW_ho]``, shapes ``(hidden, input)`` and
            ``(output, hidden)``. With ``l2``, each includes the penalty's ``l2 · W``.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        check_batch(inputs.shape, self.architecture)
        return self._loss_and_gradients(inputs, targets)[1]

    def _loss_and_gradients(self, inputs: np.ndarray, targets: np.ndarray, into: list[np.ndarray] | None = None,
                            at: dict[int, np.ndarray] | None = None) -> tuple[float, list[np.ndarray]]:
        """L (with the penalty) and every parameter's gradient (:meth:`_backward`'s), the buffers kept."""
        updating, self._context.update_buffers = self._context.update_buffers, into is not None
        try:
            loss, grads = self._backward(inputs, targets, into=into, at=at)
        finally:
            self._context.update_buffers = updating
        self._add_penalty_gradients(grads)
        return loss + self._penalty(), grads

    # -- the L2 penalty ½ · l2 · Σ ‖W‖² ------------------------------------------------------------

    def _penalty(self) -> float:
        """``½ · l2 · Σ ‖W‖²`` over the parameters it reaches (0 without ``l2``)."""
        return sum(0.5 * l2 * float(np.dot(p.ravel(), p.ravel())) for l2, p in zip(self._l2, self._parameters) if l2)

    def _add_penalty_gradients(self, grads: list[np.ndarray]) -> None:
        """``dL/dW += l2 · W`` in place: the derivative of ``½ · l2 · ‖W‖²``."""
        for l2, g, p in zip(self._l2, grads, self._parameters):
            if l2:
                add_scaled(g, l2, p)

    def intermediate_gradients(self, inputs: np.ndarray, targets: np.ndarray) -> dict[str, list[np.ndarray]]:
        """The backward pass's intermediate derivatives of L (the batch mean) at the current weights.

        Returns
        -------
        dict
            ``"dLdz"``: dL/dz for each affine layer's output z = W a + b, input side first, the
            output layer's logits last; ``"dLdh"``: dL/dh for each hidden block's output h.
            Each has shape ``(n, nodes)``, or ``(nodes,)`` for one sample. A convolution
            layer's z is its output before the activation, ``(n, C, H', W')``, and its h the
            pooled map the next layer reads, ``(n, C, H'/2, W'/2)`` (without the n for one
            sample): ``architecture.intermediate_shapes()``. What autograd gives for the same
            tensors (``torch_impl.Network.intermediate_gradients``); for the book's rule
            (:class:`BookNetwork`), the quantities its update uses instead.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        check_batch(inputs.shape, self.architecture)
        found = list(self.architecture.intermediates())
        at: dict[int, np.ndarray] = {index: None for _, index, _, _ in found}
        self._loss_and_gradients(inputs, targets, at=at)
        result: dict[str, list[np.ndarray]] = {"dLdz": [], "dLdh": []}
        for key, index, _, shape in found:
            d = at[index]
            if inputs.ndim == 1 and d.ndim == len(shape) + 1:  # one sample's map, seen as a batch of one
                d = d[0]
            result[key].append(np.ascontiguousarray(d))
        return result

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """One step of the recipe on one sample or a batch, in training mode; returns L before it
        (with the L2 penalty).

        The book's plain SGD, ``W -= lr * dL/dW``, hands each dense layer's outer product to BLAS
        to add into the weights in place (``ger`` for one sample, ``gemm`` with ``beta=1`` for a
        batch, ``axpy`` for a bias), so no gradient matrix is ever allocated: one pass over W,
        not three. Any other recipe computes the gradients and hands them to its rule
        (:mod:`from_scratch.optimizers`), at the schedule's learning rate for this step.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        check_batch(inputs.shape, self.architecture)
        if not self._plain:
            loss, grads = self._loss_and_gradients(inputs, targets, into=self.optimizer.gradients)
            self.optimizer.step(self._parameters, grads, self.recipe.learning_rate(self.lr, self.optimizer.t))
            return loss
        loss, _ = self._backward(inputs, targets, lr=self.lr)
        self.optimizer.t += 1
        return loss

    # -- input checks ----------------------------------------------------------------------

    def _check_inputs(self, inputs: np.ndarray) -> np.ndarray:
        if type(inputs) is not np.ndarray or inputs.dtype != self.dtype:
            inputs = np.asarray(inputs, dtype=self.dtype)
        if inputs.ndim not in (1, 2) or inputs.shape[-1] != self.input_nodes:
            raise ParameterError(
                f"inputs must have shape (n, {self.input_nodes}) or ({self.input_nodes},). "
                f"Got {inputs.shape} instead."
            )
        return inputs

    def _check_targets(self, targets: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        if type(targets) is not np.ndarray or targets.dtype != self.dtype:
            targets = np.asarray(targets, dtype=self.dtype)
        expected = inputs.shape[:-1] + (self.output_nodes,)
        if targets.shape != expected:
            raise ParameterError(f"targets must have shape {expected}. Got {targets.shape} instead.")
        return targets

    def __repr__(self) -> str:
        return network_repr(self) + ")"
