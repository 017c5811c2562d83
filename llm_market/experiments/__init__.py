"""Experiments: the run loop, parameter sweeps and their store, mechanism comparisons."""
