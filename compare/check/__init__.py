"""Checks of what a learner wrote against autograd and torch.optim, with the likely cause named.

:func:`compare.check_network` (:mod:`compare.check.network`) checks a whole network, and
:func:`compare.check_model` (:mod:`compare.check.model`) a cs231n or nnfs model as written, through
check_network; :func:`compare.check_layer` (:mod:`compare.check.layer`) checks one layer as the
learner wrote it (each catalogue module's ``CHECKS``, :mod:`compare.check.one_layer`), and
:func:`compare.check_update` (:mod:`compare.check.update`) an update rule alone, in the form the
learner wrote it (:mod:`compare.check.forms`). Each mistake any of them can name comes from a
catalogue in :mod:`compare.check.mistakes`, one per layer kind and one for the recipe, read by
:mod:`compare.check.diagnosis`.
"""
