"""Experiments: the run loop, parameter sweeps and their store, mechanism comparisons.

:func:`load` reads a run's or a sweep's results and logs as tidy DataFrames.
"""

from .loading import load

__all__ = ["load"]
