"""Fitting the model to a real series by the method of simulated moments: ``llm-market fit``.

*The method* (McFadden 1989; Duffie & Singleton 1993; for agent-based models Franke & Westerhoff
2012, Grazzini & Richiardi 2015). The target is a vector ``m`` of moments of a real daily return
series (:mod:`~llm_market.stats.moments`: volatility, excess kurtosis, Hill index, ACF of |r| at
lags 1, 10, 50, ACF of r at lag 1 by default). For candidate parameters ``theta`` the model is
run once per seed of a fixed list, the same seeds for every candidate (*common random numbers*:
the objective then moves with ``theta``, not with the draws), and each simulated series (every
good's, or index's, daily log returns after a burn-in, as long as the real series) is one
replication; ``m_sim(theta)`` is their mean over ``S`` replications. With ``g = m_sim(theta) -
m`` and ``Sigma`` the covariance of the real moments from a moving-block bootstrap of the real
series, the objective is::

    J(theta) = g' W g,    W = [(1 + 1/S) Sigma]^-1

the ``1 + 1/S`` counting the simulation noise of the mean of ``S`` replications besides the
sampling noise of the real moments (Gourieroux & Monfort 1996). Under the model, at the true
``theta`` and with this (optimal) weighting, ``J`` at the minimum is asymptotically chi-square
with ``moments - parameters`` degrees of freedom: the test of overidentifying restrictions
(Hansen 1982). *Caveats*: the bootstrap ``Sigma`` estimates the optimal weighting, it is not
it; the moments are not smooth in ``theta`` for a finite ``S``; a short budget finds a local
minimum. The p-value is a rough gauge of fit, not a formal test.

*The optimiser.* Bounded parameters are mapped to the real line (logit of the position between
the bounds, of the logarithm for ``log = true``). ``nelder-mead``: a Latin hypercube of
``initial`` points evaluated together, then Nelder-Mead (scipy) from the best of them until the
evaluation budget is spent. ``differential-evolution``: scipy's, its population evaluated
together each generation (``updating="deferred"``), no polishing. Evaluations beyond the budget
are refused, so the run time is bounded: ``max_evaluations x seeds`` runs at most.

*Parallel runs and resuming.* The candidates of one batch (the initial design, one generation,
one Nelder-Mead step) are one sweep (:func:`~llm_market.experiments.execution.run_sweep`, Mesa
``batch_run`` on processes or Dask) into the fit's directory, with each run's logs; the moments
are read back from ``runs/<key>/model.parquet``. A run's key is its (scenario, parameters,
seed, steps), and the optimiser is deterministic given its seed, so a fit started again walks the
same candidates and finds their runs already written: it resumes where it stopped.

:class:`Simulator` is the interface the engine calls; :class:`ModelSimulator` runs the model,
and any callable from a list of points to their return series can stand in (the tests fit a GBM
simulated in a few lines).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ParameterError, UsageError, read_toml
from ..params import SCENARIOS, Params, make_params
from .designs import Bound
from .specs import (
    Sweep,
    SweepRunError,
    design_keys,
    normalised_combinations,
    parse_spec,
    plural,
)

OPTIMIZERS = ("nelder-mead", "differential-evolution")
FIT_KEYS = (
    "description",
    "scenario",
    "series",
    "steps",
    "burn_in",
    "seeds",
    "moments",
    "target",
    "check",
    "bootstrap",
    "optimizer",
    "parameters",
)
TARGET_KEYS = ("source", "column", "start", "end")
CHECK_KEYS = ("start", "end")
BOOTSTRAP_KEYS = ("block", "draws", "seed")
OPTIMIZER_KEYS = ("method", "max_evaluations", "initial", "seed", "popsize")
# The sweep metric kept for each run (any would do: the fit reads the run's logs).
KEEP_METRIC = "final_budget_hhi"
FIT_FILE = "fit.json"
CONFIG_FILE = "fitted.toml"
# Added to J for a candidate whose moments are undefined (a run without price changes).
UNDEFINED_PENALTY = 1e12


# --------------------------------------------------------------------------- the specification


@dataclass
class FitSpec:
    """A parsed fit specification (see ``batch/fits/README.md``).

    Attributes:
        name: The spec's stem.
        scenario: The preset the parameters override.
        series: The model series whose returns are compared (``stats.sources.SERIES``: ``price``
            for the goods' closes, ``index`` for the index levels).
        burn_in: Days dropped at the start of every run.
        steps: Days per run; default ``burn_in`` + the target's returns + 1.
        seeds: The common random numbers: every candidate runs every seed.
        moments: Moment names.
        bounds: The estimated parameters, in the spec's order.
        fixed: Parameters set to one value for every candidate.
        target: ``source``, ``column``, ``start``, ``end`` of the real series.
        check: ``start`` and ``end`` of the out-of-sample window, or None.
        block: Bootstrap block length (days).
        draws: Bootstrap draws.
        bootstrap_seed: Seed of the bootstrap.
        method: ``nelder-mead`` or ``differential-evolution``.
        max_evaluations: Most candidates evaluated.
        initial: Nelder-Mead: points of the initial Latin hypercube.
        popsize: Differential evolution: population size multiplier (scipy's ``popsize``).
        optimizer_seed: Seed of the initial design or of the evolution.
        description: Free text.
        source: Where the spec came from, for messages.
    """

    name: str
    scenario: str
    series: str
    burn_in: int
    steps: int | None
    seeds: list[int]
    moments: tuple[str, ...]
    bounds: list[Bound]
    fixed: dict[str, Any]
    target: dict[str, Any]
    check: dict[str, Any] | None = None
    block: int = 100
    draws: int = 500
    bootstrap_seed: int = 0
    method: str = "nelder-mead"
    max_evaluations: int = 40
    initial: int = 8
    popsize: int = 5
    optimizer_seed: int = 0
    description: str = ""
    source: str = "spec"

    @property
    def names(self) -> list[str]:
        """The estimated parameters."""
        return [b.name for b in self.bounds]


def _table(data: dict[str, Any], key: str, keys: Sequence[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise UsageError(f"{key}: must be a table ([{key}])")
    for k in value:
        if k not in keys:
            raise UsageError(f"{key}.{k}: unknown key; expected one of {', '.join(keys)}")
    return value


def _whole(key: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{key}: must be a whole number >= {least} (got {value!r})")
    return value


def parse_fit_spec(data: dict[str, Any], name: str = "fit", source: str = "spec") -> FitSpec:
    """Build a :class:`FitSpec` from a parsed TOML table, checking every key.

    Raises:
        UsageError: The spec is malformed; the message starts with ``source`` and names the key.
    """
    try:
        return _parse_fit_spec(data, name, source)
    except UsageError as err:
        raise UsageError(f"{source}: {err}") from None


def _parse_fit_spec(data: dict[str, Any], name: str, source: str) -> FitSpec:
    from ..stats.moments import DEFAULT_MOMENTS, check_names
    from ..stats.sources import SERIES

    for key in data:
        if key not in FIT_KEYS:
            hint = (
                " (put model parameters under [parameters])" if key in Params.model_fields else ""
            )
            raise UsageError(f"{key}: unknown key{hint}; expected one of {', '.join(FIT_KEYS)}")
    scenario = data.get("scenario", "default")
    if scenario not in SCENARIOS:
        raise UsageError(f"scenario: unknown {scenario!r}, choose one of {', '.join(SCENARIOS)}")
    series = data.get("series", "price")
    if series not in SERIES:
        raise UsageError(f"series: unknown {series!r}, choose one of {', '.join(SERIES)}")
    burn_in = _whole("burn_in", data.get("burn_in", 100), 0)
    steps = data.get("steps")
    if steps is not None:
        steps = _whole("steps", steps, burn_in + 2)
    if "seeds" not in data:
        raise UsageError("seeds: missing; give the common random numbers (seeds = [1, 2])")
    moments = check_names(data.get("moments", DEFAULT_MOMENTS))
    target = _table(data, "target", TARGET_KEYS)
    if "source" not in target:
        raise UsageError("target.source: missing; a CSV of dated prices or 'sp500'")
    check = _table(data, "check", CHECK_KEYS) if "check" in data else None
    boot = _table(data, "bootstrap", BOOTSTRAP_KEYS)
    opt = _table(data, "optimizer", OPTIMIZER_KEYS)
    method = opt.get("method", "nelder-mead")
    if method not in OPTIMIZERS:
        raise UsageError(f"optimizer.method: {method!r}, choose one of {', '.join(OPTIMIZERS)}")
    raw = data.get("parameters", {})
    if not isinstance(raw, dict):
        raise UsageError("parameters: must be a table ([parameters])")
    # The seeds and [parameters] are a design sweep's ({low, high} bounds, fixed values), read
    # by the sweep's own parser so that both formats stay one.
    n_bounds = sum(isinstance(v, dict) for v in raw.values())
    if not n_bounds:
        raise UsageError("parameters: give at least one {low, high} to estimate")
    try:
        sweep = parse_spec(
            {
                "scenario": scenario,
                "seeds": data["seeds"],
                "design": "lhs",
                "samples": n_bounds + 2,
                "parameters": raw,
            }
        )
    except UsageError as err:
        raise UsageError(str(err).removeprefix("spec: ")) from None
    bounds, fixed, seeds = list(sweep.design.bounds), sweep.fixed(), sweep.seeds
    if len(bounds) > len(moments):
        raise UsageError(
            f"parameters: {len(bounds)} to estimate from {len(moments)} moments; "
            "MSM needs at least as many moments as parameters"
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise UsageError("description: must be a string")
    spec = FitSpec(
        name=name,
        scenario=scenario,
        series=series,
        burn_in=burn_in,
        steps=steps,
        seeds=seeds,
        moments=moments,
        bounds=bounds,
        fixed=fixed,
        target=target,
        check=check,
        block=_whole("bootstrap.block", boot.get("block", 100), 1),
        draws=_whole("bootstrap.draws", boot.get("draws", 500), 10),
        bootstrap_seed=_whole("bootstrap.seed", boot.get("seed", 0), 0),
        method=method,
        max_evaluations=_whole("optimizer.max_evaluations", opt.get("max_evaluations", 40), 1),
        initial=_whole("optimizer.initial", opt.get("initial", 8), 1),
        popsize=_whole("optimizer.popsize", opt.get("popsize", 5), 1),
        optimizer_seed=_whole("optimizer.seed", opt.get("seed", 0), 0),
        description=description,
        source=source,
    )
    # The fixed parameters must make a model; candidates that do not (garch_alpha + garch_beta
    # >= 1 in a corner of the box) are refused one by one when proposed, with a penalty.
    try:
        make_params(scenario, **fixed)
    except ParameterError as err:
        raise UsageError(f"parameters: {err}") from None
    return spec


def load_fit_spec(path: str | Path) -> FitSpec:
    """Read a fit specification from a TOML file.

    Raises:
        UsageError: The file is missing, not TOML, or malformed.
    """
    path = Path(path)
    return parse_fit_spec(read_toml(path, str(path)), name=path.stem, source=str(path))


# --------------------------------------------------------------------------- simulators


class Simulator(Protocol):
    """What the engine calls: return series for a batch of candidate points.

    ``simulate(points)`` takes parameter dicts (the estimated parameters only) and returns, for
    each point, the list of its simulated daily return series (its replications). Every call must
    use the same random numbers for the same point (common random numbers).
    """

    def __call__(self, points: list[dict[str, float]]) -> list[list[np.ndarray]]:
        """Each point's replications: a list of daily log-return arrays."""
        ...


class _PointsSweep(Sweep):
    """A sweep over an explicit list of points (an optimiser's batch of candidates)."""

    def __init__(self, points: list[dict[str, Any]], **kwargs):
        super().__init__(**kwargs)
        self.points = points

    @property
    def varied(self) -> list[str]:
        return list(self.points[0]) if self.points else []

    def combinations(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self.points]

    def shape(self) -> str:
        return (
            f"{plural(len(self.points), 'candidate')} x {plural(len(self.seeds), 'seed')}, "
            f"{self.steps} steps"
        )


@dataclass
class ModelSimulator:
    """Runs the model for candidate points through the sweep engine, into one directory.

    Attributes:
        spec: The fit.
        steps: Days per run.
        out: The fit's directory (a sweep directory: ``runs/<key>/model.parquet`` per run).
        workers: Processes (or Dask workers).
        dask: None, ``"local"`` or a scheduler address.
        echo: Where the sweep's one-line messages go.
        runs: Runs made by this simulator (not found already written).
    """

    spec: FitSpec
    steps: int
    out: Path
    workers: int = 1
    dask: str | None = None
    echo: Callable[[str], None] = print
    runs: int = 0

    def sweep(self, points: list[dict[str, Any]]) -> _PointsSweep:
        """The sweep that runs ``points`` (fixed parameters added) for every seed."""
        return _PointsSweep(
            [{**self.spec.fixed, **p} for p in points],
            name=self.spec.name,
            scenario=self.spec.scenario,
            steps=self.steps,
            seeds=list(self.spec.seeds),
            metrics=[KEEP_METRIC],
            source=self.spec.source,
        )

    def valid(self, point: dict[str, Any]) -> bool:
        """Whether the point, with the fixed parameters, is a model ``make_params`` accepts."""
        try:
            make_params(self.spec.scenario, steps=self.steps, **{**self.spec.fixed, **point})
        except ParameterError:
            return False
        return True

    def __call__(self, points: list[dict[str, float]]) -> list[list[np.ndarray]]:
        """Run what is missing, then read every point's return series from the run logs.

        A point that is not a valid model gets no series (the engine then penalises it).
        """
        from .execution import run_sweep

        ok = [i for i, p in enumerate(points) if self.valid(p)]
        series: dict[int, list[np.ndarray]] = {}
        if ok:
            sweep = self.sweep([points[i] for i in ok])
            combos = normalised_combinations(sweep)
            report = run_sweep(
                sweep, self.out, self.workers, self.dask, logs=True, progress=False, echo=self.echo
            )
            if report.interrupted:
                raise KeyboardInterrupt
            if report.failed:  # Dask keeps going past a failed run; a fit cannot
                raise SweepRunError(report.failed[0])
            self.runs += report.ran
            for i, keys in zip(ok, design_keys(sweep, combos), strict=True):
                series[i] = [r for key in keys for r in self.read(key)]
        return [series.get(i, []) for i in range(len(points))]

    def read(self, key: str) -> list[np.ndarray]:
        """The return series of one run: each good's (or index's), after the burn-in."""
        from ..stats.sources import read_model_frame, run_series
        from .store import RUNS_DIR

        path = self.out / RUNS_DIR / key / "model.parquet"
        if not path.exists():
            raise UsageError(f"{path}: missing; the run did not write its logs")
        prices, _ = run_series(read_model_frame(path), self.spec.series, self.spec.burn_in, key)
        out = []
        for p in prices:
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.diff(np.log(p))
            out.append(r[np.isfinite(r)])
        return out


# --------------------------------------------------------------------------- the engine


@dataclass
class Evaluation:
    """One candidate: its parameters, simulated moments and objective."""

    params: dict[str, float]
    moments: list[float]
    j: float
    replications: int


@dataclass
class FitResult:
    """What :func:`estimate` found.

    Attributes:
        names: The estimated parameters.
        best: The parameters with the lowest ``J``.
        j: ``J`` at ``best``.
        df: Degrees of freedom, ``moments - parameters``.
        p_value: ``P(chi2(df) > J)`` (NaN when ``df`` is 0).
        moments: The simulated moments at ``best``.
        replications: Simulated series behind them (``S``).
        evaluations: Every candidate in the order evaluated.
        method: The optimiser.
        message: The optimiser's last word.
    """

    names: list[str]
    best: dict[str, float]
    j: float
    df: int
    p_value: float
    moments: np.ndarray
    replications: int
    evaluations: list[Evaluation] = field(default_factory=list)
    method: str = ""
    message: str = ""


class BudgetSpent(Exception):
    """The evaluation budget is used up (the optimiser stops here, keeping the best)."""


def weighting(target, replications: int) -> np.ndarray:
    """``W = [(1 + 1/S) Sigma]^-1`` (a pseudo-inverse if ``Sigma`` is near singular)."""
    return np.linalg.pinv((1.0 + 1.0 / max(replications, 1)) * target.cov)


def objective(sim_moments: np.ndarray, target, replications: int) -> float:
    """``J = g' W g`` with ``g = simulated - target``; a large penalty when undefined."""
    g = np.asarray(sim_moments, dtype=float) - target.values
    if not np.isfinite(g).all():
        return UNDEFINED_PENALTY
    return float(g @ weighting(target, replications) @ g)


def _to_unit(b: Bound, value: float) -> float:
    lo, hi = (math.log(b.low), math.log(b.high)) if b.log else (b.low, b.high)
    x = math.log(value) if b.log else value
    return min(max((x - lo) / (hi - lo), 0.0), 1.0)


def _from_unit(b: Bound, u: float) -> float:
    lo, hi = (math.log(b.low), math.log(b.high)) if b.log else (b.low, b.high)
    x = lo + (hi - lo) * min(max(u, 0.0), 1.0)
    v = math.exp(x) if b.log else x
    if b.integer:
        return int(min(max(round(v), b.low), b.high))
    # Rounded so that the run keys (JSON of the values) are stable across platforms.
    return float(f"{min(max(v, b.low), b.high):.10g}")


def _logit(u: float) -> float:
    u = min(max(u, 1e-6), 1 - 1e-6)
    return math.log(u / (1 - u))


def _expit(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


class _Engine:
    """The objective with a memory, a budget and batched evaluation."""

    def __init__(self, simulate, bounds, target, budget, echo):
        self.simulate, self.bounds, self.target = simulate, list(bounds), target
        self.budget, self.echo = budget, echo
        self.memo: dict[tuple, Evaluation] = {}
        self.order: list[Evaluation] = []

    def point(self, unit: Sequence[float]) -> dict[str, float]:
        return {b.name: _from_unit(b, u) for b, u in zip(self.bounds, unit, strict=True)}

    @staticmethod
    def _key(point: dict[str, float]) -> tuple:
        return tuple(sorted(point.items()))

    def evaluate(self, units: Sequence[Sequence[float]]) -> list[float]:
        """Evaluate a batch of points (unit coordinates) together; return their ``J``."""
        points = [self.point(u) for u in units]
        todo, seen = [], set()
        for p in points:
            k = self._key(p)
            if k not in self.memo and k not in seen:
                todo.append(p)
                seen.add(k)
        room = self.budget - len(self.memo)
        if todo and room <= 0:
            raise BudgetSpent
        todo = todo[:room]
        if todo:
            from ..stats.moments import pooled_moments

            series = self.simulate(todo)
            for p, reps in zip(todo, series, strict=True):
                m = pooled_moments(reps, self.target.names) if reps else None
                m = np.full(len(self.target.names), np.nan) if m is None else m
                j = objective(m, self.target, len(reps))
                ev = Evaluation(p, [float(x) for x in m], j, len(reps))
                self.memo[self._key(p)] = ev
                self.order.append(ev)
                shown = ", ".join(f"{k}={v:.4g}" for k, v in p.items())
                self.echo(f"  [{len(self.memo)}/{self.budget}] J = {ev.j:.4g} at {shown}")
        out = []
        for p in points:
            ev = self.memo.get(self._key(p))
            if ev is None:
                raise BudgetSpent
            out.append(ev.j)
        return out

    def best(self) -> Evaluation:
        return min(self.order, key=lambda e: e.j)


def _latin_hypercube(n: int, d: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=d, seed=seed).random(n)


def estimate(
    simulate: Simulator,
    bounds: Sequence[Bound],
    target,
    method: str = "nelder-mead",
    max_evaluations: int = 40,
    initial: int = 8,
    popsize: int = 5,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> FitResult:
    """Minimise ``J`` over the bounded parameters (see the module docstring).

    Args:
        simulate: Return series per point (:class:`Simulator`).
        bounds: The estimated parameters with their ranges.
        target: The real series' :class:`~llm_market.stats.moments.TargetMoments`.
        method: ``nelder-mead`` or ``differential-evolution``.
        max_evaluations: Most distinct candidates evaluated.
        initial: Nelder-Mead: Latin-hypercube points evaluated first.
        popsize: Differential evolution: population multiplier.
        seed: Seed of the design or of the evolution.
        echo: Where the per-candidate lines go.

    Returns:
        The :class:`FitResult`.
    """
    from scipy import optimize, stats

    if method not in OPTIMIZERS:
        raise UsageError(f"optimizer: {method!r}, choose one of {', '.join(OPTIMIZERS)}")
    d = len(bounds)
    engine = _Engine(simulate, bounds, target, max_evaluations, echo)
    message = ""
    try:
        if method == "nelder-mead":
            design = _latin_hypercube(min(initial, max_evaluations), d, seed)
            engine.evaluate(design)
            start = engine.best()
            z0 = np.array([_logit(_to_unit(b, start.params[b.name])) for b in bounds])
            # A simplex a unit wide in logit space: about a quarter of the range at the centre.
            simplex = np.vstack([z0, z0 + np.eye(d)])
            res = optimize.minimize(
                lambda z: engine.evaluate([[_expit(v) for v in z]])[0],
                z0,
                method="Nelder-Mead",
                options={
                    "initial_simplex": simplex,
                    "maxfev": 10 * max_evaluations,
                    "xatol": 1e-3,
                    "fatol": 1e-3,
                },
            )
            message = str(res.message)
        else:

            def batch_map(func, population):
                population = list(population)
                engine.evaluate(population)
                return [func(x) for x in population]

            res = optimize.differential_evolution(
                lambda u: engine.evaluate([u])[0],
                [(0.0, 1.0)] * d,
                popsize=popsize,
                maxiter=10_000,
                seed=seed,
                polish=False,
                init="latinhypercube",
                updating="deferred",
                workers=batch_map,
            )
            message = str(res.message)
    except BudgetSpent:
        message = f"evaluation budget of {max_evaluations} spent"
    best = engine.best()
    df = len(target.names) - d
    p_value = float(stats.chi2.sf(best.j, df)) if df > 0 else math.nan
    return FitResult(
        names=[b.name for b in bounds],
        best=best.params,
        j=best.j,
        df=df,
        p_value=p_value,
        moments=np.array(best.moments),
        replications=best.replications,
        evaluations=engine.order,
        method=method,
        message=message,
    )


# --------------------------------------------------------------------------- the whole fit


@dataclass
class FitOutcome:
    """A finished ``llm-market fit``: the estimate, the targets and the files written."""

    spec: FitSpec
    result: FitResult
    target: Any
    check: Any | None
    check_j: float | None
    check_p: float | None
    out: Path
    runs: int
    wall_s: float


def _target(spec: FitSpec, window: dict[str, Any], label: str):
    from ..stats.history import load_history
    from ..stats.moments import target_moments

    hist = load_history(str(spec.target["source"]), spec.target.get("column"))
    part = hist.window(window.get("start"), window.get("end"))
    r = part.returns
    return target_moments(
        r,
        spec.moments,
        block=spec.block,
        draws=spec.draws,
        seed=spec.bootstrap_seed,
        label=f"{label}: {hist.name} {part.span()}",
    )


def moment_table(names, target, fitted) -> list[dict[str, Any]]:
    """Rows of the moment table: target, bootstrap band, fitted, and ``t = (fit - target) / sd``."""
    rows = []
    for i, name in enumerate(names):
        sd = float(target.sd[i])
        rows.append(
            {
                "moment": name,
                "target": float(target.values[i]),
                "low": float(target.low[i]),
                "high": float(target.high[i]),
                "fitted": float(fitted[i]),
                "t": (float(fitted[i]) - float(target.values[i])) / sd if sd > 0 else math.nan,
            }
        )
    return rows


def _num(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, str):
        return json.dumps(x)
    if isinstance(x, list | tuple):
        return "[" + ", ".join(_num(v) for v in x) + "]"
    raise TypeError(type(x))


def render_config(outcome: FitOutcome) -> str:
    """The fitted parameters as a config for ``llm-market run --config``, the fit in comments."""
    spec, res = outcome.spec, outcome.result
    lines = [
        f"# Fitted by `llm-market fit {spec.source}` (method of simulated moments).",
        f"# Target: {outcome.target.label}, {outcome.target.n_returns} returns.",
        f"# Model series: {spec.series} returns of scenario {spec.scenario!r}, burn-in "
        f"{spec.burn_in}, seeds {spec.seeds} (common random numbers), S = {res.replications}.",
        f"# J = {res.j:.4g} on {res.df} degrees of freedom, p = {res.p_value:.3g} "
        "(chi-square; a gauge, see docs/stylized-facts.md).",
        f"# Optimiser {res.method}: {len(res.evaluations)} candidates; {res.message}.",
        "# Use: llm-market run --config THIS_FILE (the scenario below, then these overrides).",
        "",
        f'scenario = "{spec.scenario}"',
    ]
    for k, v in spec.fixed.items():
        lines.append(f"{k} = {_num(v)}  # fixed in the fit")
    for b in spec.bounds:
        v = res.best[b.name]
        lines.append(f"{b.name} = {_num(v)}  # fitted in [{b.low:g}, {b.high:g}]")
    lines += ["", "# moment       target   [95% bootstrap band]      fitted      t"]
    for row in moment_table(outcome.target.names, outcome.target, res.moments):
        lines.append(
            f"#   {row['moment']:<10} {row['target']:>9.4g}  [{row['low']:>8.4g}, "
            f"{row['high']:>8.4g}]  {row['fitted']:>9.4g}  {row['t']:>6.2f}"
        )
    if outcome.check is not None:
        lines += [
            "",
            f"# Out of sample ({outcome.check.label}): J = {outcome.check_j:.4g}, "
            f"p = {outcome.check_p:.3g} ({len(outcome.check.names)} degrees of freedom)",
        ]
        for row in moment_table(outcome.check.names, outcome.check, res.moments):
            lines.append(
                f"#   {row['moment']:<10} {row['target']:>9.4g}  [{row['low']:>8.4g}, "
                f"{row['high']:>8.4g}]  {row['fitted']:>9.4g}  {row['t']:>6.2f}"
            )
    return "\n".join(lines) + "\n"


def fit_record(outcome: FitOutcome) -> dict[str, Any]:
    """The JSON record of a fit (``fit.json``)."""
    spec, res = outcome.spec, outcome.result

    def clean(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    record = {
        "spec": spec.source,
        "scenario": spec.scenario,
        "series": spec.series,
        "seeds": spec.seeds,
        "burn_in": spec.burn_in,
        "fixed": spec.fixed,
        "bounds": {b.name: [b.low, b.high] for b in spec.bounds},
        "target": outcome.target.label,
        "n_returns": outcome.target.n_returns,
        "bootstrap": {"block": spec.block, "draws": spec.draws, "seed": spec.bootstrap_seed},
        "method": res.method,
        "message": res.message,
        "best": res.best,
        "j": clean(res.j),
        "df": res.df,
        "p_value": clean(res.p_value),
        "replications": res.replications,
        "moments": moment_table(outcome.target.names, outcome.target, res.moments),
        "evaluations": [
            {"params": e.params, "j": clean(e.j), "moments": [clean(m) for m in e.moments]}
            for e in res.evaluations
        ],
        "runs_made": outcome.runs,
        "wall_s": outcome.wall_s,
    }
    if outcome.check is not None:
        record["check"] = {
            "target": outcome.check.label,
            "j": clean(outcome.check_j),
            "p_value": clean(outcome.check_p),
            "moments": moment_table(outcome.check.names, outcome.check, res.moments),
        }
    for row in record["moments"] + record.get("check", {}).get("moments", []):
        for k in ("target", "low", "high", "fitted", "t"):
            row[k] = clean(row[k])
    return record


def run_fit(
    spec: FitSpec,
    out: str | Path,
    workers: int = 1,
    dask: str | None = None,
    max_evaluations: int | None = None,
    echo: Callable[[str], None] = print,
) -> FitOutcome:
    """Fit ``spec`` into ``out``: targets, estimate, check, ``fitted.toml`` and ``fit.json``.

    Args:
        spec: The fit.
        out: The fit's directory (its runs, ``fit.json``, ``fitted.toml``).
        workers: Processes (or Dask workers).
        dask: None, ``"local"`` or a scheduler address.
        max_evaluations: Override the spec's budget.
        echo: Where the messages go.

    Returns:
        The :class:`FitOutcome`.
    """
    from scipy import stats

    t0 = time.perf_counter()
    out = Path(out)
    target = _target(spec, spec.target, "fit")
    steps = spec.steps or spec.burn_in + target.n_returns + 1
    # The sweep engine's one line per batch would be one per Nelder-Mead step: only its
    # warnings (runs of other model code in the directory) are passed on.
    sim = ModelSimulator(
        spec, steps, out, workers, dask, echo=lambda m: m.startswith("warning") and echo(m)
    )
    budget = max_evaluations or spec.max_evaluations
    echo(
        f"{spec.name}: fitting {', '.join(spec.names)} of scenario {spec.scenario!r} to "
        f"{target.label} ({target.n_returns} returns, {len(spec.moments)} moments); "
        f"{spec.method}, at most {budget} candidates x {plural(len(spec.seeds), 'seed')} "
        f"of {steps} steps, into {out}"
    )
    result = estimate(
        sim,
        spec.bounds,
        target,
        method=spec.method,
        max_evaluations=budget,
        initial=spec.initial,
        popsize=spec.popsize,
        seed=spec.optimizer_seed,
        echo=echo,
    )
    check = check_j = check_p = None
    if spec.check is not None:
        check = _target(spec, {**spec.target, **spec.check}, "check")
        check_j = objective(result.moments, check, result.replications)
        check_p = float(stats.chi2.sf(check_j, len(check.names)))
    outcome = FitOutcome(
        spec, result, target, check, check_j, check_p, out, sim.runs, time.perf_counter() - t0
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(render_config(outcome))
    (out / FIT_FILE).write_text(json.dumps(fit_record(outcome), indent=2, allow_nan=False) + "\n")
    return outcome
