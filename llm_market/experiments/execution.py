"""Running a sweep: every missing run, locally with Mesa's ``batch_run`` or on Dask.

- Locally, Mesa's ``batch_run`` with ``number_processes=N`` runs
  :class:`~llm_market.experiments.sweep_model.SweepModel`, each run writing its own part file as
  it ends;
- with ``dask``, one Dask task per run (:func:`~llm_market.experiments.sweep_model.simulate`), on
  a ``LocalCluster`` or an existing scheduler; this process writes the part files as the results
  arrive.

Either way the parts are consolidated into ``results.parquet`` (see
:mod:`~llm_market.experiments.store`) and a sweep started again skips the runs already written.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UsageError
from .sensitivity import record_design
from .specs import Sweep, SweepRunError, check_metrics, code_fingerprint, plan, plural
from .store import DIGEST, code_versions, consolidate, done_keys, sweep_lock, write_run_files
from .sweep_model import DAYS, RESULT_PREFIX, SweepModel, payload, simulate

# The Dask path refreshes results.parquet this often while runs arrive (seconds).
CONSOLIDATE_EVERY = 30.0


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
    # its own part file in the worker as soon as it ends. No iterations= or rng=: each run is
    # seeded by its own seed; both Mesa versions run every parameter set once by default (Mesa
    # 3.5 then passes rng=None, which SweepModel accepts).
    with _single_threaded_children() if workers > 1 else contextlib.nullcontext():
        rows = batch_run(
            SweepModel,
            parameters={"run": payloads},
            number_processes=workers,
            data_collection_period=-1,
            max_steps=steps,
            display_progress=progress,
        )
    # Mesa's "Step" column differs by version (3.3.1: steps - 1; 3.5: float(steps)); the run's
    # own day count does not.
    for row in rows:
        days = row.get(RESULT_PREFIX + DAYS)
        if days != steps or row.get(RESULT_PREFIX + DIGEST) is None:
            raise SweepRunError(
                f"run {row['run']['key']}: batch_run reported {days} days without a "
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
        sweep: The sweep (from :func:`~llm_market.experiments.specs.load_spec` or
            :func:`~llm_market.experiments.specs.parse_spec`).
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
    with sweep_lock(out):
        record_design(sweep, out)  # a design sweep's sample matrix; nothing for a grid
        consolidate(out)  # parts left by an earlier, interrupted sweep
        done = done_keys(out)
        older = code_versions(out) - {code_fingerprint()}
        if older:
            echo(
                f"warning: {out} holds runs made by other versions of the model code "
                f"({', '.join(sorted(older))}; now {code_fingerprint()}); they are kept and "
                "skipped. Use a new --out to keep them apart."
            )
        todo = [r for r in runs if r.key not in done]
        report = SweepReport(total=len(runs), skipped=len(runs) - len(todo), out=out)
        n = min(workers, max(len(todo), 1))
        if dask is None:
            where = f"{n} process{'es' if n > 1 else ''} (Mesa batch_run)"
        elif dask == "local":
            where = f"a Dask LocalCluster of {n} workers"
        else:
            where = f"the Dask scheduler at {dask}"
        echo(
            f"{sweep.name}: {plural(len(runs), 'run')} ({sweep.shape()}); {report.skipped} already "
            f"in {out}; " + (f"running {len(todo)} on {where}" if todo else "nothing to run")
        )
        if not todo:
            return report
        payloads = [payload(r, metrics, out, logs) for r in todo]
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
