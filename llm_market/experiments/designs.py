"""Sampling designs for sensitivity analysis: Sobol, Morris and Latin hypercube (SALib).

A design sweep names, instead of lists of values, a range ``{low, high}`` for each parameter it
varies and a sample size; :class:`Design` draws the sample matrix with SALib (in the *sample
space*: the logarithm of a ``log = true`` parameter, ``[low - 0.5, high + 0.5]`` for a whole
number) and turns its rows into parameter values (:meth:`Design.values`). :func:`analyze` computes
the sensitivity indices from the matrix and one output per row:

- ``sobol``: Saltelli's sample, ``N (2D + 2)`` rows (``N (D + 2)`` without second-order
  indices); first-order ``S1`` and total ``ST`` Sobol indices with bootstrap 95% intervals.
- ``morris``: ``N`` trajectories of ``D + 1`` points on a grid of ``levels`` levels; ``mu*``
  (mean absolute elementary effect) with its bootstrap 95% interval, ``mu`` and ``sigma``.
- ``lhs``: a Latin hypercube of ``N`` rows; standardized regression coefficients (an ordinary
  least-squares fit of the standardized output on the standardized inputs, statsmodels) with
  their 95% intervals and the fit's R².

SALib, statsmodels and NumPy are imported inside the functions: a spec is parsed without them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

METHODS = ("sobol", "morris", "lhs")
CONFIDENCE = 0.95
# Bootstrap resamples of the Sobol and Morris intervals, and their seed (fixed, and not 0:
# SALib's Sobol analysis leaves a seed of 0 unseeded), so the intervals can be repeated.
RESAMPLES = 1000
BOOTSTRAP_SEED = 20240901


@dataclass(frozen=True)
class Bound:
    """The range of one parameter of a design.

    Attributes:
        name: The parameter.
        low: Smallest value.
        high: Largest value.
        log: Sample uniformly in the logarithm (for costs spread over factors).
        integer: A whole-number parameter: values are rounded, each equally likely.
    """

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def sample_range(self) -> tuple[float, float]:
        """The range SALib samples in (log space for ``log``, widened by 0.5 for integers)."""
        lo, hi = (self.low - 0.5, self.high + 0.5) if self.integer else (self.low, self.high)
        return (math.log(lo), math.log(hi)) if self.log else (lo, hi)

    def value(self, x: float) -> float | int:
        """The parameter value of one sample coordinate."""
        v = math.exp(x) if self.log else float(x)
        if self.integer:
            return int(min(max(round(v), self.low), self.high))
        return min(max(v, self.low), self.high)


@dataclass(frozen=True)
class Design:
    """A SALib design over some of a sweep's parameters.

    Attributes:
        method: ``sobol``, ``morris`` or ``lhs``.
        bounds: The varied parameters, in the spec's order.
        samples: N: Sobol base samples, Morris trajectories or Latin-hypercube rows.
        seed: Seed of the sample.
        second_order: Sobol: also the second-order indices (``N (2D + 2)`` rows, else
            ``N (D + 2)``).
        levels: Morris: levels of the grid.
    """

    method: str
    bounds: tuple[Bound, ...]
    samples: int
    seed: int = 0
    second_order: bool = True
    levels: int = 4

    @property
    def names(self) -> list[str]:
        """The varied parameters."""
        return [b.name for b in self.bounds]

    @property
    def rows(self) -> int:
        """Rows of the sample matrix (design points)."""
        d, n = len(self.bounds), self.samples
        if self.method == "sobol":
            return n * (2 * d + 2 if self.second_order else d + 2)
        if self.method == "morris":
            return n * (d + 1)
        return n

    def problem(self) -> dict[str, Any]:
        """SALib's problem definition (ranges in the sample space)."""
        return {
            "num_vars": len(self.bounds),
            "names": self.names,
            "bounds": [list(b.sample_range()) for b in self.bounds],
        }

    def sample(self):
        """Draw the sample matrix (``rows x D``, sample space); the same for the same design."""
        import numpy as np

        problem = self.problem()
        if self.method == "sobol":
            from SALib.sample import sobol

            x = sobol.sample(
                problem, self.samples, calc_second_order=self.second_order, seed=self.seed
            )
        elif self.method == "morris":
            from SALib.sample import morris

            x = morris.sample(problem, self.samples, num_levels=self.levels, seed=self.seed)
        else:
            from SALib.sample import latin

            x = latin.sample(problem, self.samples, seed=self.seed)
        return np.asarray(x, dtype=float)

    def values(self, x) -> list[dict[str, float | int]]:
        """Each row of a sample matrix as parameter values (rounded, exponentiated)."""
        return [{b.name: b.value(v) for b, v in zip(self.bounds, row, strict=True)} for row in x]

    def describe(self) -> str:
        """The design in words, such as ``sobol design, N = 64 over 6 parameters``."""
        extra = ""
        if self.method == "sobol" and not self.second_order:
            extra = ", no second order"
        if self.method == "morris":
            extra = f", {self.levels} levels"
        return f"{self.method} design, N = {self.samples} over {len(self.bounds)} parameters{extra}"

    def to_dict(self) -> dict[str, Any]:
        """The design as JSON-able data (see :meth:`from_dict`)."""
        out = asdict(self)
        out["bounds"] = list(out["bounds"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Design:
        """Rebuild a design written by :meth:`to_dict`."""
        data = dict(data)
        data["bounds"] = tuple(Bound(**b) for b in data["bounds"])
        return cls(**data)


@dataclass
class Sensitivity:
    """Sensitivity indices of one output.

    Attributes:
        method: The design's method.
        metric: The output analysed.
        table: One row per parameter (index ``parameter``): ``S1``, ``S1_conf``, ``ST``,
            ``ST_conf`` (Sobol); ``mu_star``, ``mu_star_conf``, ``mu``, ``sigma`` (Morris);
            ``src``, ``src_conf`` (LHS). ``*_conf`` is the half-width of the 95% interval.
        runs: Runs the analysis read.
        points: Design points (rows of the sample matrix).
        seeds: Seeds averaged per point.
        r_squared: LHS only: R² of the linear fit (how much of the variance the coefficients
            describe).
    """

    method: str
    metric: str
    table: Any
    runs: int
    points: int
    seeds: int
    r_squared: float | None = None


def analyze(design: Design, x, y, metric: str = "y", runs: int = 0, seeds: int = 1) -> Sensitivity:
    """Compute the design's sensitivity indices of one output.

    Args:
        design: The design.
        x: Its sample matrix (sample space), as drawn.
        y: One output per row.
        metric: The output's name (for the report).
        runs: Runs behind ``y`` (for the report).
        seeds: Seeds averaged per row (for the report).

    Returns:
        The indices, one row per parameter.
    """
    import numpy as np
    import pandas as pd

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    problem = design.problem()
    r2 = None
    if design.method == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(
            problem,
            y,
            calc_second_order=design.second_order,
            num_resamples=RESAMPLES,
            conf_level=CONFIDENCE,
            seed=BOOTSTRAP_SEED,
        )
        cols = ("S1", "S1_conf", "ST", "ST_conf")
    elif design.method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(
            problem,
            x,
            y,
            num_resamples=RESAMPLES,
            conf_level=CONFIDENCE,
            num_levels=design.levels,
            seed=BOOTSTRAP_SEED,
        )
        cols = ("mu_star", "mu_star_conf", "mu", "sigma")
    else:
        import statsmodels.api as sm

        zx = (x - x.mean(axis=0)) / x.std(axis=0)
        zy = (y - y.mean()) / y.std()
        fit = sm.OLS(zy, sm.add_constant(zx)).fit()
        lo, hi = fit.conf_int(1 - CONFIDENCE)[1:].T
        res = {"src": fit.params[1:], "src_conf": (hi - lo) / 2}
        r2 = float(fit.rsquared)
        cols = ("src", "src_conf")
    table = pd.DataFrame(
        {c: np.asarray(res[c], dtype=float) for c in cols},
        index=pd.Index(design.names, name="parameter"),
    )
    return Sensitivity(design.method, metric, table, runs, len(y), seeds, r2)
