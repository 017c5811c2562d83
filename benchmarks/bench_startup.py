"""Start-up time: ``llm-market --version`` and ``from llm_market import MarketModel``.

Each is timed in fresh subprocesses of this interpreter (so nothing is cached in memory; the
operating system's file cache is warm after the first run, which is discarded) and the median
printed, with the targets of the project (0.5 s and 1.5 s). For comparison it prints the median
of a bare interpreter and of ``import mesa`` alone, the floor of the model's import. Beside the
wall time it prints the CPU time (user + system) of the process: on a machine busy with other
work the wall time grows and the CPU time stays close to what an idle machine's wall time is.
Usage::

    python benchmarks/bench_startup.py [--repeat 7]

``python -X importtime -c "from llm_market import MarketModel"`` shows where the time goes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "python (bare interpreter)": ["-c", "pass"],
    "llm-market --version": ["-m", "llm_market.cli", "--version"],
    "llm-market --help": ["-m", "llm_market.cli", "--help"],
    "import mesa": ["-c", "import mesa"],
    "from llm_market import MarketModel": ["-c", "from llm_market import MarketModel"],
}
TARGETS = {"llm-market --version": 0.5, "from llm_market import MarketModel": 1.5}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_times(args: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU times of ``repeat`` fresh runs of ``python ARGS`` (after a warm-up run)."""
    walls, cpus = [], []
    for i in range(repeat + 1):
        c0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
        if i:
            walls.append(wall)
            cpus.append(cpu)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per case")
    args = parser.parse_args()
    print(f"median of {args.repeat} fresh processes ({sys.executable})")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for name, case in CASES.items():
        walls, cpus = run_times(case, args.repeat)
        target = f"  (target < {TARGETS[name]:.1f} s)" if name in TARGETS else ""
        print(
            f"{name:<36} wall {statistics.median(walls):6.3f} s "
            f"[min {min(walls):.3f}, max {max(walls):.3f}]  "
            f"cpu {statistics.median(cpus):6.3f} s{target}"
        )


if __name__ == "__main__":
    main()
