"""The PyTorch twin of the NumPy network: ``nn.Module``, loss module, SGD, autograd."""
from torch_impl.model import HalfSquaredError, SigmoidMLP
from torch_impl.network import Network, resolve_device

__all__ = ["Network", "SigmoidMLP", "HalfSquaredError", "resolve_device"]
