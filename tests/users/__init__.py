"""Networks as the readers of three famous from-scratch codebases write them, each with its recipe.

- :mod:`tests.users.nielsen`: Nielsen's network2.py, sigmoid, the cross-entropy summed over the
  outputs, L2 as ``(1 − η λ/n) w`` on the weights (recipe ``weight_decay = λ/n``).
- :mod:`tests.users.cs231n`: cs231n's TwoLayerNet, ReLU, softmax loss, ``reg · ΣW²``
  (recipe ``l2 = 2 · reg``), trained by the Solver with ``sgd_momentum`` (0.9) or ``adam``.
- :mod:`tests.users.nnfs`: "Neural Networks from Scratch", ReLU, softmax cross-entropy (or a
  sigmoid output with the binary cross-entropy averaged over the outputs), Adam with eps 1e-7.
- :mod:`tests.users.cs231n_conv`: cs231n's convolutional layers (im2col, col2im, conv-relu-pool)
  stacked into a LeNet-style network, plain SGD, with one classic convolution mistake planted per
  variant. It is not in ``MODULES``: its twin is torch_impl's, not the dense one built in
  tests/test_users_networks.py; tests/test_conv_check.py checks it.
- :mod:`tests.users.cs231n_naive_conv`: the same network with the course's naive loops for its
  layers, and the mistakes learners write in those loops (the pool's argmax swapped, its gradient
  sent to every tied maximum, dW rotated); not in ``MODULES`` either: tests/test_naive_conv_check.py
  checks it.

Every class is built with the library's signature, ``Cls(input_nodes, hidden_nodes, output_nodes,
learning_rate, dtype="float64", **keywords)``; its constructor's defaults give its recipe, which
it states by attributes of the recipe's field names. ``LEARNING_RATE`` is a rate its codebase
trains with, which the tests use. Each planted mistake has ``CAUSE``, the name ``check_network``
must give it. tests/test_users_networks.py checks them all against plain torch.

The learners' code at the level of one layer, one update rule or one model, with the codebases'
own signatures (not the library's), for the layer, update and model checks; tests/test_users_code*.py
pin them down:

- :mod:`tests.users.cs231n_layers` (with :mod:`~tests.users.cs231n_norm`), the pairs of cs231n's
  layers.py, and :mod:`~tests.users.cs231n_layers_planted`, ``PLANTED[kind][cause]``;
- :mod:`tests.users.cs231n_optim`, the rules of its optim.py, and
  :mod:`~tests.users.cs231n_optim_planted`, ``PLANTED[optimizer][cause]``;
- :mod:`tests.users.cs231n_models`, its fc_net.py (``TwoLayerNet``, ``FullyConnectedNet``, any
  layer swappable) and ``PLANTED_MODELS[cause]``;
- :mod:`tests.users.nnfs_layers` and :mod:`~tests.users.nnfs_model`, the book's objects and its
  ``Model``, and :mod:`~tests.users.nnfs_planted`, ``PLANTED_LAYERS`` and ``PLANTED_OPTIMIZERS``.
"""
from __future__ import annotations

from . import cs231n, nielsen, nnfs

MODULES = (nielsen, cs231n, nnfs)
CORRECT = [cls for module in MODULES for cls in module.CORRECT]
MISTAKES = [cls for module in MODULES for cls in module.MISTAKES]
# "nielsen:Network2" -> the class, for every network here; load_class takes "tests/users/nielsen.py:Network2".
REGISTRY = {f"{module.__name__.rsplit('.', 1)[-1]}:{cls.__name__}": cls
            for module in MODULES for cls in module.CORRECT + module.MISTAKES}
CAUSES = {name: cls.CAUSE for name, cls in REGISTRY.items() if hasattr(cls, "CAUSE")}
