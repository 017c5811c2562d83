"""Parameter sweeps: every combination of parameters for every seed, locally or on Dask.

A sweep is a TOML specification (see ``batch/README.md`` and ``docs/sweeps.md``): a scenario, a
run length, seeds, the summary metrics to keep and, under ``[parameters]``, lists, ranges or fixed
values. :func:`load_spec` reads it and :func:`plan` checks every combination with
:func:`~llm_market.params.make_params` before anything runs, so a mistake costs nothing.

Execution:

- locally, Mesa's ``batch_run`` with ``number_processes=N`` runs :class:`SweepModel`, a
  ``MarketModel`` that stops after exactly ``steps`` steps and reports its digest and metrics as
  DataCollector model reporters filled once, at the end;
- with ``--dask``, one Dask task per run, on a ``LocalCluster`` or an existing scheduler.

Every finished run is written at once as ``DIR/parts/<key>.json`` (temporary file, then
``os.replace``), and the parts are consolidated into ``DIR/results.parquet`` atomically. A run's
key is a hash of (scenario, parameters, seed, steps), so a sweep started again skips the runs whose
key is already written, and a kill at any moment loses no finished run.

This module is imported when the command-line parser is built, so it imports Mesa, pandas, Dask
and matplotlib only inside functions; :class:`SweepModel` is created on first access.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import hashlib
import itertools
import json
import math
import os
import sys
import time
import tomllib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..cli import parse_set
from ..errors import ParameterError, UsageError
from ..params import SCENARIOS, Params, make_params

RESULTS_FILE = "results.parquet"
PARTS_DIR = "parts"
RUNS_DIR = "runs"
SPEC_KEYS = ("description", "scenario", "steps", "seeds", "metrics", "parameters")
# Set at the top level of a spec, never swept under [parameters].
TOP_LEVEL_ONLY = {"steps": "steps", "seed": "seeds", "seeds": "seeds", "scenario": "scenario"}
# Columns of results.parquet that are neither parameters nor metrics.
ID_COLUMNS = ("key", "scenario", "seed", "steps")
TAIL_COLUMNS = ("wall_s", "cpu_s", "package_version", "code")
# A range longer than this is almost certainly a typo (a step of 0.0001 instead of 0.1).
MAX_RANGE_VALUES = 100_000
# The Dask path refreshes results.parquet this often while runs arrive (seconds).
CONSOLIDATE_EVERY = 30.0
RESULT_PREFIX = "sweep:"


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
        parameters: Each parameter's values in order (a fixed value is a list of one).
        description: Free text from the spec.
        source: Where the spec came from (for messages).
    """

    name: str
    scenario: str
    steps: int
    seeds: list[int]
    metrics: list[str] | None
    parameters: dict[str, list[Any]] = field(default_factory=dict)
    description: str = ""
    source: str = "spec"

    @property
    def varied(self) -> list[str]:
        """Names of the parameters that take more than one value."""
        return [k for k, v in self.parameters.items() if len(v) > 1]

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of parameter values, in the spec's order."""
        names = list(self.parameters)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(self.parameters[n] for n in names))
        ]


@functools.cache
def code_fingerprint() -> str:
    """Return 12 hex digits of SHA-256 over this package's Python sources.

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
        if count < 1:
            raise UsageError(f"seeds.count: must be >= 1 (got {count})")
        value = list(range(start, start + count))
    if not isinstance(value, list):
        raise UsageError(f"seeds: a list of integers or {{start, count}} (got {value!r})")
    if not value:
        raise UsageError("seeds: empty list (give at least one seed)")
    for s in value:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise UsageError(f"seeds: every seed must be a whole number >= 0 (got {s!r})")
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
    for key in data:
        if key not in SPEC_KEYS:
            if key in Params.model_fields:
                hint = " (put model parameters under [parameters])"
            else:
                hint = _did_you_mean(key, SPEC_KEYS)
            raise UsageError(f"{key}: unknown key{hint}; expected one of {', '.join(SPEC_KEYS)}")
    scenario = data.get("scenario", "default")
    if scenario not in SCENARIOS:
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
    parameters: dict[str, list[Any]] = {}
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
        parameters[pname] = _parameter_values(pname, value)
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
    )


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
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not valid TOML ({err})") from None
    return parse_spec(data, name=path.stem, source=str(path), seeds=seeds, steps=steps)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def plan(sweep: Sweep) -> list[Run]:
    """Validate every combination and return the runs: all combinations for seed 1, then 2...

    Seeds are the outer loop so that a sweep stopped half-way has covered the whole grid with its
    first seeds, rather than some combinations with every seed and others not at all.

    Raises:
        UsageError: A combination is refused by ``make_params``, or two combinations are the same
            run (duplicate values); the message names the parameter.
    """
    combos = []
    for combo in sweep.combinations():
        try:
            params = make_params(sweep.scenario, steps=sweep.steps, **combo)
        except ParameterError as err:
            where = ""
            if len(sweep.combinations()) > 1 and sweep.varied:
                where = " (in the combination " + ", ".join(
                    f"{k}={combo[k]!r}" for k in sweep.varied
                )
                where += ")"
            raise UsageError(f"{sweep.source}: {err}{where}") from None
        combos.append({name: _jsonable(getattr(params, name)) for name in combo})
    runs: list[Run] = []
    seen: dict[str, dict[str, Any]] = {}
    for seed in sweep.seeds:
        for params in combos:
            key = run_key(sweep.scenario, params, seed, sweep.steps)
            if key in seen:
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


def _count(n: int, word: str) -> str:
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
        if m in Params.model_fields or m in (*ID_COLUMNS, *TAIL_COLUMNS, "digest"):
            raise UsageError(f"{sweep.source}: metrics: {m!r} clashes with a column name")
    return list(sweep.metrics)


# --------------------------------------------------------------------------- one run


def _payload(run: Run, metrics: list[str], out: Path | None, logs: bool) -> dict[str, Any]:
    """What a worker needs for one run: plain data, cheap to pickle."""
    return {
        "key": run.key,
        "scenario": run.scenario,
        "seed": run.seed,
        "steps": run.steps,
        "params": run.params,
        "metrics": list(metrics),
        "out": None if out is None else str(out),
        "logs": bool(logs),
    }


def _define_sweep_model() -> type:
    import mesa

    from ..model import MarketModel

    class SweepModel(MarketModel):
        """A ``MarketModel`` for Mesa's ``batch_run``: one run of a sweep, described by a dict.

        It stops after exactly ``run["steps"]`` steps (``running = False``; Mesa 3.3.1's
        ``batch_run`` would otherwise do ``max_steps + 1``), collects once at construction and
        once per step like ``MarketModel``, and reports ``sweep:digest``, ``sweep:wall_s`` and
        ``sweep:<metric>`` as model reporters. Those are filled once, after the last step, and
        written into the row ``batch_run`` reads (``model.steps - 1``, one before the last) and
        into the last row; earlier rows hold ``None``. With ``run["out"]`` set, the finished run
        writes its part file (and logs) itself, so nothing finished is lost if the sweep dies.

        Args:
            run: ``key``, ``scenario``, ``seed``, ``steps``, ``params``, ``metrics``, ``out``,
                ``logs`` (see :func:`_payload`).
        """

        def __init__(self, run: dict[str, Any]):
            self._t0 = time.perf_counter()
            self._cpu0 = time.process_time()
            self.sweep_run = run
            self.target_steps = int(run["steps"])
            self.result: dict[str, Any] = {}
            self.row: dict[str, Any] | None = None
            self.log_frames: dict[str, Any] | None = None
            super().__init__(
                scenario=run["scenario"], seed=run["seed"], steps=run["steps"], **run["params"]
            )

        def _build_datacollector(self) -> mesa.DataCollector:
            base = super()._build_datacollector()
            reporters = dict(base.model_reporters)
            for name in ("digest", "wall_s", *self.sweep_run["metrics"]):
                reporters[RESULT_PREFIX + name] = lambda m, name=name: m.result.get(name)
            # Team series are left out: a sweep keeps run-level results, and they cost a few
            # percent of every step. Model series are kept for the per-run logs.
            return mesa.DataCollector(model_reporters=reporters)

        def step(self) -> None:
            """Advance one day; after the last one, compute the results and stop."""
            try:
                super().step()
            except Exception as err:
                r = self.sweep_run
                raise SweepRunError(
                    f"run {r['key']} (scenario {r['scenario']}, {r['params']}, seed {r['seed']}) "
                    f"failed at step {self.steps}: {type(err).__name__}: {err}"
                ) from err
            if self.steps >= self.target_steps:
                self.finish()

        def finish(self) -> None:
            """Compute digest and metrics once, fill the result reporters, write the part."""
            summary = self.summary()
            results = flatten_results(summary["results"])
            r = self.sweep_run
            self.result = {m: results.get(m) for m in r["metrics"]}
            self.result["digest"] = summary["digest"]
            self.result["wall_s"] = time.perf_counter() - self._t0
            vars_ = self.datacollector.model_vars
            for name, value in self.result.items():
                column = vars_[RESULT_PREFIX + name]
                column[-1] = value
                column[self.steps - 1] = value
            self.running = False
            self.row = {
                "key": r["key"],
                "scenario": r["scenario"],
                "seed": int(r["seed"]),
                "steps": int(self.steps),
                **r["params"],
                "digest": summary["digest"],
                **{m: self.result[m] for m in r["metrics"]},
                "wall_s": self.result["wall_s"],
                # Far below wall_s means the machine was busy with other work.
                "cpu_s": time.process_time() - self._cpu0,
                "package_version": __version__,
                "code": code_fingerprint(),
            }
            if r["logs"]:
                frame = self.datacollector.get_model_vars_dataframe()
                frame = frame.drop(columns=[c for c in frame if c.startswith(RESULT_PREFIX)])
                summary["key"] = r["key"]
                summary["parameters"] = json.loads(
                    json.dumps(self.params.model_dump(), default=list)
                )
                summary["wall_s"] = self.result["wall_s"]
                self.log_frames = {
                    "model": frame.rename_axis("step"),
                    "trades": self.trade_log.to_frame(),
                    "summary": summary,
                }
            if r["out"] is not None:
                write_run_files(Path(r["out"]), self.row, self.log_frames)

    SweepModel.__module__ = __name__
    SweepModel.__qualname__ = "SweepModel"
    return SweepModel


_LAZY: dict[str, type] = {}


def sweep_model_class() -> type:
    """Return :class:`SweepModel`, defining it on first use (it needs Mesa and the model)."""
    if "SweepModel" not in _LAZY:
        _LAZY["SweepModel"] = _define_sweep_model()
    return _LAZY["SweepModel"]


def __getattr__(name: str) -> Any:
    """Create ``SweepModel`` on first access, so that importing this module stays light.

    Pickle finds the class as ``llm_market.experiments.sweeps.SweepModel`` through this hook, which
    is what ``batch_run``'s spawned worker processes need.
    """
    if name == "SweepModel":
        return sweep_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def simulate(run: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run one sweep run to the end in this process (the Dask task).

    Args:
        run: As made by :func:`_payload`; with ``out`` None nothing is written here.

    Returns:
        The results row, and the per-run logs (``model`` and ``trades`` frames, ``summary``) when
        ``run["logs"]`` is set, else None.
    """
    model = sweep_model_class()(run)
    while model.running:
        model.step()
    return model.row, model.log_frames


# --------------------------------------------------------------------------- files


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_run_files(out: Path, row: dict[str, Any], logs: dict[str, Any] | None = None) -> None:
    """Write a finished run: its logs under ``runs/<key>/`` first, then its part file.

    The part file is written last, so a run whose part exists has complete logs too.

    Args:
        out: The sweep directory.
        row: The run's results row.
        logs: ``model`` and ``trades`` frames and the ``summary`` dict, or None.
    """
    if logs is not None:
        run_dir = out / RUNS_DIR / row["key"]
        _atomic_write(run_dir / "model.parquet", logs["model"].to_parquet)
        _atomic_write(run_dir / "trades.parquet", lambda p: logs["trades"].to_parquet(p))
        text = json.dumps(logs["summary"], indent=2, allow_nan=False) + "\n"
        _atomic_write(run_dir / "summary.json", lambda p: p.write_text(text))
    text = json.dumps(row, allow_nan=False)
    _atomic_write(out / PARTS_DIR / f"{row['key']}.json", lambda p: p.write_text(text))


def _read_parts(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    parts = []
    for path in sorted((out / PARTS_DIR).glob("*.json")):
        try:
            parts.append((path, json.loads(path.read_text())))
        except (json.JSONDecodeError, UnicodeDecodeError):
            # Only a torn write could do this, and writes go through os.replace; skip it so the
            # run is simply done again.
            continue
    return parts


def _read_results_rows(out: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    path = out / RESULTS_FILE
    if not path.exists():
        return []
    return pq.read_table(path).to_pylist()


def _merge_rows(out: Path) -> tuple[list[dict[str, Any]], list[Path]]:
    rows: dict[str, dict[str, Any]] = {}
    for row in _read_results_rows(out):
        rows[row["key"]] = {k: v for k, v in row.items() if v is not None}
    parts = _read_parts(out)
    for _, row in parts:
        rows.setdefault(row["key"], row)
    return list(rows.values()), [p for p, _ in parts]


def _column_order(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    cols = list(seen)
    params = [c for c in cols if c in Params.model_fields]
    head = [c for c in ID_COLUMNS if c in seen]
    tail = [c for c in TAIL_COLUMNS if c in seen]
    metrics = [c for c in cols if c not in params and c not in head and c not in tail]
    if "digest" in metrics:
        metrics.remove("digest")
        metrics.insert(0, "digest")
    return head + params + metrics + tail


def _to_table(rows: list[dict[str, Any]]):
    import pyarrow as pa

    cols = _column_order(rows)
    arrays = {}
    for c in cols:
        values = [row.get(c) for row in rows]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed kinds in one column (two specs in one directory): keep them readable.
            arrays[c] = pa.array([None if v is None else json.dumps(v) for v in values])
    return pa.table(arrays)


def _sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cols = _column_order(rows)
    params = [c for c in cols if c in Params.model_fields]

    def sort_key(row):
        return tuple(json.dumps(row.get(c), sort_keys=True) for c in ("scenario", "steps"))

    # Sort numerically where values are numbers; everything else by its JSON text.
    def value_key(v):
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (0, float(v), "")
        return (1, 0.0, json.dumps(v, sort_keys=True))

    return sorted(
        rows,
        key=lambda r: (sort_key(r), tuple(value_key(r.get(c)) for c in params), r["seed"]),
    )


def consolidate(out: str | Path) -> int:
    """Merge the part files into ``results.parquet`` (atomically), then delete them.

    ``results.parquet`` is replaced in one ``os.replace``; parts are deleted only after, so a kill
    at any point leaves every finished run in the parts, in the results file, or in both.

    Args:
        out: The sweep directory.

    Returns:
        The number of runs in ``results.parquet``.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    rows, parts = _merge_rows(out)
    if not rows:
        return 0
    if parts or not (out / RESULTS_FILE).exists():
        table = _to_table(_sort_rows(rows))
        _atomic_write(out / RESULTS_FILE, lambda p: pq.write_table(table, p))
        for p in parts:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return len(rows)


def done_keys(out: str | Path) -> set[str]:
    """Keys of the runs already written in ``out`` (in ``results.parquet`` or as parts)."""
    out = Path(out)
    keys = {row["key"] for row in _read_results_rows(out)}
    # Only parts that can be read count: an unreadable one is run again rather than lost.
    keys.update(row["key"] for _, row in _read_parts(out))
    return keys


def load_results(out: str | Path):
    """Read a sweep's results as a DataFrame, including runs not yet consolidated.

    It only reads, so it is safe while a sweep is running.

    Args:
        out: The sweep directory.

    Returns:
        One row per run (``pandas.DataFrame``), empty when nothing has finished.
    """
    import pandas as pd

    rows, _ = _merge_rows(Path(out))
    if not rows:
        return pd.DataFrame()
    return _to_table(_sort_rows(rows)).to_pandas()


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold a lock on ``out`` so two sweeps never consolidate over each other's parts."""
    try:
        import fcntl
    except ImportError:  # not on Windows: one sweep per directory is then up to the user
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".sweep.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{out}: another sweep is writing here; wait for it or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- execution


@dataclass
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes:
        total: Runs in the sweep.
        skipped: Runs already written before this call.
        ran: Runs finished by this call.
        wall_s: Wall time of this call's runs (seconds).
        out: The sweep directory.
        interrupted: True when stopped by Ctrl-C.
        failed: Messages of runs that raised (Dask keeps going past them).
    """

    total: int
    skipped: int
    ran: int = 0
    wall_s: float = 0.0
    out: Path = Path(".")
    interrupted: bool = False
    failed: list[str] = field(default_factory=list)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """One BLAS/OpenMP thread in each worker process, unless the user chose otherwise.

    N processes with N threads each would fight over N cores; Dask's nanny does the same.
    Spawned children read the environment when they start, so setting it around the pool is
    enough.
    """
    added = [v for v in THREAD_VARIABLES if v not in os.environ]
    os.environ.update(dict.fromkeys(added, "1"))
    try:
        yield
    finally:
        for v in added:
            os.environ.pop(v, None)


def _run_batch(
    payloads: list[dict[str, Any]], steps: int, workers: int, progress: bool
) -> list[dict[str, Any]]:
    from mesa.batchrunner import batch_run

    # One batch_run call for the whole sweep: the process pool starts once and imap_unordered
    # keeps both workers busy to the last run. Chunking would restart the pool per chunk and
    # idle workers at each chunk's tail; it is not needed for safety because every run writes
    # its own part file in the worker as soon as it ends.
    with _single_threaded_children() if workers > 1 else contextlib.nullcontext():
        rows = batch_run(
            sweep_model_class(),
            parameters={"run": payloads},
            number_processes=workers,
            iterations=1,
            data_collection_period=-1,
            max_steps=steps,
            display_progress=progress,
        )
    for row in rows:
        if row["Step"] != steps - 1 or row.get(RESULT_PREFIX + "digest") is None:
            raise SweepRunError(
                f"run {row['run']['key']}: batch_run reported step {row['Step']} without a "
                f"digest; the run did not stop at exactly {steps} steps"
            )
    return rows


def _dask_client(address: str, workers: int):
    from dask.distributed import Client, LocalCluster

    if address == "local":
        import logging

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster), cluster
    try:
        return Client(address, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as err:
        raise UsageError(f"--dask {address}: cannot connect to a scheduler ({err})") from None


def _run_dask(
    payloads: list[dict[str, Any]],
    out: Path,
    address: str,
    workers: int,
    progress: bool,
    report: SweepReport,
) -> None:
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    client, cluster = _dask_client(address, workers)
    futures = []
    try:
        # Workers on other machines cannot see DIR: tasks return their row and logs and this
        # process writes them, one part file per run as it arrives.
        futures = {
            client.submit(
                simulate, {**p, "out": None}, key=f"llm-market-run-{p['key']}", pure=False
            ): p["key"]
            for p in payloads
        }
        last = time.monotonic()
        with tqdm(total=len(futures), unit="run", disable=not progress) as bar:
            for future in as_completed(futures):
                try:
                    row, logs = future.result()
                except SweepRunError as err:
                    report.failed.append(str(err))
                except Exception as err:  # a worker died, lost its data, ...: keep going
                    report.failed.append(f"run {futures[future]}: {type(err).__name__}: {err}")
                else:
                    if row["package_version"] != __version__:
                        warnings.warn(
                            f"a Dask worker runs llm-market {row['package_version']}, "
                            f"this process {__version__}",
                            stacklevel=2,
                        )
                    write_run_files(out, row, logs)
                    report.ran += 1
                bar.update()
                future.release()
                if time.monotonic() - last > CONSOLIDATE_EVERY:
                    consolidate(out)
                    last = time.monotonic()
    finally:
        for f in futures:
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    workers: int = 1,
    dask: str | None = None,
    logs: bool = False,
    progress: bool = True,
    echo=print,
) -> SweepReport:
    """Run every combination for every seed, skipping runs already in ``out``.

    Everything is validated first (every combination and the metric names); then, with ``dask``
    None, Mesa's ``batch_run`` runs the missing runs on ``workers`` processes (1: in this
    process), else one Dask task per run on ``LocalCluster(n_workers=workers)`` (``"local"``) or
    the scheduler at that address.

    Args:
        sweep: The sweep (from :func:`load_spec` or :func:`parse_spec`).
        out: The sweep directory (``results.parquet``, ``parts/``, ``runs/<key>/``).
        workers: Processes (local) or LocalCluster workers.
        dask: None, ``"local"`` or a scheduler address such as ``tcp://host:8786``.
        logs: Also write ``runs/<key>/model.parquet``, ``trades.parquet``, ``summary.json``.
        progress: Show a progress bar (runs done, time left).
        echo: Where the one-line messages go.

    Returns:
        A :class:`SweepReport`.

    Raises:
        UsageError: The spec, a combination, a metric name or the Dask address is wrong.
        SweepRunError: A run raised (local execution stops there; finished runs are kept).
    """
    if workers < 1:
        raise UsageError(f"--workers: must be >= 1 (got {workers})")
    runs = plan(sweep)
    metrics = check_metrics(sweep, runs)
    out = Path(out)
    with _exclusive(out):
        consolidate(out)  # parts left by an earlier, interrupted sweep
        done = done_keys(out)
        older = {row.get("code") for row in _merge_rows(out)[0]} - {code_fingerprint(), None}
        if older:
            echo(
                f"warning: {out} holds runs made by other versions of the model code "
                f"({', '.join(sorted(older))}; now {code_fingerprint()}); they are kept and "
                "skipped. Use a new --out to keep them apart."
            )
        todo = [r for r in runs if r.key not in done]
        report = SweepReport(total=len(runs), skipped=len(runs) - len(todo), out=out)
        n_combo = len(sweep.combinations())
        n = min(workers, max(len(todo), 1))
        if dask is None:
            where = f"{n} process{'es' if n > 1 else ''} (Mesa batch_run)"
        elif dask == "local":
            where = f"a Dask LocalCluster of {n} workers"
        else:
            where = f"the Dask scheduler at {dask}"
        echo(
            f"{sweep.name}: {_count(len(runs), 'run')} ({_count(n_combo, 'combination')} x "
            f"{_count(len(sweep.seeds), 'seed')}, {sweep.steps} steps); {report.skipped} already "
            f"in {out}; " + (f"running {len(todo)} on {where}" if todo else "nothing to run")
        )
        if not todo:
            return report
        payloads = [_payload(r, metrics, out, logs) for r in todo]
        t0 = time.perf_counter()
        try:
            if dask is None:
                rows = _run_batch(payloads, sweep.steps, n, progress)
                report.ran = len(rows)
            else:
                _run_dask(payloads, out, dask, n, progress, report)
        except KeyboardInterrupt:
            report.interrupted = True
            report.ran = len(done_keys(out) & {r.key for r in todo})
        finally:
            report.wall_s = time.perf_counter() - t0
            consolidate(out)
    return report


# --------------------------------------------------------------------------- the plot


def _hashable(v: Any) -> Any:
    if hasattr(v, "tolist"):
        v = v.tolist()
    return json.dumps(v) if isinstance(v, list | dict) else v


def seed_bands(df, x: str, y: str, hue: str | None = None, level: float = 0.95):
    """Mean of ``y`` over seeds per (hue, x), with a Student-t confidence interval.

    The interval is ``mean ± t(1 - (1 - level)/2, n - 1) · sd / √n`` over the seeds' values (NaN
    with fewer than two seeds).

    Args:
        df: Results (from :func:`load_results`).
        x: Parameter on the horizontal axis.
        y: Metric.
        hue: Parameter drawn as one line per value, or None.
        level: Confidence level.

    Returns:
        A ``pandas.DataFrame`` with columns ``hue``, ``x``, ``n``, ``mean``, ``lo``, ``hi``.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    data = pd.DataFrame(
        {
            "x": df[x].map(_hashable),
            "hue": df[hue].map(_hashable) if hue else "",
            "y": pd.to_numeric(df[y], errors="coerce"),
        }
    ).dropna(subset=["y"])
    rows = []
    for (h, xv), group in data.groupby(["hue", "x"], sort=True):
        v = group["y"].to_numpy(dtype=float)
        n, mean = len(v), float(np.mean(v))
        half = np.nan
        if n > 1:
            half = float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(v, ddof=1) / np.sqrt(n))
        rows.append({"hue": h, "x": xv, "n": n, "mean": mean, "lo": mean - half, "hi": mean + half})
    return pd.DataFrame(rows, columns=["hue", "x", "n", "mean", "lo", "hi"])


def plot_sweep(
    out: str | Path,
    x: str,
    y: str,
    hue: str | None = None,
    where: dict[str, Any] | None = None,
    path: str | Path | None = None,
    logx: bool = False,
):
    """Draw a metric against a parameter, mean over seeds with a 95% t-interval band.

    Args:
        out: The sweep directory.
        x: Parameter on the horizontal axis.
        y: Metric on the vertical axis.
        hue: Parameter drawn as one line per value.
        where: Keep only runs with these parameter values (``{"network": "none"}``).
        path: Where to write the PNG (default ``out/sweep_<y>_vs_<x>.png``).
        logx: Use a logarithmic x axis (numeric x only).

    Returns:
        The PNG's path and the table drawn (see :func:`seed_bands`).

    Raises:
        UsageError: No results, an unknown column, or another parameter varies as well (the
            band would mix it with the seeds).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(out)
    df = load_results(out)
    if df.empty:
        raise UsageError(f"{out}: no results yet (run `llm-market sweep SPEC --out {out}`)")
    params = [c for c in df.columns if c in Params.model_fields or c in ("scenario", "steps")]
    metrics = [
        c
        for c in df.columns
        if c not in params and c not in (*ID_COLUMNS, "digest", "package_version")
    ]
    for flag, name, pool in (("--x", x, params), ("--hue", hue, params), ("--y", y, metrics)):
        if name is not None and name not in pool:
            raise UsageError(f"{flag} {name}: not in {out}/{RESULTS_FILE}; choose from {pool}")
    for key, value in (where or {}).items():
        if key not in params:
            raise UsageError(f"--where {key}: not a parameter of this sweep; choose from {params}")
        keep = df[key].map(_hashable) == _hashable(value)
        if not keep.any():
            values = sorted({str(_hashable(v)) for v in df[key]})
            raise UsageError(f"--where {key}={value}: no run has it; values: {', '.join(values)}")
        df = df[keep]
    others = [
        p for p in params if p not in (x, hue) and df[p].map(_hashable).nunique(dropna=False) > 1
    ]
    if others:
        raise UsageError(
            f"{', '.join(others)} also vary in {out}: fix them with --where NAME=VALUE or draw "
            "one with --hue, so the band is over seeds only"
        )
    table = seed_bands(df, x, y, hue)
    numeric = bool(table["x"].map(lambda v: isinstance(v, int | float)).all())
    xs_all = sorted(table["x"].unique(), key=lambda v: (0, v) if numeric else (1, str(v)))
    pos = {v: (float(v) if numeric else i) for i, v in enumerate(xs_all)}
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for h, group in table.groupby("hue", sort=True):
        group = group.assign(p=group["x"].map(pos)).sort_values("p")
        label = str(h) if hue else f"mean over seeds (n = {group['n'].max()})"
        line = ax.plot(group["p"], group["mean"], marker="o", lw=1.6, label=label)[0]
        ax.fill_between(
            group["p"], group["lo"], group["hi"], color=line.get_color(), alpha=0.2, lw=0
        )
    if not numeric:
        ax.set_xticks([pos[v] for v in xs_all], [str(v) for v in xs_all])
    elif logx:
        if min(xs_all) <= 0:
            raise UsageError(f"--logx: {x} has values <= 0")
        ax.set_xscale("log")
        ax.set_xticks(xs_all, [f"{v:g}" for v in xs_all])
        ax.set_xticks([], minor=True)
    n_seeds = df["seed"].nunique()
    ax.set(
        xlabel=x,
        ylabel=y,
        title=f"{y} against {x}: mean over {n_seeds} seeds, 95% t-interval band",
    )
    if np.isfinite(table["mean"]).any():
        ax.legend(title=hue, fontsize=9)
    ax.grid(alpha=0.3)
    path = Path(path) if path else out / f"sweep_{y}_vs_{x}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path, table


# --------------------------------------------------------------------------- command line


def _configure_sweep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="sweep specification (TOML, see batch/)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes, or LocalCluster workers with --dask local (default: the CPUs)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS|local",
        default=None,
        help="run on Dask: 'local' starts a LocalCluster, else a scheduler address",
    )
    parser.add_argument("--out", default=None, help="sweep directory (default runs/sweeps/SPEC)")
    parser.add_argument(
        "--logs",
        action="store_true",
        help="also write runs/<key>/model.parquet, trades.parquet and summary.json",
    )
    parser.add_argument("--seeds", type=int, default=None, help="use only the first N seeds")
    parser.add_argument("--steps", type=int, default=None, help="override the run length")
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and count the runs, run nothing"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_sweep_command(args: argparse.Namespace) -> int:
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds: must be >= 1 (got {args.seeds})")
    sweep = load_spec(args.spec, seeds=args.seeds, steps=args.steps)
    out = Path(args.out or Path("runs") / "sweeps" / sweep.name)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if args.dry_run:
        runs = plan(sweep)
        check_metrics(sweep, runs)
        done = done_keys(out) & {r.key for r in runs}
        print(
            f"{sweep.name}: {_count(len(runs), 'run')} valid "
            f"({_count(len(sweep.combinations()), 'combination')} x "
            f"{_count(len(sweep.seeds), 'seed')}, {sweep.steps} steps); "
            f"{len(done)} already in {out}"
        )
        return 0

    def echo(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        report = run_sweep(
            sweep, out, workers, args.dask, args.logs, progress=not args.quiet, echo=echo
        )
    except SweepRunError as err:
        echo(f"error: {err}\nfinished runs are kept in {out}; fix the cause and run again")
        return 1
    done = len(done_keys(out) & {r.key for r in plan(sweep)})
    if report.interrupted:
        echo(
            f"interrupted: {done} of {report.total} runs are in {out}/{RESULTS_FILE}; "
            "the same command resumes"
        )
        return 130
    for msg in report.failed:
        echo(f"error: {msg}")
    if not report.ran and not report.failed:
        return 0
    per_run = report.wall_s / report.ran if report.ran else 0.0
    echo(
        f"{report.ran} runs in {report.wall_s:.1f} s ({per_run:.2f} s per run); "
        f"{done} of {report.total} in {out}/{RESULTS_FILE}"
    )
    return 1 if report.failed else 0


def _configure_plot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="sweep directory (holds results.parquet)")
    parser.add_argument("--x", required=True, metavar="PARAM", help="parameter on the x axis")
    parser.add_argument("--y", required=True, metavar="METRIC", help="metric on the y axis")
    parser.add_argument("--hue", default=None, metavar="PARAM", help="one line per value")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep only runs with this parameter value (repeatable)",
    )
    parser.add_argument("--logx", action="store_true", help="logarithmic x axis")
    parser.add_argument("--out", default=None, help="PNG path (default DIR/sweep_Y_vs_X.png)")


def _run_plot_command(args: argparse.Namespace) -> int:
    if not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir}: no such directory")
    path, table = plot_sweep(
        args.dir, args.x, args.y, args.hue, parse_set(args.where), args.out, args.logx
    )
    rows = [(str(r.hue), str(r.x), r.n, r.mean, r.lo, r.hi) for r in table.itertuples()]
    wh = max([len(args.hue or "")] + [len(r[0]) for r in rows])
    wx = max([len(args.x)] + [len(r[1]) for r in rows])
    head = f"{args.hue:>{wh}}  " if args.hue else ""
    print(f"{head}{args.x:>{wx}}  {'n':>3}  {'mean':>10}  95% interval")
    for h, xv, n, mean, lo, hi in rows:
        head = f"{h:>{wh}}  " if args.hue else ""
        print(f"{head}{xv:>{wx}}  {n:>3}  {mean:>10.4g}  [{lo:.4g}, {hi:.4g}]")
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "sweep": (
        "run a parameter sweep (every combination x every seed), locally or on Dask",
        _configure_sweep,
        _run_sweep_command,
    ),
    "sweep-plot": (
        "plot a sweep's metric against a parameter, mean over seeds with a 95% band",
        _configure_plot,
        _run_plot_command,
    ),
}
