"""Side by side: the NumPy network and its PyTorch twin, checked step by step and timed.

From the shell: ``python -m compare --help``. From Python (a lesson, a notebook)::

    from compare import run_comparison
    record = run_comparison(train_limit=1000, test_limit=200)
    record["agreement"]["passed"], record["backends"]["torch_impl"]["accuracy"]

A network of your own, against autograd, layer by layer (docs/check-your-network.md)::

    from compare import check_network
    print(check_network(MyNetwork(784, [200, 100], 10, 0.1)))

An update rule as you wrote it (cs231n's ``adam(w, dw, config)``, or an nnfs optimizer), against
torch.optim, step by step::

    from compare import check_update
    print(check_update("adam", adam))

A model as the learner wrote it, cs231n's (``params``, ``loss``) or nnfs's ``Model``, with no adapter::

    from compare import check_model
    print(check_model(model, update=adam))

or raced: ``run_comparison(backends=("torch_impl", "path/to/mynet.py:MyNetwork"))``.

One layer as you wrote it (cs231n's ``conv_forward_naive``/``conv_backward_naive``, or an nnfs object),
against autograd at several configurations, its likely mistake named::

    from compare import check_layer
    print(check_layer("conv", conv_forward_naive, conv_backward_naive))

``compare`` is the only package that imports both ``from_scratch`` and ``torch_impl``.
"""
from __future__ import annotations

from compare.race.config import Config
from compare.check.model import check_model
from compare.check.network import check_network
from compare.check.layer import check_layer
from compare.check.update import check_update
from compare.race.pipeline import run_comparison

__all__ = ["Config", "check_layer", "check_model", "check_network", "check_update", "run_comparison"]
