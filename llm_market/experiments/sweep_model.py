"""One run of a sweep as a model: :class:`SweepModel` for Mesa's ``batch_run``, :func:`simulate`.

A run travels to a worker as a plain dict (:func:`payload`), cheap to pickle. Mesa's spawned
worker processes find the class by its import path,
``llm_market.experiments.sweep_model.SweepModel``.

This module imports Mesa and the model; the command line imports it only when a sweep runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ParameterError
from ..model import MarketModel
from ..recording.columns import TRADES
from .runner import run_steps
from .specs import Run, SweepRunError, code_fingerprint, flatten_results
from .store import DIGEST, write_run_files

# Prefix of the model reporters that carry a run's results (``sweep:digest``).
RESULT_PREFIX = "sweep:"
# The result that says how many days the run stepped (``sweep:days``).
DAYS = "days"


def payload(
    run: Run, metrics: list[str], out: Path | None = None, logs: bool = False
) -> dict[str, Any]:
    """What a worker needs for one run: plain data, cheap to pickle.

    Args:
        run: The run (from :func:`~llm_market.experiments.specs.plan`).
        metrics: The metric names to keep.
        out: The sweep directory the worker writes the run's files into, or None to write
            nothing there (the caller writes what :func:`simulate` returns).
        logs: Also keep the run's model series, trades and summary.

    Returns:
        The dict :class:`SweepModel` is built from.
    """
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


class SweepModel(MarketModel):
    """A ``MarketModel`` for Mesa's ``batch_run``: one run of a sweep, described by a dict.

    It stops after exactly ``run["steps"]`` steps (``running = False``; Mesa 3.3.1's
    ``batch_run`` would otherwise do ``max_steps + 1``), collects once at construction and once
    per step like ``MarketModel``, and reports ``sweep:digest``, ``sweep:days``, ``sweep:wall_s``
    and ``sweep:<metric>`` as model reporters. Those are filled once, after the last step, and
    written into the row Mesa 3.3.1's ``batch_run`` reads (one before the last) and into the last
    row, which Mesa 3.5's reads; earlier rows hold ``None``. With ``run["out"]`` set, the finished
    run writes its part file (and logs) itself, so nothing finished is lost if the sweep dies.

    Args:
        run: ``key``, ``scenario``, ``seed``, ``steps``, ``params``, ``metrics``, ``out``,
            ``logs`` (see :func:`payload`).
        rng: What Mesa 3.5's ``batch_run`` passes (None unless it was given ``rng=``); the
            run's own ``seed`` fixes the run, and any other value is refused.

    Raises:
        ParameterError: ``rng`` is neither None nor the run's seed.

    Attributes:
        sweep_run: The run's dict.
        result: The digest, wall time and metrics, filled by :meth:`finish`.
        row: The run's results row, set by :meth:`finish`.
        log_frames: The ``model`` and ``trades`` frames and the ``summary`` when ``run["logs"]``
            is set, else None.
    """

    # A sweep keeps run-level results; the team series cost a few percent of every step. The
    # model series are kept for the per-run logs.
    record_teams = False

    def __init__(self, run: dict[str, Any], rng: int | None = None):
        if rng is not None and rng != run["seed"]:
            raise ParameterError(
                f"run {run['key']}: rng={rng}, but a sweep run is seeded by its own seed "
                f"{run['seed']}"
            )
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        # Set before the model is built: its data collector asks extra_reporters() for them.
        self.sweep_run = run
        self.target_steps = int(run["steps"])
        self.result: dict[str, Any] = {}
        self.row: dict[str, Any] | None = None
        self.log_frames: dict[str, Any] | None = None
        super().__init__(
            scenario=run["scenario"], seed=run["seed"], steps=run["steps"], **run["params"]
        )

    def extra_reporters(self) -> dict[str, Any]:
        """The result reporters, ``None`` until :meth:`finish` fills them."""
        return {
            RESULT_PREFIX + name: lambda m, name=name: m.result.get(name)
            for name in (DIGEST, DAYS, "wall_s", *self.sweep_run["metrics"])
        }

    def step(self) -> None:
        """Advance one day; after the last one, compute the results and stop.

        Raises:
            SweepRunError: The model raised; the message names the run and the failing step.
        """
        try:
            super().step()
        except Exception as err:
            r = self.sweep_run
            # The day that failed is the one after the last completed day.
            raise SweepRunError(
                f"run {r['key']} (scenario {r['scenario']}, {r['params']}, seed {r['seed']}) "
                f"failed at step {self.day + 1}: {type(err).__name__}: {err}"
            ) from err
        if self.day >= self.target_steps:
            self.finish()

    def finish(self) -> None:
        """Compute digest and metrics once, fill the result reporters, write the part."""
        summary = self.summary()
        results = flatten_results(summary["results"])
        r = self.sweep_run
        self.result = {m: results.get(m) for m in r["metrics"]}
        self.result[DIGEST] = summary["digest"]
        self.result[DAYS] = self.day
        self.result["wall_s"] = time.perf_counter() - self._wall0
        # One row per collect: row 0 is the construction, row d the end of day d. Mesa 3.3.1's
        # batch_run reads row day - 1, Mesa 3.5's the last row.
        vars_ = self.datacollector.model_vars
        for name, value in self.result.items():
            column = vars_[RESULT_PREFIX + name]
            column[-1] = value
            column[self.day - 1] = value
        self.running = False
        self.row = {
            "key": r["key"],
            "scenario": r["scenario"],
            "seed": int(r["seed"]),
            "steps": int(self.day),
            **r["params"],
            DIGEST: summary["digest"],
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
            summary["parameters"] = json.loads(json.dumps(self.params.model_dump(), default=list))
            summary["wall_s"] = self.result["wall_s"]
            self.log_frames = {
                "model": frame.rename_axis("step"),
                "trades": self.logs[TRADES].to_frame(),
                "summary": summary,
            }
        if r["out"] is not None:
            write_run_files(Path(r["out"]), self.row, self.log_frames)


def simulate(run: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run one sweep run to the end in this process (the Dask task).

    Args:
        run: As made by :func:`payload`; with ``out`` None nothing is written here.

    Returns:
        The results row, and the per-run logs (``model`` and ``trades`` frames, ``summary``) when
        ``run["logs"]`` is set, else None.

    Raises:
        SweepRunError: The model raised.
    """
    model = SweepModel(run)
    run_steps(model, model.target_steps)
    return model.row, model.log_frames
