"""Seeded random streams, one per component.

MODEL.md asks that one integer seed fixes a run and that adding a component does not shift the
random numbers of the others. Spawning children by position (``SeedSequence.spawn``) would shift
every later child when a component is inserted, so each stream's spawn key is derived from its
*name* instead: the indices draw from ``stream(seed, "indices")`` whatever else exists.
"""

from __future__ import annotations

import zlib

import numpy as np

from .errors import ParameterError


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


# The seed of a model built without one.
DEFAULT_SEED = 42


def resolve_seed(seed: int | None, rng: int | None = None) -> int:
    """The run's integer seed from ``seed`` and Mesa's ``rng``.

    Args:
        seed: An integer, or None for a fresh seed from the operating system's entropy.
        rng: Mesa's name for the seed: an integer that takes the place of ``seed``, or None.

    Returns:
        A seed >= 0.

    Raises:
        ParameterError: Either is not an integer, or both are given and disagree.
    """
    for name, value in (("seed", seed), ("rng", rng)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer)
        ):
            raise ParameterError(
                f"{name}: an integer or None (got {type(value).__name__} {value!r})"
            )
    if rng is not None:
        if seed is not None and seed not in (DEFAULT_SEED, rng):
            raise ParameterError(f"seed={seed} and rng={rng}: give one of them")
        seed = rng
    if seed is None:
        # 63 bits: fits a signed 64-bit Parquet column.
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    return int(seed)
