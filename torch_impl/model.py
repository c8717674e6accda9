"""The PyTorch twin's model and loss: modules a torch user recognises at once."""
from __future__ import annotations

import torch
from torch import nn


class SigmoidMLP(nn.Module):
    """``o = σ(W_ho σ(W_ih x))``: two ``nn.Linear(bias=False)`` layers with sigmoids.

    ``self.wih.weight`` has shape ``(hidden, input)`` and ``self.who.weight`` shape
    ``(output, hidden)``, the same ``(n_out, n_in)`` layout the NumPy network uses, so
    weights move between the two without a transpose.
    """

    def __init__(self, input_nodes: int, hidden_nodes: int, output_nodes: int) -> None:
        super().__init__()
        self.wih = nn.Linear(input_nodes, hidden_nodes, bias=False)
        self.who = nn.Linear(hidden_nodes, output_nodes, bias=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden_outputs = torch.sigmoid(self.wih(inputs))
        return torch.sigmoid(self.who(hidden_outputs))


class HalfSquaredError(nn.Module):
    """L = ½ Σ_k (t_k − o_k)², averaged over the samples of the batch.

    ``nn.MSELoss(reduction='sum')`` computes Σ (t − o)², which is 2L: used alone at the
    book's learning rate it takes steps twice the book's. The ½ makes the output-layer
    gradient o − t, the book's output error, and makes this L the one the NumPy network
    reports.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sum_of_squares = nn.MSELoss(reduction="sum")

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        samples = outputs.shape[0] if outputs.dim() == 2 else 1
        # One multiplication, not two: each operation is a node autograd walks back through.
        return self.sum_of_squares(outputs, targets) * (0.5 / samples)
