"""The race: both backends trained side by side from identical weights, checked as they go and timed.

``python -m compare`` (:mod:`compare.race.cli`) and :func:`compare.run_comparison`
(:mod:`compare.race.pipeline`) run it; :mod:`compare.race.runner` is the loop, and
:mod:`compare.race.record` and :mod:`compare.race.report` what it keeps and prints.
"""
