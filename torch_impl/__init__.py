"""The PyTorch twin of the NumPy network: ``nn.Sequential``, loss module, SGD, autograd."""
from torch_impl.model import HalfSquaredError, make_loss_function, make_model
from torch_impl.network import Network, resolve_device

__all__ = ["Network", "make_model", "make_loss_function", "HalfSquaredError", "resolve_device"]
