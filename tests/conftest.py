"""Shared test settings.

Hypothesis profiles: CI runs "default"; HYPOTHESIS_PROFILE=thorough explores more.

Threads: one for NumPy's and SciPy's BLAS and one for torch, as ``python -m compare`` does by
default. On a small machine that is busy with other work, more threads than free cores make
each tiny step wait for a descheduled thread (steps measured 3 to 5 times slower here), and
nothing in the tests needs them.
"""
import os

import torch
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

import from_scratch  # noqa: F401  (loads SciPy's BLAS, so the limit below reaches it too)

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

torch.set_num_threads(1)
threadpool_limits(limits=1)
