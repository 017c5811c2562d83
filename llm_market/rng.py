"""Seeded random streams, one per component.

MODEL.md asks that one integer seed fixes a run and that adding a component does not shift the
random numbers of the others. Spawning children by position (``SeedSequence.spawn``) would shift
every later child when a component is inserted, so each stream's spawn key is derived from its
*name* instead: the indices draw from ``stream(seed, "indices")`` whatever else exists.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the random generator of one named component.

    Args:
        seed: The run's seed.
        name: The component's name, for example ``"indices"`` or ``"news"``.

    Returns:
        A NumPy generator that depends only on ``seed`` and ``name``.
    """
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(key,)))


class Streams:
    """The named random streams of one run, created on first use.

    Args:
        seed: The run's seed.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        """Return the stream called ``name``, creating it on first use."""
        if name not in self._streams:
            self._streams[name] = stream(self.seed, name)
        return self._streams[name]
