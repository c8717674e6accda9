"""The update rules, written out in NumPy: torch.optim's SGD (momentum, Nesterov), Adam, AdamW
and RMSprop, each with its math in its docstring in the order torch.optim's documentation gives it.

Every rule updates the parameters in place, one parameter at a time, with its state per
parameter (a buffer shaped like it) kept under torch.optim's names, so that the state moves
between backends unchanged (:func:`common.recipe.check_optimizer_state`). Each takes the step's
learning rate ``lr`` already scheduled (:meth:`common.recipe.Recipe.learning_rate`) and the
gradient ``g`` of the loss, which includes the ``l2`` penalty where the recipe has one; the
gradient array may be overwritten. ``t`` counts steps from 1, as torch's ``state["step"]``.

The book's plain SGD, ``w ← w − lr g``, never comes here: :class:`from_scratch.Network` adds
that step into the weights inside its backward pass, with no gradient array at all.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from common.recipe import Recipe, fresh_state
from from_scratch.blas import add_scaled


class Optimizer:
    """What every rule shares: the recipe, the step count, a buffer per parameter per state name.

    Parameters
    ----------
    recipe : common.recipe.Recipe
    shapes : list of tuple
        Each parameter's shape, in ``architecture.parameter_names()`` order.
    dtype : numpy.dtype
    weights : list of bool, optional
        For each parameter, whether it is a weight (``architecture.weights_decayed()``): weight
        decay reaches the weights, and the others only with the recipe's ``decay_biases``. By
        default every parameter is a weight, as for a rule stepping arrays of its own.
    """

    def __init__(self, recipe: Recipe, shapes: Sequence[tuple[int, ...]], dtype: np.dtype,
                 weights: Sequence[bool] | None = None) -> None:
        self.recipe, self.shapes, self.dtype = recipe, list(shapes), np.dtype(dtype)
        self.decays = recipe.decays([True] * len(self.shapes) if weights is None else weights)
        self.scratch = [np.empty(s, dtype=dtype) for s in shapes]  # one working array per parameter
        self.gradients = [np.empty(s, dtype=dtype) for s in shapes]  # the network writes each step's here
        self.set_state(fresh_state(recipe, shapes, dtype))

    def step(self, parameters: list[np.ndarray], gradients: list[np.ndarray], lr: float) -> None:
        """One step of every parameter in place; ``gradients`` may be overwritten."""
        self.t += 1
        for i, (w, g) in enumerate(zip(parameters, gradients)):
            weight_decay = self.recipe.weight_decay if self.decays[i] else 0.0
            self.update(i, w, g, lr, weight_decay)

    def update(self, i: int, w: np.ndarray, g: np.ndarray, lr: float, weight_decay: float) -> None:
        raise NotImplementedError

    # -- state, in common.recipe's format -----------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        return {"step": self.t, **{name: [b.copy() for b in getattr(self, name)] for name in self.recipe.state_names()}}

    def set_state(self, state: dict[str, Any]) -> None:
        """Load a state already checked by :func:`common.recipe.check_optimizer_state` (copies)."""
        self.t = state["step"]
        for name in self.recipe.state_names():
            setattr(self, name, [np.array(b, dtype=self.dtype, order="C", copy=True) for b in state[name]])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD``.

    For each parameter w with gradient g, at step t:

    .. math::

        g &\\leftarrow g + \\lambda w                          && \\text{weight\\_decay } \\lambda \\\\
        b &\\leftarrow g \\text{ at } t = 1, \\text{ else } \\mu b + (1 - \\tau) g
                                                            && \\text{momentum } \\mu, \\text{dampening } \\tau \\\\
        g &\\leftarrow g + \\mu b \\text{ (Nesterov), else } b \\\\
        w &\\leftarrow w - \\mathrm{lr}\\, g

    The buffer starts at g itself, not at (1 − τ) g: the first step is a plain gradient step
    whatever the dampening. cs231n's classic momentum, ``v = μ v − lr g; w += v``, takes the same
    steps while lr is constant, with v = −lr b; once lr changes they part, because the classic
    velocity keeps the old lr inside it and torch's buffer does not.
    """

    def update(self, i, w, g, lr, weight_decay):
        recipe = self.recipe
        if weight_decay:
            add_scaled(g, weight_decay, w)  # g ← g + λ w
        if recipe.momentum:
            b = self.momentum_buffer[i]
            if self.t == 1:
                b[...] = g  # b ← g
            else:
                b *= recipe.momentum  # b ← μ b + (1 − τ) g
                add_scaled(b, 1.0 - recipe.dampening, g)
            if recipe.nesterov:
                add_scaled(g, recipe.momentum, b)  # g ← g + μ b
            else:
                g = b  # g ← b
        add_scaled(w, -lr, g)  # w ← w − lr g


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``; AdamW (decoupled weight decay) as ``torch.optim.AdamW``.

    For each parameter w with gradient g, at step t (counted from 1):

    .. math::

        w &\\leftarrow w (1 - \\mathrm{lr}\\, \\lambda)        && \\text{AdamW: decoupled weight decay} \\\\
        g &\\leftarrow g + \\lambda w                           && \\text{Adam: weight decay through } g \\\\
        m &\\leftarrow \\beta_1 m + (1 - \\beta_1) g \\\\
        v &\\leftarrow \\beta_2 v + (1 - \\beta_2) g^2 \\\\
        \\hat v_{\\max} &\\leftarrow \\max(\\hat v_{\\max}, v)   && \\text{amsgrad: } v \\text{ below is } \\hat v_{\\max} \\\\
        w &\\leftarrow w - \\frac{\\mathrm{lr}}{1 - \\beta_1^t}\\,
             \\frac{m}{\\sqrt{v} / \\sqrt{1 - \\beta_2^t} + \\epsilon}

    The bias corrections 1 − β^t undo m and v starting at zero; ε is added after the second
    correction and outside the square root: √v̂ + ε with v̂ = v / (1 − β2^t). (The Adam paper's
    "efficient" form adds ε before the correction, and d2l's RMSprop puts it under the root;
    each is another step where v is small.)
    """

    def update(self, i, w, g, lr, weight_decay):
        beta1, beta2 = self.recipe.betas
        m, v, s = self.exp_avg[i], self.exp_avg_sq[i], self.scratch[i]
        if weight_decay and self.recipe.decoupled:
            w *= 1.0 - lr * weight_decay  # AdamW: w ← w (1 − lr λ)
        elif weight_decay:
            add_scaled(g, weight_decay, w)  # Adam: g ← g + λ w
        m *= beta1  # m ← β1 m + (1 − β1) g
        add_scaled(m, 1.0 - beta1, g)
        v *= beta2  # v ← β2 v + (1 − β2) g²
        np.multiply(g, g, out=s)
        add_scaled(v, 1.0 - beta2, s)
        if self.recipe.amsgrad:
            v = np.maximum(self.max_exp_avg_sq[i], v, out=self.max_exp_avg_sq[i])  # v̂_max ← max(v̂_max, v)
        step_size = lr / (1.0 - beta1**self.t)  # lr / (1 − β1^t)
        correction = (1.0 - beta2**self.t) ** 0.5  # √(1 − β2^t)
        # w ← w − step_size · m / (√v / c + ε), computed as w − (step_size · c) · m / (√v + ε c):
        # the same step, with one pass over the arrays fewer.
        np.sqrt(v, out=s)
        s += self.recipe.eps * correction
        np.divide(m, s, out=s)
        add_scaled(w, -step_size * correction, s)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    For each parameter w with gradient g:

    .. math::

        g &\\leftarrow g + \\lambda w                          && \\text{weight\\_decay } \\lambda \\\\
        v &\\leftarrow \\alpha v + (1 - \\alpha) g^2 \\\\
        \\bar g &\\leftarrow \\alpha \\bar g + (1 - \\alpha) g  && \\text{centered: } d = \\sqrt{v - \\bar g^2} + \\epsilon \\\\
        d &\\leftarrow \\sqrt{v} + \\epsilon                  && \\text{otherwise: } \\epsilon \\text{ outside the root} \\\\
        b &\\leftarrow \\mu b + g / d, \\quad w \\leftarrow w - \\mathrm{lr}\\, b   && \\text{momentum } \\mu > 0 \\\\
        w &\\leftarrow w - \\mathrm{lr}\\, g / d                  && \\text{otherwise}

    Unlike SGD's, this momentum buffer starts at zero. d2l's RMSprop writes √(v + ε) instead.
    """

    def update(self, i, w, g, lr, weight_decay):
        alpha, s = self.recipe.alpha, self.scratch[i]
        if weight_decay:
            add_scaled(g, weight_decay, w)  # g ← g + λ w
        v = self.square_avg[i]
        v *= alpha  # v ← α v + (1 − α) g²
        np.multiply(g, g, out=s)
        add_scaled(v, 1.0 - alpha, s)
        if self.recipe.centered:
            mean = self.grad_avg[i]
            mean *= alpha  # ḡ ← α ḡ + (1 − α) g
            add_scaled(mean, 1.0 - alpha, g)
            np.multiply(mean, mean, out=s)  # d ← √(v − ḡ²) + ε
            np.subtract(v, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(v, out=s)  # d ← √v + ε
        s += self.recipe.eps
        np.divide(g, s, out=s)  # g / d
        if self.recipe.momentum:
            b = self.momentum_buffer[i]
            b *= self.recipe.momentum  # b ← μ b + g / d
            b += s
            add_scaled(w, -lr, b)  # w ← w − lr b
        else:
            add_scaled(w, -lr, s)  # w ← w − lr g / d


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": Adam, "rmsprop": RMSprop}


def make_optimizer(recipe: Recipe, shapes: Sequence[tuple[int, ...]], dtype: np.dtype,
                   weights: Sequence[bool] | None = None) -> Optimizer:
    """The rule the recipe names, with a fresh state (:class:`Optimizer`'s parameters)."""
    return OPTIMIZERS[recipe.optimizer](recipe, shapes, dtype, weights)
