"""The network written from scratch in NumPy: true backpropagation, and the book's rule.

This package imports NumPy and SciPy only, never torch.
"""
from from_scratch.layers.activation import ACTIVATIONS, sigmoid, sigmoid_backward, sigmoid_derivative
from from_scratch.book import BookNetwork
from from_scratch.losses import LOSSES
from from_scratch.network import Network

__all__ = ["Network", "BookNetwork", "ACTIVATIONS", "LOSSES", "sigmoid", "sigmoid_derivative", "sigmoid_backward"]
