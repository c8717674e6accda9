"""Checks of what a learner wrote against autograd and torch.optim, with the likely cause named.

:func:`compare.check_network` (:mod:`compare.check.network`) checks a whole network; each
mistake it can name comes from a catalogue in :mod:`compare.check.mistakes`, read by
:mod:`compare.check.diagnosis`. :func:`compare.check_layer` (:mod:`compare.check.layer`) checks one
layer as the learner wrote it, against the same catalogues (each module's ``CHECKS``,
:mod:`compare.check.one_layer`).
"""
