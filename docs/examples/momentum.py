"""A reader's network trained with momentum, written as cs231n writes it: a velocity per weight.

``MyMomentumNetwork`` is ``MyNetwork`` (docs/examples/mynet.py) with the classic momentum step,
``v ← μ v − lr g; W ← W + v``. It states its recipe by attributes with torch.optim's names
(``momentum``), and hands its velocity out, and takes it back, in torch's form, so that
``check_network`` and ``python -m compare`` can compare it with torch.optim.SGD and load it into a
twin (docs/check-your-network.md, "Momentum, Adam, decay: a recipe of your own").

torch.optim.SGD keeps a buffer b instead, ``b ← μ b + g; W ← W − lr b``: the same steps while lr
is constant, with ``v = −lr b``. ``MyDecayingMomentum`` drops the learning rate after three steps,
as torch's MultiStepLR would, and keeps the classic velocity: its old lr stays inside v.
"""
import numpy as np

from mynet import MyNetwork


class MyMomentumNetwork(MyNetwork):
    """MyNetwork with classic momentum; its recipe: ``momentum`` (torch.optim.SGD's)."""

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64", momentum=0.9):
        super().__init__(input_nodes, hidden_nodes, output_nodes, learning_rate, dtype)
        self.momentum = momentum
        self.velocity = [np.zeros_like(w) for w in self.weights]
        self.steps = 0

    def learning_rate(self):
        """The learning rate of the next step: constant here."""
        return self.lr

    def train(self, inputs, targets):
        """One momentum step, v ← μ v − lr g, W ← W + v; returns L before the step."""
        n = len(inputs) if np.ndim(inputs) == 2 else 1
        loss = 0.5 * float(np.sum((targets - self.query(inputs)) ** 2)) / n
        lr = self.learning_rate()
        for w, v, g in zip(self.weights, self.velocity, self.gradients(inputs, targets)):
            v *= self.momentum
            v -= lr * g
            w += v
        self.steps += 1
        return loss

    def get_optimizer_state(self):
        """torch's form: the step count, and the buffer b = −v / lr of every weight."""
        return {"step": self.steps, "momentum_buffer": [-v / self.lr for v in self.velocity]}

    def set_optimizer_state(self, state):
        self.steps = state["step"]
        self.velocity = [-self.lr * np.array(b, dtype=self.dtype) for b in state["momentum_buffer"]]


class MyDecayingMomentum(MyMomentumNetwork):
    """lr × 0.1 from the fourth step on (recipe: schedule "step", milestones (3,), gamma 0.1)."""

    schedule, milestones, gamma = "step", (3,), 0.1

    def learning_rate(self):
        return self.lr * self.gamma if self.steps >= self.milestones[0] else self.lr
