"""Checks of what a learner wrote against autograd and torch.optim, with the likely cause named.

:func:`compare.check_network` (:mod:`compare.check.network`) checks a whole network, and
:func:`compare.check_model` (:mod:`compare.check.model`) a cs231n or nnfs model as written, through
check_network; each
mistake it can name comes from a catalogue in :mod:`compare.check.mistakes`, read by
:mod:`compare.check.diagnosis`. :func:`compare.check_update` (:mod:`compare.check.update`) checks an
update rule alone, in the form the learner wrote it (:mod:`compare.check.forms`), and names its
mistake from the recipe's catalogue (:mod:`compare.check.mistakes.recipe`).
"""
