"""Sweep speed: the same sweep on 1 and on 2 worker processes (Mesa batch_run).

Prints the wall time of each, the speedup of 2 workers over 1 (target: at least 1.7 on a 2-core
machine) and the overhead per run: worker time not spent inside a model (process start-up,
imports, pickling, writing results, idle workers at the end), that is
``(wall time x workers - sum of the runs' own times) / runs``. Both sweeps must give the same
digests. It also prints the share of a CPU the runs got (their CPU time over their wall time): well
below 100% means other programs compete for the cores and the speedup says little. Usage::

    python benchmarks/bench_sweep.py [--runs 16] [--steps 1200] [--workers 2] [--dask]

The default is 16 runs of the default scenario of 1,200 steps, about 3 s each on the project's
machine. ``--dask`` adds the same sweep on a Dask LocalCluster of ``--workers`` workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from llm_market.experiments.execution import run_sweep
from llm_market.experiments.specs import parse_spec


def timed_sweep(sweep, out: Path, workers: int, dask: str | None = None):
    t0 = time.perf_counter()
    run_sweep(sweep, out, workers=workers, dask=dask, progress=False, echo=lambda _: None)
    wall = time.perf_counter() - t0
    import pandas as pd

    df = pd.read_parquet(out / "results.parquet")
    in_model = float(df["wall_s"].sum())
    overhead = (wall * workers - in_model) / len(df)
    busy = float(df["cpu_s"].sum()) / in_model  # CPU time / wall time inside the models
    return wall, in_model, overhead, busy, dict(zip(df["key"], df["digest"], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="runs (seeds) in the sweep")
    parser.add_argument("--steps", type=int, default=1200, help="steps per run")
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel sweep")
    parser.add_argument("--dask", action="store_true", help="also time a Dask LocalCluster")
    args = parser.parse_args()
    sweep = parse_spec(
        {
            "scenario": "default",
            "steps": args.steps,
            "seeds": {"start": 1, "count": args.runs},
            "metrics": ["crowd_brier", "mean_efficiency", "final_budget_hhi"],
        },
        name="bench",
    )
    print(
        f"sweep: {args.runs} runs of scenario default, {args.steps} steps each; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        modes = [(1, None), (args.workers, None)] + ([(args.workers, "local")] if args.dask else [])
        for workers, dask in modes:
            name = f"{workers} worker{'s' if workers > 1 else ''}" + (" (Dask)" if dask else "")
            wall, in_model, overhead, busy, dig = timed_sweep(
                sweep, Path(tmp) / f"w{workers}{dask or ''}", workers, dask
            )
            rows.append((name, wall, dig))
            print(
                f"{name:<18} wall {wall:7.1f} s   in models {in_model:7.1f} s   "
                f"mean run {in_model / args.runs:5.2f} s   overhead per run {overhead:5.2f} s   "
                f"CPU share in runs {busy:4.0%}"
            )
            if busy < 0.9:
                print(
                    "  (runs got less than 90% of a CPU: other work is competing for the machine)"
                )
        base = rows[0][1]
        for name, wall, dig in rows[1:]:
            same = "same digests" if dig == rows[0][2] else "DIGESTS DIFFER"
            print(f"speedup of {name} over 1 worker: {base / wall:.2f}  ({same})")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
