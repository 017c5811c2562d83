"""Steps per second of the model: the default scenario and a large one.

Targets on the project's 2-core machine: default >= 100 steps/s, large (1,000 teams, 10,000
clients) >= 2 steps/s. Run with ``make bench`` or ``python benchmarks/bench_model.py``.
"""

import argparse
import time

from llm_market import MarketModel


def steps_per_second(scenario: str, steps: int, warmup: int, seed: int = 0) -> float:
    model = MarketModel(scenario=scenario, seed=seed)
    for _ in range(warmup):
        model.step()
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default-steps", type=int, default=500)
    parser.add_argument("--large-steps", type=int, default=20)
    args = parser.parse_args()
    default = steps_per_second("default", args.default_steps, warmup=30)
    print(f"default scenario (20 teams, 300 clients): {default:,.0f} steps/s (target >= 100)")
    large = steps_per_second("large", args.large_steps, warmup=3)
    print(f"large scenario (1,000 teams, 10,000 clients): {large:,.2f} steps/s (target >= 2)")


if __name__ == "__main__":
    main()
