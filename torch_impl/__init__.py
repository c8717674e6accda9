"""The PyTorch twin of the NumPy network: ``nn.Sequential``, loss module, torch.optim, autograd."""
from torch_impl.model import HalfSquaredError, SummedBinaryCrossEntropy, make_loss_function, make_model
from torch_impl.network import Network, resolve_device

__all__ = ["Network", "make_model", "make_loss_function", "HalfSquaredError", "SummedBinaryCrossEntropy",
           "resolve_device"]
