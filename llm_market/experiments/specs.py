"""A sweep's specification: the TOML spec, its runs, their identity and the metrics they keep.

A sweep is a TOML specification (see ``batch/README.md`` and ``docs/sweeps.md``): a scenario, a
run length, seeds, the summary metrics to keep and, under ``[parameters]``, lists, ranges or fixed
values. A *design* sweep (``design = "sobol" | "morris" | "lhs"``) gives ``{low, high}`` bounds
instead of lists and a sample size ``samples``; its combinations are the rows of a SALib sample
(:mod:`~llm_market.experiments.designs`). :func:`load_spec` reads it and :func:`plan` checks every
combination with :func:`~llm_market.params.make_params` before anything runs, so a mistake costs
nothing. A run's key (:func:`run_key`) is a hash of (scenario, parameters, seed, steps), which is
what lets a sweep started again skip the runs already written.

This module is imported when the command-line parser is built, so it imports the model only inside
:func:`available_metrics`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ParameterError, UsageError, read_toml
from ..params import SCENARIOS, Params, check_seed, make_params
from .designs import METHODS, Bound, Design
from .store import DIGEST, ID_COLUMNS, TAIL_COLUMNS

SPEC_KEYS = ("description", "scenario", "steps", "seeds", "metrics", "parameters")
# The keys of a design sweep (design = "sobol" | "morris" | "lhs").
DESIGN_KEYS = ("design", "samples", "design_seed", "second_order", "levels")
# A design larger than this is almost certainly a typo.
MAX_DESIGN_ROWS = 1_000_000
# Set at the top level of a spec, never swept under [parameters].
TOP_LEVEL_ONLY = {"steps": "steps", "seed": "seeds", "seeds": "seeds", "scenario": "scenario"}
# A range longer than this is almost certainly a typo (a step of 0.0001 instead of 0.1).
MAX_RANGE_VALUES = 100_000
# Most seeds in one sweep (a {start, count} table is expanded into a list).
MAX_SEEDS = 100_000


class SweepRunError(RuntimeError):
    """A run raised inside the model; the message names the run (key, parameters, seed)."""


# --------------------------------------------------------------------------- the specification


@dataclass(frozen=True)
class Run:
    """One run of a sweep.

    Attributes:
        key: Short SHA-256 of (scenario, parameters, seed, steps): the run's identity.
        scenario: The preset the parameters override.
        seed: The run's seed.
        steps: Steps (trading days) to simulate.
        params: The sweep's parameters for this run, normalised by validation (JSON-able).
    """

    key: str
    scenario: str
    seed: int
    steps: int
    params: dict[str, Any]


@dataclass
class Sweep:
    """A parsed sweep specification.

    Attributes:
        name: Name of the sweep (the spec file's stem).
        scenario: Preset the parameters override.
        steps: Steps per run.
        seeds: Seeds, each run for every combination.
        metrics: Names of summary metrics to keep (``None``: all of them).
        parameters: Each parameter's values in order (a fixed value is a list of one); in a
            design sweep, the fixed parameters only.
        description: Free text from the spec.
        source: Where the spec came from (for messages).
        design: The SALib design of a design sweep, else None (a full grid).
    """

    name: str
    scenario: str
    steps: int
    seeds: list[int]
    metrics: list[str] | None
    parameters: dict[str, list[Any]] = field(default_factory=dict)
    description: str = ""
    source: str = "spec"
    design: Design | None = None

    @property
    def varied(self) -> list[str]:
        """Names of the parameters that take more than one value."""
        if self.design is not None:
            return self.design.names
        return [k for k, v in self.parameters.items() if len(v) > 1]

    def fixed(self) -> dict[str, Any]:
        """The parameters that take one value, with that value."""
        return {k: v[0] for k, v in self.parameters.items() if len(v) == 1}

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of parameter values, in the spec's order.

        For a design sweep, one per row of the sample matrix (fixed parameters included), so two
        rows can be the same combination once whole numbers are rounded.
        """
        if self.design is not None:
            fixed = self.fixed()
            return [{**fixed, **point} for point in self.design.values(self.design.sample())]
        names = list(self.parameters)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(self.parameters[n] for n in names))
        ]

    def shape(self) -> str:
        """The sweep's size in words, such as ``4 combinations x 2 seeds, 10 steps``."""
        if self.design is not None:
            return (
                f"{self.design.describe()}: {plural(self.design.rows, 'point')} x "
                f"{plural(len(self.seeds), 'seed')}, {self.steps} steps"
            )
        return (
            f"{plural(len(self.combinations()), 'combination')} x "
            f"{plural(len(self.seeds), 'seed')}, {self.steps} steps"
        )


@functools.cache
def code_fingerprint() -> str:
    """Return 12 hex digits of SHA-256 over the ``llm_market`` package's Python sources.

    Stored with every run (column ``code``): the run key leaves the code out, so that a sweep can
    be resumed, and this column shows when a directory mixes runs of different model code.
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\x00")
        h.update(path.read_bytes() + b"\x00")
    return h.hexdigest()[:12]


def run_key(scenario: str, params: dict[str, Any], seed: int, steps: int) -> str:
    """Return a run's identity: 16 hex digits of SHA-256 over its canonical JSON.

    Args:
        scenario: The preset name.
        params: The run's parameter overrides (JSON-able, as normalised by :func:`plan`).
        seed: The seed.
        steps: The run length.
    """
    text = json.dumps(
        {"scenario": scenario, "params": params, "seed": int(seed), "steps": int(steps)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def overrides_key(scenario: str, params: Params, seed: int) -> str:
    """The key of a run made outside a sweep, derived as a sweep derives it.

    The parameters in the key are those that differ from the scenario's (``steps`` apart), so a
    single run has the key of a sweep's run that names exactly those parameters.

    Args:
        scenario: The preset name.
        params: The run's validated parameters.
        seed: The seed.
    """
    base = make_params(scenario)
    changed = {}
    for name in Params.model_fields:
        value = getattr(params, name)
        if name == "steps" or value == getattr(base, name):
            continue
        # A passed-in graph is not JSON: it is named, not dumped.
        changed[name] = json.loads(json.dumps(_jsonable(value), default=str))
    return run_key(scenario, changed, seed, params.steps)


def _clean_number(x: float) -> float | int:
    """Drop float noise from computed range values (0.30000000000000004 -> 0.3)."""
    return float(f"{x:.12g}")


def _range_values(where: str, spec: dict[str, Any]) -> list[Any]:
    """Expand ``{start, stop, num}`` (inclusive linspace) or ``{start, stop, step}``."""
    keys = set(spec)
    if keys not in ({"start", "stop", "num"}, {"start", "stop", "step"}):
        raise UsageError(
            f"{where}: a range needs start, stop and either num or step "
            f"(got {', '.join(sorted(keys)) or 'an empty table'})"
        )
    start, stop = spec["start"], spec["stop"]
    for name in ("start", "stop", "step"):
        v = spec.get(name, 0)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise UsageError(f"{where}: range {name} must be a finite number (got {v!r})")
    integral = all(isinstance(spec.get(k, 0), int) for k in ("start", "stop", "step"))
    if "num" in spec:
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise UsageError(f"{where}: range num must be a whole number >= 1 (got {num!r})")
        if num > MAX_RANGE_VALUES:
            raise UsageError(f"{where}: range num {num} is more than {MAX_RANGE_VALUES} values")
        if num == 1 and start != stop:
            raise UsageError(f"{where}: range num = 1 needs start == stop (or use a list)")
        values = [start + (stop - start) * i / max(num - 1, 1) for i in range(num)]
        if num > 1:
            values[-1] = stop
    else:
        step = spec["step"]
        if step == 0:
            raise UsageError(f"{where}: range step must not be 0")
        if (stop - start) * step < 0:
            raise UsageError(
                f"{where}: range step {step} moves away from stop {stop} (start {start})"
            )
        # Stop is included when it lies on the grid, up to float rounding.
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_RANGE_VALUES:
            raise UsageError(f"{where}: range gives {count} values, more than {MAX_RANGE_VALUES}")
        values = [start + i * step for i in range(count)]
    if integral and all(float(v).is_integer() for v in values):
        return [int(round(v)) for v in values]
    return [_clean_number(v) for v in values]


def _parameter_values(name: str, value: Any) -> list[Any]:
    where = f"parameters.{name}"
    if isinstance(value, list):
        if not value:
            raise UsageError(f"{where}: empty list (give at least one value)")
        for v in value:
            if isinstance(v, dict):
                raise UsageError(f"{where}: a list holds values, not tables (got {v!r})")
        seen: list[Any] = []
        for v in value:
            if v in seen and type(v) is type(seen[seen.index(v)]):
                raise UsageError(f"{where}: value {v!r} is listed twice")
            seen.append(v)
        return list(value)
    if isinstance(value, dict):
        return _range_values(where, value)
    return [value]


def _seeds(value: Any) -> list[int]:
    if isinstance(value, dict):
        if set(value) != {"start", "count"}:
            raise UsageError(
                "seeds: a table needs exactly start and count, "
                f"e.g. seeds = {{start = 1, count = 10}} (got {', '.join(sorted(value)) or '{}'})"
            )
        start, count = value["start"], value["count"]
        for name, v in (("start", start), ("count", count)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise UsageError(f"seeds.{name}: must be a whole number (got {v!r})")
        if not 1 <= count <= MAX_SEEDS:
            raise UsageError(f"seeds.count: must be from 1 to {MAX_SEEDS} (got {count})")
        value = list(range(start, start + count))
    if not isinstance(value, list):
        raise UsageError(f"seeds: a list of integers or {{start, count}} (got {value!r})")
    if not value:
        raise UsageError("seeds: empty list (give at least one seed)")
    if len(value) > MAX_SEEDS:
        raise UsageError(f"seeds: at most {MAX_SEEDS} seeds (got {len(value)})")
    for s in value:
        try:
            check_seed(s, "seeds")
        except ParameterError as err:
            # Checked before any run: a seed numpy takes but int64 cannot store would otherwise
            # finish its run and then poison the sweep's results file.
            raise UsageError(str(err)) from None
    dup = sorted({s for s in value if value.count(s) > 1})
    if dup:
        raise UsageError(f"seeds: {dup[0]} is listed twice")
    return list(value)


def parse_spec(
    data: dict[str, Any],
    name: str = "sweep",
    source: str = "spec",
    seeds: int | None = None,
    steps: int | None = None,
) -> Sweep:
    """Build a :class:`Sweep` from a parsed TOML table, checking its shape.

    Args:
        data: The spec's top-level table.
        name: The sweep's name.
        source: Where it came from, used as the prefix of error messages.
        seeds: Keep only the first ``seeds`` seeds (a quicker look at the same sweep).
        steps: Override the spec's run length.

    Returns:
        The sweep; its combinations are not yet validated (see :func:`plan`).

    Raises:
        UsageError: The spec is malformed; the message names the key.
    """
    try:
        return _parse_spec(data, name, source, seeds, steps)
    except UsageError as err:
        raise UsageError(f"{source}: {err}") from None


def _parse_spec(
    data: dict[str, Any], name: str, source: str, seeds: int | None, steps: int | None
) -> Sweep:
    known_keys = (*SPEC_KEYS, *DESIGN_KEYS)
    for key in data:
        if key not in known_keys:
            if key in Params.model_fields:
                hint = " (put model parameters under [parameters])"
            else:
                hint = _did_you_mean(key, known_keys)
            raise UsageError(f"{key}: unknown key{hint}; expected one of {', '.join(known_keys)}")
    scenario = data.get("scenario", "default")
    if not isinstance(scenario, str) or scenario not in SCENARIOS:
        raise UsageError(f"scenario: unknown {scenario!r}, choose one of {', '.join(SCENARIOS)}")
    n_steps = data.get("steps", make_params(scenario).steps)
    if steps is not None:
        n_steps = steps
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise UsageError(f"steps: must be a whole number >= 1 (got {n_steps!r})")
    if "seeds" not in data:
        raise UsageError("seeds: missing; give a list (seeds = [1, 2, 3]) or {start, count}")
    seed_list = _seeds(data["seeds"])
    if seeds is not None:
        if seeds < 1 or seeds > len(seed_list):
            raise UsageError(f"--seeds {seeds}: the spec has {len(seed_list)} seeds")
        seed_list = seed_list[:seeds]
    metrics = data.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise UsageError(f"metrics: a list of metric names (got {metrics!r})")
        if not metrics:
            raise UsageError("metrics: empty list (leave it out to keep every metric)")
        dup = sorted({m for m in metrics if metrics.count(m) > 1})
        if dup:
            raise UsageError(f"metrics: {dup[0]!r} is listed twice")
    raw = data.get("parameters", {})
    if not isinstance(raw, dict):
        raise UsageError("parameters: must be a table ([parameters])")
    method = data.get("design")
    if method is None:
        extra = [k for k in DESIGN_KEYS if k in data]
        if extra:
            raise UsageError(f'{extra[0]}: only for a design sweep (add design = "sobol", ...)')
    elif method not in METHODS:
        raise UsageError(f"design: unknown {method!r}, choose one of {', '.join(METHODS)}")
    parameters: dict[str, list[Any]] = {}
    bounds: list[Bound] = []
    for pname, value in raw.items():
        if pname in TOP_LEVEL_ONLY:
            raise UsageError(
                f"parameters.{pname}: set it with the top-level key "
                f"'{TOP_LEVEL_ONLY[pname]}', not under [parameters]"
            )
        if pname not in Params.model_fields:
            raise UsageError(
                f"parameters.{pname}: unknown parameter"
                f"{_did_you_mean(pname, list(Params.model_fields))} "
                "(see `llm-market params` for the list)"
            )
        if isinstance(value, dict) and ("low" in value or "high" in value):
            if method is None:
                raise UsageError(
                    f"parameters.{pname}: bounds {{low, high}} are for a design sweep "
                    '(add design = "sobol", "morris" or "lhs"); a grid takes '
                    "{start, stop, num}"
                )
            bounds.append(_bound(pname, value))
            continue
        parameters[pname] = _parameter_values(pname, value)
        if method is not None and len(parameters[pname]) > 1:
            raise UsageError(
                f"parameters.{pname}: a design sweep varies parameters through bounds "
                f"{{low, high}}; give one value to fix it (got {len(parameters[pname])} values)"
            )
    design = None if method is None else _design(method, bounds, data)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise UsageError("description: must be a string")
    return Sweep(
        name=name,
        scenario=scenario,
        steps=n_steps,
        seeds=seed_list,
        metrics=metrics,
        parameters=parameters,
        description=description,
        source=source,
        design=design,
    )


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


def _bound(name: str, spec: dict[str, Any]) -> Bound:
    """Read ``{low, high}`` (and ``log = true``) for a parameter of a design."""
    where = f"parameters.{name}"
    keys = set(spec)
    if not {"low", "high"} <= keys or not keys <= {"low", "high", "log"}:
        raise UsageError(
            f"{where}: bounds need low and high, and optionally log (got {', '.join(sorted(keys))})"
        )
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if not _is_number(low) or not _is_number(high):
        raise UsageError(f"{where}: low and high must be finite numbers (got {low!r}, {high!r})")
    if not low < high:
        raise UsageError(f"{where}: low must be below high (got {low!r}, {high!r})")
    if not isinstance(log, bool):
        raise UsageError(f"{where}: log must be true or false (got {log!r})")
    annotation = Params.model_fields[name].annotation
    if annotation not in (int, float):
        raise UsageError(f"{where}: a design varies numbers only; this parameter is not one")
    integer = annotation is int
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise UsageError(f"{where}: a whole-number parameter needs whole bounds")
    if log and low <= 0:
        raise UsageError(f"{where}: log = true needs low > 0 (got {low!r})")
    return Bound(name, float(low), float(high), log=log, integer=integer)


def _whole(key: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{key}: must be a whole number >= {least} (got {value!r})")
    return value


def _design(method: str, bounds: list[Bound], data: dict[str, Any]) -> Design:
    """Build the design of a design sweep from its top-level keys."""
    if not bounds:
        raise UsageError(
            "parameters: a design sweep needs at least one parameter with bounds, "
            "such as pivot_factor = {low = 0, high = 0.9}"
        )
    if "samples" not in data:
        raise UsageError("samples: missing; a design sweep needs a sample size (samples = 64)")
    samples = _whole("samples", data["samples"], 2)
    seed = _whole("design_seed", data.get("design_seed", 0), 0)
    for key, only in (("second_order", "sobol"), ("levels", "morris")):
        if key in data and method != only:
            raise UsageError(f'{key}: only for design = "{only}"')
    second_order = data.get("second_order", True)
    if not isinstance(second_order, bool):
        raise UsageError(f"second_order: must be true or false (got {second_order!r})")
    levels = _whole("levels", data.get("levels", 4), 2)
    if method == "sobol" and samples & (samples - 1):
        low = 1 << (samples.bit_length() - 1)
        raise UsageError(
            f"samples: a Sobol design needs a power of 2 (got {samples}; try {low} or {low * 2})"
        )
    if method == "lhs" and samples < len(bounds) + 2:
        raise UsageError(
            f"samples: a Latin hypercube of {len(bounds)} parameters needs at least "
            f"{len(bounds) + 2} rows for its regression (got {samples})"
        )
    design = Design(method, tuple(bounds), samples, seed, second_order, levels)
    if design.rows > MAX_DESIGN_ROWS:
        raise UsageError(f"samples: the design has {design.rows} rows, more than {MAX_DESIGN_ROWS}")
    return design


def load_spec(path: str | Path, seeds: int | None = None, steps: int | None = None) -> Sweep:
    """Read a sweep specification from a TOML file.

    Args:
        path: The spec file.
        seeds: Keep only the first ``seeds`` seeds.
        steps: Override the spec's run length.

    Returns:
        The sweep (combinations not yet validated: see :func:`plan`).

    Raises:
        UsageError: The file is missing, not TOML, or malformed; the message names the key.
    """
    path = Path(path)
    data = read_toml(path, str(path))
    return parse_spec(data, name=path.stem, source=str(path), seeds=seeds, steps=steps)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _check_bounds(sweep: Sweep) -> None:
    """Check each bound of a design at both ends, the other parameters fixed or default."""
    fixed = sweep.fixed()
    for bound in sweep.design.bounds if sweep.design else ():
        for end, value in (("low", bound.low), ("high", bound.high)):
            value = int(value) if bound.integer else value
            try:
                make_params(sweep.scenario, steps=sweep.steps, **{**fixed, bound.name: value})
            except ParameterError as err:
                raise UsageError(
                    f"{sweep.source}: parameters.{bound.name}: {end} = {value!r}: {err}"
                ) from None


def normalised_combinations(sweep: Sweep) -> list[dict[str, Any]]:
    """Validate every combination and return them as normalised by validation (JSON-able).

    Raises:
        UsageError: A combination is refused by ``make_params``; the message names it.
    """
    _check_bounds(sweep)
    combos = []
    all_combos = sweep.combinations()
    for combo in all_combos:
        try:
            params = make_params(sweep.scenario, steps=sweep.steps, **combo)
        except ParameterError as err:
            where = ""
            if len(all_combos) > 1 and sweep.varied:
                where = " (in the combination " + ", ".join(
                    f"{k}={combo[k]!r}" for k in sweep.varied
                )
                where += ")"
            raise UsageError(f"{sweep.source}: {err}{where}") from None
        combos.append({name: _jsonable(getattr(params, name)) for name in combo})
    return combos


def design_keys(sweep: Sweep, combos: list[dict[str, Any]] | None = None) -> list[list[str]]:
    """The run keys of each combination (row of a design), one per seed.

    Args:
        sweep: The sweep.
        combos: Its :func:`normalised_combinations`, if already computed.
    """
    combos = normalised_combinations(sweep) if combos is None else combos
    return [[run_key(sweep.scenario, c, seed, sweep.steps) for seed in sweep.seeds] for c in combos]


def plan(sweep: Sweep) -> list[Run]:
    """Validate every combination and return the runs: all combinations for seed 1, then 2...

    Seeds are the outer loop so that a sweep stopped half-way has covered the whole grid with its
    first seeds, rather than some combinations with every seed and others not at all. Rows of a
    design that are the same run (whole numbers rounded alike) are one run.

    Raises:
        UsageError: A combination is refused by ``make_params``, or two combinations of a grid are
            the same run (duplicate values); the message names the parameter.
    """
    combos = normalised_combinations(sweep)
    runs: list[Run] = []
    seen: dict[str, dict[str, Any]] = {}
    for seed in sweep.seeds:
        for params in combos:
            key = run_key(sweep.scenario, params, seed, sweep.steps)
            if key in seen:
                if sweep.design is not None:
                    continue
                raise UsageError(
                    f"{sweep.source}: parameters: two combinations are the same run after "
                    f"validation ({params}); remove the duplicate value"
                )
            seen[key] = params
            runs.append(Run(key, sweep.scenario, seed, sweep.steps, params))
    return runs


def flatten_results(results: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten ``summary()["results"]``: nested tables become ``name.key`` (``money_in.research``).

    Args:
        results: The results table of :meth:`~llm_market.model.MarketModel.summary`.
        prefix: Used in recursion.
    """
    out: dict[str, Any] = {}
    for k, v in results.items():
        if isinstance(v, dict):
            out.update(flatten_results(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def available_metrics(
    sweep: Sweep, runs: Sequence[Run] | None = None
) -> tuple[list[str], list[str]]:
    """What a run of this sweep reports, from one model of its first run after one step.

    Args:
        sweep: The sweep.
        runs: Its runs (from :func:`plan`); the first one is built.

    Returns:
        The metric names (tables flattened to ``table.entry``) and the names of the tables, whose
        entries can appear later in a run (``money_out.fine`` after the first fine).
    """
    from ..model import MarketModel

    params = runs[0].params if runs else {}
    model = MarketModel(scenario=sweep.scenario, seed=0, **params)
    model.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN means before the first scores
        results = model.summary()["results"]
    tables = [k for k, v in results.items() if isinstance(v, dict)]
    return list(flatten_results(results)), tables


def plural(n: int, word: str) -> str:
    """Return ``n`` and the word, plural unless ``n`` is 1: ``plural(4, "run") == "4 runs"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def check_metrics(sweep: Sweep, runs: Sequence[Run] | None = None) -> list[str]:
    """Check the spec's metric names against what the model reports; return the names to keep.

    Raises:
        UsageError: A metric name is unknown, or names a table instead of a number.
    """
    known, tables = available_metrics(sweep, runs)
    if sweep.metrics is None:
        return known
    for m in sweep.metrics:
        if m in tables:
            entries = [k for k in known if k.startswith(f"{m}.")] or [f"{m}.NAME"]
            raise UsageError(
                f"{sweep.source}: metrics: {m!r} is a table, name its entries "
                f"(such as {', '.join(entries)})"
            )
        if m not in known and m.partition(".")[0] not in tables:
            raise UsageError(
                f"{sweep.source}: metrics: unknown metric {m!r}{_did_you_mean(m, known)}; "
                f"choose from {', '.join(known)}"
            )
        if m in Params.model_fields or m in (*ID_COLUMNS, *TAIL_COLUMNS, DIGEST):
            raise UsageError(f"{sweep.source}: metrics: {m!r} clashes with a column name")
    return list(sweep.metrics)


# --------------------------------------------------------------------------- one run
