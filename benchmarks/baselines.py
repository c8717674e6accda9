"""The loops the library is measured against: the book's, the 2017 port's, and the floor.

Each is written as its source wrote it (in today's API where the old one is gone), so the
race is against what people actually ran. tests/test_benchmarks.py checks that each
computes the step it claims to, so no baseline wins or loses by doing less work.
"""
from __future__ import annotations

import numpy
import numpy as np
import scipy.special
import torch
from scipy.linalg import blas
from torch import nn


class BookLoop:
    """"Make Your Own Neural Network"'s ``train()``, line for line (its rule, not the gradient)."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float) -> None:
        self.wih, self.who = (w.copy() for w in weights)
        self.lr = learning_rate
        self.activation_function = lambda x: scipy.special.expit(x)

    def train(self, inputs_list, targets_list) -> None:
        inputs = numpy.array(inputs_list, ndmin=2).T
        targets = numpy.array(targets_list, ndmin=2).T
        hidden_inputs = numpy.dot(self.wih, inputs)
        hidden_outputs = self.activation_function(hidden_inputs)
        final_inputs = numpy.dot(self.who, hidden_outputs)
        final_outputs = self.activation_function(final_inputs)
        output_errors = targets - final_outputs
        hidden_errors = numpy.dot(self.who.T, output_errors)
        self.who += self.lr * numpy.dot((output_errors * final_outputs * (1.0 - final_outputs)),
                                        numpy.transpose(hidden_outputs))
        self.wih += self.lr * numpy.dot((hidden_errors * hidden_outputs * (1.0 - hidden_outputs)),
                                        numpy.transpose(inputs))


class Port2017(nn.Module):
    """The 2017 PyTorch port in today's API: its module, ``MSELoss`` summed (the old
    ``size_average=False``), SGD, and each sample turned into a new tensor every step."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float) -> None:
        super().__init__()
        hidden, inputs = weights[0].shape
        self.inodes, self.onodes = inputs, weights[1].shape[0]
        dtype = torch.from_numpy(weights[0]).dtype  # the 2017 port used float32 (FloatTensor)
        self.linear_ih = nn.Linear(inputs, hidden, bias=False, dtype=dtype)
        self.linear_ho = nn.Linear(hidden, self.onodes, bias=False, dtype=dtype)
        self.activation = nn.Sigmoid()
        with torch.no_grad():
            self.linear_ih.weight.copy_(torch.from_numpy(weights[0]))
            self.linear_ho.weight.copy_(torch.from_numpy(weights[1]))
        self.lossfunction = nn.MSELoss(reduction="sum")
        self.optimiser = torch.optim.SGD(self.parameters(), learning_rate)
        self.dtype = self.linear_ih.weight.dtype

    def forward(self, inputs):
        return self.activation(self.linear_ho(self.activation(self.linear_ih(inputs))))

    def train(self, inputs_list, targets_list):  # noqa: D102  (shadows nn.Module.train, as the port did)
        inputs = torch.tensor(inputs_list, dtype=self.dtype).view(1, self.inodes)
        targets = torch.tensor(targets_list, dtype=self.dtype).view(1, self.onodes)
        output = self.forward(inputs)
        loss = self.lossfunction(output, targets)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()


class Floor:
    """The least one sample's step can cost: the first layer's matrix-vector product and
    its in-place rank-1 update (BLAS gemv + ger), nothing else. Its update is not a real
    step (it uses the pre-activations as the error); only its cost matters."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float) -> None:
        self.wih = weights[0].copy()
        self.lr = learning_rate
        self._ger = blas.get_blas_funcs("ger", dtype=self.wih.dtype)

    def train(self, inputs, targets=None) -> None:
        hidden = np.dot(self.wih, inputs)
        self._ger(-self.lr * 1e-6, inputs, hidden, a=self.wih.T, overwrite_a=True)


class TorchFloor:
    """The same floor in torch, without autograd: ``mv`` and an in-place ``addr_``."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float) -> None:
        self.wih = torch.from_numpy(weights[0].copy())
        self.lr = learning_rate

    def train(self, inputs, targets=None) -> None:
        hidden = torch.mv(self.wih, inputs)
        self.wih.addr_(hidden, inputs, alpha=-self.lr * 1e-6)


class BatchFloor:
    """A mini-batch step's bare matrix products on the first layer: X W^T and the
    in-place rank-n update ``W -= a dZ^T X`` (BLAS gemm twice), in NumPy."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float) -> None:
        self.wih = weights[0].copy()
        self.lr = learning_rate
        self._gemm = blas.get_blas_funcs("gemm", dtype=self.wih.dtype)

    def train(self, inputs, targets=None) -> None:
        hidden = np.dot(inputs, self.wih.T)
        self._gemm(-self.lr * 1e-6, inputs, hidden, beta=1.0, c=self.wih.T, trans_a=True, overwrite_c=True)


class TorchBatchFloor:
    """The same mini-batch matrix products in torch: ``mm`` and an in-place ``addmm_``."""

    def __init__(self, weights: list[np.ndarray], learning_rate: float) -> None:
        self.wih = torch.from_numpy(weights[0].copy())
        self.lr = learning_rate

    def train(self, inputs, targets=None) -> None:
        hidden = torch.mm(inputs, self.wih.t())
        self.wih.addmm_(hidden.t(), inputs, alpha=-self.lr * 1e-6)
