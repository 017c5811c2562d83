"""Steps per second of the model: the step against its own matching, and scaling with teams.

Three figures, printed and never asserted (run with ``make bench`` or
``python benchmarks/bench_model.py``; ``--only ratio|scaling|scenarios`` runs one):

* **Step / matching**: a default step against the bare matching of its own order flow. Each
  measured step records the order flow the mechanism is handed for every good (and the market
  stream's state before it); right after the step the same flows are replayed through a copy of
  the mechanism alone with a copy of that stream, so both contenders see the same orders and
  draw the same numbers, and they alternate step by step in one process. CPU time; the medians
  over the steps and their ratio are printed.
* **Scaling**: steps/s and peak resident memory at 20, 100, 1,000 and 10,000 teams with ten
  clients per team (the default scenario otherwise), each size in a fresh process so that its
  peak RSS is its own, timed after :data:`WARMUP_DAYS` days (the steady state), against the
  targets of issue 16 (:data:`TARGETS`), and the exponent ``b`` of a least-squares fit
  ``time per step ~ teams^b`` on log-log axes, so a run can be sized before it starts (the
  README's scaling table).
* **Scenarios**: the default scenario and ``large`` (1,000 teams, 10,000 clients on a graph).
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from llm_market import MarketModel

SIZES = (20, 100, 1000, 10_000)
CLIENTS_PER_TEAM = 10


def steps_per_second(scenario: str, steps: int, warmup: int, seed: int = 0) -> float:
    """Wall-clock steps per second of ``scenario`` after ``warmup`` steps."""
    model = MarketModel(scenario=scenario, seed=seed)
    for _ in range(warmup):
        model.step()
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return steps / (time.perf_counter() - start)


# ---------------------------------------------------------------- step against its matching


class FlowRecorder:
    """Wraps a mechanism's ``clear`` to keep each good's flow and the stream's state before it."""

    def __init__(self, mechanism):
        self.mechanism = mechanism
        self.inner = mechanism.clear
        self.calls: list[tuple[int, object, dict]] = []
        mechanism.clear = self

    def __call__(self, good, flow, rng):
        self.calls.append((good, flow, copy.deepcopy(rng.bit_generator.state)))
        return self.inner(good, flow, rng)


def replay_seconds(mechanism, calls) -> float:
    """CPU time of the mechanism alone on the recorded flows (same orders, same draws)."""
    rng = np.random.Generator(np.random.PCG64())
    start = time.process_time()
    for good, flow, state in calls:
        rng.bit_generator.state = state
        mechanism.clear(good, flow, rng)
    return time.process_time() - start


def step_to_matching(steps: int, warmup: int, seed: int = 0, **params) -> tuple[float, float]:
    """Median CPU seconds of a step and of the bare matching of that step's order flow."""
    model = MarketModel(seed=seed, **params)
    for _ in range(warmup):
        model.step()
    # A twin mechanism with the model's configuration: clear() keeps no state across days that
    # the replay could disturb (the books are emptied at every close).
    twin = copy.deepcopy(model.market.mechanism)
    recorder = FlowRecorder(model.market.mechanism)
    step_t, match_t = [], []
    for _ in range(steps):
        recorder.calls.clear()
        start = time.process_time()
        model.step()
        step_t.append(time.process_time() - start)
        match_t.append(replay_seconds(twin, recorder.calls))
    return statistics.median(step_t), statistics.median(match_t)


def print_ratio(steps: int) -> None:
    """The default step and a 1,000-team step against their own matching."""
    for label, params, n in (
        ("default (20 teams, 300 clients)", {}, steps),
        ("large (1,000 teams, 10,000 clients)", {"scenario": "large"}, max(steps // 20, 5)),
    ):
        step, match = step_to_matching(n, warmup=5, **params)
        print(
            f"{label}: step {step * 1e3:.2f} ms, bare matching {match * 1e3:.2f} ms, "
            f"step / matching {step / match:.2f}x (median of {n} interleaved steps, CPU time)"
        )


# ---------------------------------------------------------------- scaling with teams


WARMUP_DAYS = 40
"""Days run before timing: past the first month's review, once track records set the sellers'
qualities apart (the days before are cheaper: with equal qualities the goods are homogeneous),
and past the one-off costs (the month end's first import of scipy.stats, compiling the kernels
on a first run)."""

TARGETS = {1_000: 60.0, 10_000: 5.0}
"""Steps per second issue 16 asks of these sizes (ten clients per team) on the project's machine."""


def measure_size(n_teams: int, steps: int, warmup: int = WARMUP_DAYS) -> dict:
    """One size, run in this process: build time, CPU seconds per step and peak RSS."""
    start = time.process_time()
    model = MarketModel(n_teams=n_teams, n_clients=CLIENTS_PER_TEAM * n_teams)
    build = time.process_time() - start
    for _ in range(warmup):
        model.step()
    start = time.process_time()
    for _ in range(steps):
        model.step()
    per_step = (time.process_time() - start) / steps
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "teams": n_teams,
        "clients": CLIENTS_PER_TEAM * n_teams,
        "build_s": build,
        "step_s": per_step,
        "peak_mib": peak_kib / 1024,
        "steps": steps,
    }


def fitted_exponent(teams, seconds) -> float:
    """Slope of log(time per step) on log(teams), least squares."""
    slope, _ = np.polyfit(np.log(teams), np.log(seconds), 1)
    return float(slope)


def print_scaling(sizes, step_budget_s: float) -> None:
    """Each size in a fresh process, then the table and the fitted exponent."""
    rows = []
    for n in sizes:
        # About step_budget_s of CPU per size, from a rough cost per team and per step.
        guess = 2.5e-5 * n + 8e-3
        steps = int(min(200, max(2, step_budget_s / guess)))
        out = subprocess.run(
            [sys.executable, __file__, "--one-size", str(n), "--steps", str(steps)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.splitlines()[-1]))
    print("| teams | clients | steps/s | ms per step | peak RSS (MiB) | build (s) | steps timed |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['teams']:,} | {r['clients']:,} | {1 / r['step_s']:,.2f} | "
            f"{r['step_s'] * 1e3:,.1f} | {r['peak_mib']:,.0f} | {r['build_s']:.2f} | {r['steps']} |"
        )
    for r in rows:
        if r["teams"] in TARGETS:
            rate = 1 / r["step_s"]
            target = TARGETS[r["teams"]]
            print(
                f"{r['teams']:,} teams: {rate:,.1f} steps/s against the target {target:g} "
                f"({rate / target:.2f}x of it)"
            )
    teams = [r["teams"] for r in rows]
    secs = [r["step_s"] for r in rows]
    if len(set(teams)) < 2:
        # One size fixes no slope; say so rather than print a meaningless fit.
        print("fitted cost exponent: needs at least two distinct sizes")
        return
    print(f"fitted cost exponent, time per step ~ teams^b: b = {fitted_exponent(teams, secs):.2f}")
    if len(rows) > 2:
        tail = fitted_exponent(teams[-2:], secs[-2:])
        print(f"  between the two largest sizes: b = {tail:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("ratio", "scaling", "scenarios"), default=None)
    parser.add_argument("--default-steps", type=int, default=500)
    parser.add_argument("--large-steps", type=int, default=20)
    parser.add_argument("--ratio-steps", type=int, default=200)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="teams per scaling row"
    )
    parser.add_argument("--budget", type=float, default=10.0, help="CPU seconds per size, roughly")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_size:
        print(json.dumps(measure_size(args.one_size, args.steps)))
        return
    if args.only in (None, "ratio"):
        print_ratio(args.ratio_steps)
    if args.only in (None, "scaling"):
        print_scaling(args.sizes, args.budget)
    if args.only in (None, "scenarios"):
        default = steps_per_second("default", args.default_steps, warmup=30)
        print(f"default scenario (20 teams, 300 clients): {default:,.0f} steps/s")
        large = steps_per_second("large", args.large_steps, warmup=3)
        print(f"large scenario (1,000 teams, 10,000 clients): {large:,.2f} steps/s")


if __name__ == "__main__":
    main()
