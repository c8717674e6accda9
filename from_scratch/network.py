"""A fully connected network trained by true backpropagation, in NumPy and SciPy only.

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

Every other architecture runs the same loop over its layers: z = W a + b and h = f(z) on the
way forward (f from :mod:`from_scratch.activations`); the output layer and loss fused
(:mod:`from_scratch.losses`) give dL/dz_o; and on the way back each layer turns the dL/dz of
the layer above into dL/dh = Wᵀ dL/dz and dL/dz = dL/dh · f'(z), and its gradient
dL/dW = dL/dz aᵀ (and dL/db = dL/dz).

Samples are rows: a batch ``inputs`` has shape ``(n, input_nodes)``, so ``W x`` is written
``inputs @ W.T``, which also serves a single sample of shape ``(input_nodes,)``.

Convolution layers (``conv=``) come first: the rows are seen as images (n, 1, H, W), and each
layer is :func:`from_scratch.conv.conv_layer_forward`, z = W * x + b, a = f(z), h = the 2×2
max pool of a; the last h is flattened in (C, H, W) order into the first dense layer's a. On
the way back the first dense layer also hands down dL/da = dL/dz W, reshaped to the pooled map,
and each convolution layer turns its dL/dh into dL/dz (through the pool's argmax and f') and
its input's dL/dh by :func:`from_scratch.conv.conv_layer_backward`, whose im2col GEMMs give
dL/dW and dL/db.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from common.architecture import network_repr, set_network_attributes
from common.errors import ParameterError
from common.recipe import check_optimizer_state
from common.validation import check_weights
from common.weights import initial_weights
from from_scratch.activations import ACTIVATIONS
from from_scratch.conv import conv_layer_backward, conv_layer_forward
from from_scratch.losses import LOSSES
from from_scratch.optimizers import _blas, add_scaled, make_optimizer


class Backward(NamedTuple):
    """What one forward and backward pass found, per sample (not yet divided by the batch size)."""

    loss: float  # L, the batch mean
    layer_outputs: list[np.ndarray]  # each dense layer's input a: [x (or the flattened maps), h_1, ...]
    dLdz: list[np.ndarray]  # each layer's dL/dz, input side first (convolutions first), the logits last
    dLdh: list[np.ndarray]  # each hidden layer's dL/dh (a convolution's: at its pooled map)
    conv_grads: list[tuple[np.ndarray, np.ndarray]]  # each convolution's dL/dW and dL/db, summed over the batch


class Network:
    """A fully connected network trained by gradient descent; by default the book's.

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
        Seed for :func:`common.weights.initial_weights`, which draws the starting weights;
        the same seed gives the same weights in every backend.
    conv : sequence of (int, int, int), default ()
        Convolution layers in front of the dense ones, (channels, kernel, padding) each:
        LeNet-5 is ``conv=((6, 5, 2), (16, 5, 0))`` with ``hidden_nodes=[120, 84]``. Each is
        followed by the activation and a 2×2 max pool (:mod:`common.architecture`).
    **recipe
        The training recipe, :class:`common.recipe.Recipe`'s fields with torch.optim's names:
        ``optimizer`` ("sgd", "adam", "adamw", "rmsprop"), ``momentum``, ``dampening``,
        ``nesterov``, ``betas``, ``eps``, ``amsgrad``, ``alpha``, ``centered``,
        ``weight_decay``, ``l2``, ``decay_biases``, ``schedule``, ``milestones``, ``gamma``,
        ``lr_decay``. None given: the book's plain SGD, ``W −= lr · dL/dW``.

    Attributes
    ----------
    architecture : common.architecture.Architecture
        The layer sizes, activation, loss and bias, checked.
    input_nodes, output_nodes : int
    hidden_nodes : int or list of int
        As given: an int stays an int (``architecture.hidden_nodes`` is always a tuple).
    activation, loss : str
    bias : bool
    recipe : common.recipe.Recipe
        How :meth:`train` steps.
    optimizer : from_scratch.optimizers.Optimizer
        The update rule and its state (:mod:`from_scratch.optimizers`).
    weights : list of ndarray
        Each layer's W, shape ``(n_out, n_in)`` like ``torch.nn.Linear.weight``, input side first;
        a convolution's ``(C_out, C_in, K, K)`` like ``torch.nn.Conv2d.weight``, before the dense ones.
    biases : list of ndarray or None
        Each layer's b, shape ``(n_out,)``; None in every layer without bias.
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
        **recipe: Any,
    ) -> None:
        set_network_attributes(self, input_nodes, hidden_nodes, output_nodes, learning_rate, activation, loss,
                               bias, dtype, recipe, conv)
        if self.book_rule and ((self.activation, self.loss) != ("sigmoid", "half_sse") or not self.recipe.is_plain):
            raise ParameterError(
                "BookNetwork is the book's rule, defined for activation='sigmoid', loss='half_sse' and plain SGD only. "
                f"Got activation={activation!r}, loss={loss!r} and {self.recipe.describe()} instead; use Network "
                "for the gradient.")
        if self.book_rule and self.conv:
            raise ParameterError("BookNetwork is the book's rule, defined for fully connected layers only. Got "
                                 f"conv={self.conv!r}; use Network for the gradient.")
        self._conv_shapes = self.architecture.conv_shapes()
        self._reuse: list = [None] * len(self._conv_shapes)  # each convolution's last cache: its im2col buffer
        self._query_chunk = self.architecture.query_chunk()  # rows query() answers at a time (256 for LeNet)
        self._activate, self._derivative = ACTIVATIONS[activation]  # f and f' (through f's output)
        self._output, self._output_and_loss = LOSSES[loss]
        shapes = self.architecture.parameter_shapes()
        self.optimizer = make_optimizer(self.recipe, shapes, self.dtype)
        self._plain = self.recipe.is_plain  # the book's W −= lr dL/dW, added into W by BLAS
        self._l2 = [self.recipe.l2 * d for d in self.recipe.decays(shapes)]  # each parameter's penalty
        self.set_weights(initial_weights(self.architecture, seed=seed, dtype=self.dtype))

    # -- weights ---------------------------------------------------------------------------

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load copies of every parameter, in ``architecture.parameter_names()`` order.

        The book's network: ``[W_ih, W_ho]``, shapes ``(hidden, input)`` and ``(output, hidden)``.
        With biases each weight is followed by its bias: ``[W_ih, b_h, W_ho, b_o]``.
        """
        checked = check_weights(weights, self.architecture, self.dtype)
        if self.bias:
            self.weights, self.biases = checked[0::2], checked[1::2]
        else:
            self.weights, self.biases = checked, [None] * len(checked)
        # (W, b) of each layer, input side first, and of the hidden layers alone: the loops'
        # lists, made once here rather than at every step. Convolutions come first.
        layers, n_conv = list(zip(self.weights, self.biases)), len(self._conv_shapes)
        self._conv_layers = [(W, b, shape.padding) for (W, b), shape in zip(layers[:n_conv], self._conv_shapes)]
        self._layers = layers[n_conv:]  # the dense layers
        self._hidden_layers, self._output_layer = self._layers[:-1], self._layers[-1]
        self._weights_down = self.weights[n_conv:][:0:-1]  # the dense weights the backward pass goes through, top first
        self._parameters = [p for layer in layers for p in layer if p is not None]  # the optimizer's order

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter in the network's dtype, in ``architecture.parameter_names()`` order."""
        return [p.copy() for p in self._parameters]

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
        if self._conv_layers:
            raise AttributeError(f"'{name}' names a layer of a fully connected network; this one has "
                                 f"{len(self._conv_layers)} convolution layer(s) first: use weights[i].")
        if len(self._layers) != 2:
            raise AttributeError(f"'{name}' names a layer of a network with one hidden layer; this one has "
                                 f"{len(self._layers) - 1}: use weights[i].")
        return self.weights[index]

    # -- forward and backward --------------------------------------------------------------

    def _forward(self, inputs: np.ndarray, remember: bool = True,
                 maps: list | None = None) -> tuple[list[np.ndarray], np.ndarray, list]:
        """Each dense layer's outputs ``[x, h_1, ..., h_L]`` (x the inputs, or the convolutions'
        last maps flattened), the output logits z_o, and each convolution layer's cache.

        ``np.dot`` rather than ``@``: the same BLAS call, with less overhead around it, which
        counts when a layer has ten nodes. The activations work in place on fresh arrays.
        ``remember``: keep each convolution's cache, whose im2col buffer the next call writes
        over instead of allocating (False for :meth:`query`, whose batches may be large).
        ``maps``: a list to which each convolution layer's pooled output h is appended.
        """
        a, caches = inputs, []
        if self._conv_layers:
            n = 1 if inputs.ndim == 1 else inputs.shape[0]
            a = inputs.reshape(n, *self.architecture.image_shape)  # rows of pixels as images (n, 1, H, W)
            for i, (W, b, padding) in enumerate(self._conv_layers):
                a, cache = conv_layer_forward(a, W, b, padding, self._activate, reuse=self._reuse[i])
                caches.append(cache)
                if maps is not None:
                    maps.append(a)
                if remember:
                    self._reuse[i] = cache.conv
            a = a.reshape(n, -1) if inputs.ndim == 2 else a.reshape(-1)  # flatten, in (C, H, W) order
        layer_outputs = [a]
        for W, b in self._hidden_layers:
            z = np.dot(a, W.T)  # z = W a
            if b is not None:
                z += b  # z = W a + b
            a = self._activate(z, out=z)  # h = f(z)
            layer_outputs.append(a)
        W, b = self._output_layer
        z_o = np.dot(a, W.T)  # z_o = W_ho h (+ b_o)
        if b is not None:
            z_o += b
        return layer_outputs, z_o, caches

    def query(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs o of shape ``(n, output_nodes)``, or ``(output_nodes,)`` for one sample.

        Sigmoid outputs for ``loss="half_sse"``, softmax probabilities for ``"cross_entropy"``.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes) or (input_nodes,)
            Scaled inputs, e.g. from :func:`common.data.scale_inputs`.
        """
        inputs = self._check_inputs(inputs)
        chunk = self._query_chunk
        if self._conv_layers and inputs.ndim == 2 and len(inputs) > chunk:  # the im2col buffers stay small
            return np.concatenate([self.query(inputs[i:i + chunk]) for i in range(0, len(inputs), chunk)])
        _, z_o, _ = self._forward(inputs, remember=False)
        return self._output(z_o)

    def hidden_outputs(self, inputs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Each hidden layer's output h, input side first, and the output logits z_o; no update.

        A convolution layer's h is its pooled map, ``(n, C, H, W)``; a dense hidden layer's
        ``(n, nodes)``; z_o ``(n, output_nodes)``, of which :meth:`query` is the output function.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes)
        """
        inputs = self._check_inputs(inputs)
        if inputs.ndim != 2:
            raise ParameterError(f"inputs must have shape (n, {self.input_nodes}). Got {inputs.shape} instead.")
        chunk = self._query_chunk if self._conv_layers else max(len(inputs), 1)
        hidden, logits = [], []
        for start in range(0, len(inputs), chunk):
            maps: list[np.ndarray] = []
            layer_outputs, z_o, _ = self._forward(inputs[start:start + chunk], remember=False, maps=maps)
            hidden.append(maps + layer_outputs[1:])
            logits.append(z_o)
        return [np.concatenate(layer) for layer in zip(*hidden)], np.concatenate(logits)

    def _backward(self, inputs: np.ndarray, targets: np.ndarray) -> Backward:
        """Forward pass and backpropagation, per sample.

        Returns L (batch mean), each dense layer's inputs ``[x, h_1, ...]``, each layer's dL/dz
        (input side first, the output layer last), each hidden layer's dL/dh, and each
        convolution layer's dL/dW and dL/db (sums over the batch).
        """
        layer_outputs, z_o, caches = self._forward(inputs)
        final_outputs, loss, dLdz = self._output_and_loss(z_o, targets)  # o, L and dL/dz_o
        # The chain rule carries dL/dz down through each W; the book carries its "errors"
        # (dL/do = o − t at the top, then Wᵀ errors), leaving out every f'(z) above.
        carried = final_outputs - targets if self.book_rule else dLdz
        dLdz_per_layer, dLdh_per_layer = [dLdz], []
        for W, h in zip(self._weights_down, layer_outputs[:0:-1]):  # from the top hidden layer down
            dLdh = np.dot(carried, W)  # z = W h  ⇒  dL/dh = Wᵀ dL/dz
            dLdz = self._derivative(h)  # h = f(z)  ⇒  dL/dz = dL/dh · f'(z), f' written through h
            dLdz *= dLdh
            carried = dLdh if self.book_rule else dLdz
            dLdz_per_layer.append(dLdz)
            dLdh_per_layer.append(dLdh)
        conv_grads = []
        if caches:  # z = W a + b of the first dense layer  ⇒  dL/da = Wᵀ dL/dz, a the flattened maps
            dLdh = np.dot(carried, self._layers[0][0]).reshape(caches[-1].pool.argmax.shape)
            for i in reversed(range(len(caches))):  # each convolution layer, from the top one down
                dLdh_per_layer.append(dLdh)
                dLdh, dLdz, dLdW, dLdb = conv_layer_backward(dLdh, caches[i], self._derivative, need_dx=i > 0)
                dLdz_per_layer.append(dLdz)
                conv_grads.append((dLdW, dLdb))
        return Backward(loss, layer_outputs, dLdz_per_layer[::-1], dLdh_per_layer[::-1], conv_grads[::-1])

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """dL/d(every parameter) at the current weights, averaged over the batch; no update.

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
        return self._loss_and_gradients(inputs, targets)[1]

    def _loss_and_gradients(self, inputs: np.ndarray, targets: np.ndarray,
                            into: list[np.ndarray] | None = None) -> tuple[float, list[np.ndarray]]:
        """L (with the penalty) and every parameter's gradient, for checked inputs and targets.

        The gradients are new arrays, or are written into ``into`` (the optimizer's arrays,
        reused from step to step, so that a step allocates no gradient matrix).
        """
        loss, layer_outputs, dLdz_per_layer, _, conv_grads = self._backward(inputs, targets)
        n = 1 if inputs.ndim == 1 else inputs.shape[0]  # L is the mean over the batch: sum, / n
        dense = slice(len(conv_grads), None)
        if into is None:  # what gradients() returns: the math as written
            grads = []
            for dLdW, dLdb in conv_grads:  # the convolutions' sums over the batch, / n
                grads += [dLdW / n, dLdb / n] if self.bias else [dLdW / n]
            for a, dLdz, b in zip(layer_outputs, dLdz_per_layer[dense], self.biases[dense]):
                if inputs.ndim == 1:  # z = W a + b  ⇒  dL/dW = dL/dz aᵀ, an outer product; dL/db = dL/dz
                    grads.append(np.outer(dLdz, a))
                else:
                    grads.append(dLdz.T @ a / n)
                if b is not None:
                    grads.append(dLdz.sum(axis=0) / n if inputs.ndim == 2 else dLdz.copy())
        else:  # train(): the same products by BLAS, written over the optimizer's arrays (gemm with beta=0)
            grads, k = into, 0
            for dLdW, dLdb in conv_grads:
                np.multiply(dLdW, 1.0 / n, out=grads[k])
                k += 1
                if self.bias:
                    np.multiply(dLdb, 1.0 / n, out=grads[k])
                    k += 1
            for a, dLdz, b in zip(layer_outputs, dLdz_per_layer[dense], self.biases[dense]):
                a, dLdz = a.reshape(n, -1), dLdz.reshape(n, -1)  # one sample is a batch of one row
                self._gemm(1.0 / n, a, dLdz, beta=0.0, c=grads[k].T, trans_a=True, overwrite_c=True)
                k += 1
                if b is not None:
                    np.sum(dLdz, axis=0, out=grads[k])
                    if n > 1:
                        grads[k] /= n
                    k += 1
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
            ``"dLdz"``: dL/dz for each layer's pre-activation z = W a + b, input side first, the
            output layer's logits last; ``"dLdh"``: dL/dh for each hidden layer's output h.
            Each has shape ``(n, nodes)``, or ``(nodes,)`` for one sample. A convolution
            layer's z is its output before the activation, ``(n, C, H', W')``, and its h the
            pooled map the next layer reads, ``(n, C, H'/2, W'/2)`` (without the n for one
            sample): ``architecture.intermediate_shapes()``. What autograd gives for the same
            tensors (``torch_impl.Network.intermediate_gradients``); for the book's rule
            (:class:`BookNetwork`), the quantities its update uses instead.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        found = self._backward(inputs, targets)
        n = 1 if inputs.ndim == 1 else inputs.shape[0]  # each sample's share of the mean

        def shared(d: np.ndarray) -> np.ndarray:  # a convolution's map of one sample loses its batch axis
            return np.ascontiguousarray(d[0] if inputs.ndim == 1 and d.ndim == 4 else d) / n
        return {"dLdz": [shared(d) for d in found.dLdz], "dLdh": [shared(d) for d in found.dLdh]}

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """One step of the recipe on one sample or a batch; returns L before it (with the L2 penalty).

        The book's plain SGD, ``W -= lr * dL/dW``, hands the same outer product
        :meth:`gradients` returns to BLAS to add into the weights in place (``ger`` for one
        sample, ``gemm`` with ``beta=1`` for a batch, ``axpy`` for a bias), so no gradient
        matrix is ever allocated: one pass over W, not three. Any other recipe computes the
        gradients and hands them to its rule (:mod:`from_scratch.optimizers`), at the
        schedule's learning rate for this step.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        if not self._plain:
            loss, grads = self._loss_and_gradients(inputs, targets, into=self.optimizer.gradients)
            self.optimizer.step(self._parameters, grads, self.recipe.learning_rate(self.lr, self.optimizer.t))
            return loss
        self.optimizer.t += 1
        loss, layer_outputs, dLdz_per_layer, _, conv_grads = self._backward(inputs, targets)
        n = 1 if inputs.ndim == 1 else inputs.shape[0]
        for (W, b, _), (dLdW, dLdb) in zip(self._conv_layers, conv_grads):  # W −= lr/n · Σ dL/dW, in place
            add_scaled(W, -self.lr / n, dLdW)
            if b is not None:
                add_scaled(b, -self.lr / n, dLdb)
        dLdz_per_layer = dLdz_per_layer[len(conv_grads):]
        # W.T of a C-ordered W is Fortran-ordered, which BLAS updates in place:
        # W.T += alpha * a dL/dzᵀ  is  W += alpha * dL/dz aᵀ.
        if inputs.ndim == 1:
            for (W, b), a, dLdz in zip(self._layers, layer_outputs, dLdz_per_layer):
                self._ger(-self.lr, a, dLdz, a=W.T, overwrite_a=True)
                if b is not None:
                    self._axpy(dLdz, b, a=-self.lr)
            return loss
        step = -self.lr / inputs.shape[0]
        for (W, b), a, dLdz in zip(self._layers, layer_outputs, dLdz_per_layer):
            self._gemm(step, a, dLdz, beta=1.0, c=W.T, trans_a=True, overwrite_c=True)
            if b is not None:
                self._axpy(dLdz.sum(axis=0), b, a=step)
        return loss

    # -- input checks ----------------------------------------------------------------------

    # BLAS routines that update an array in place: ger (rank 1), gemm (rank n), axpy (y += a x),
    # looked up by dtype rather than kept on the instance, which can then be copied (copy.deepcopy).
    @property
    def _ger(self):
        return _blas("ger", self.dtype)

    @property
    def _gemm(self):
        return _blas("gemm", self.dtype)

    @property
    def _axpy(self):
        return _blas("axpy", self.dtype)

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
