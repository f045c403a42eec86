"""Isolating ogbench's use of the *global* NumPy RNG.

ogbench samples maze start noise (``MazeEnv.add_noise``) and the manipulation
oracles' noise with ``np.random.*`` rather than the env's own generator, so
reproducibility needs the global RNG.  We swap a private ``RandomState`` in
around those calls instead of reseeding the process-wide generator.
"""

from __future__ import annotations

import contextlib

import numpy as np


@contextlib.contextmanager
def private_global_rng(rng: np.random.RandomState):
    """Make ``np.random.*`` draw from ``rng`` inside the block; restore the caller's state after."""
    outer = np.random.get_state()
    np.random.set_state(rng.get_state())
    try:
        yield
    finally:
        rng.set_state(np.random.get_state())
        np.random.set_state(outer)
