"""One training step captured as a CUDA graph, for one sample a step on a GPU.

At one sample a step the GPU's kernels take a few microseconds each and launching them
from Python takes longer: the step is launch-bound. A CUDA graph records the kernels of
one whole step (forward, loss, ``backward()``, ``optimizer.step()``) once, and replays
them with a single launch. It is still the same module, loss, autograd and SGD; only the
launching changes. This follows PyTorch's "whole network capture" recipe
(https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs).
"""
from __future__ import annotations

import torch


class CapturedStep:
    """The training step of ``network`` for inputs and targets of fixed shapes, as a CUDA graph.

    Parameters
    ----------
    network : torch_impl.Network
        On a CUDA device. Its weights are the same before and after the capture.
    input_shape, target_shape : tuple of int
        The shapes every replay will be given.
    """

    def __init__(self, network, input_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> None:
        model, loss_function, optimizer = network.model, network.loss_function, network.optimizer
        options = dict(device=network.device, dtype=network.torch_dtype)
        self.inputs = torch.full(input_shape, 0.5, **options)
        self.targets = torch.full(target_shape, 0.5, **options)
        parameters = list(model.parameters())
        saved = [p.detach().clone() for p in parameters]
        # Warm up on a side stream, as the recipe asks: autograd and the optimizer make
        # their one-time allocations here, outside the graph.
        side = torch.cuda.Stream(device=network.device)
        side.wait_stream(torch.cuda.current_stream(network.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                optimizer.zero_grad(set_to_none=True)
                loss_function(model(self.inputs), self.targets).backward()
                optimizer.step()
        torch.cuda.current_stream(network.device).wait_stream(side)
        # With .grad set to None, backward() inside the capture allocates the gradients
        # from the graph's own memory, and every replay writes them there again.
        optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = loss_function(model(self.inputs), self.targets)
            self.loss.backward()
            optimizer.step()
        with torch.no_grad():  # undo the warm-up steps
            for parameter, weights in zip(parameters, saved):
                parameter.copy_(weights)

    def __call__(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Copy the sample in, replay the step, and return the loss tensor (before the step)."""
        self.inputs.copy_(inputs, non_blocking=True)
        self.targets.copy_(targets, non_blocking=True)
        self.graph.replay()
        return self.loss
