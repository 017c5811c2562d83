"""Step time of the traded index against the GBM index on the default scenario (issue 13, item 7).

The target: ``index_process="market"`` costs at most 2x the step time of the default (GBM) run.
The two are timed in interleaved blocks and the medians compared, because the machine is shared
and its speed drifts. Run with ``python benchmarks/bench_index_market.py``.
"""

import argparse
import statistics
import time

from llm_market import MarketModel


def block(model: MarketModel, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=5, help="interleaved blocks per process")
    args = parser.parse_args()
    models = {name: MarketModel(seed=0, index_process=name) for name in ("gbm", "market")}
    for model in models.values():
        block(model, 20)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.blocks):
        for name, model in models.items():
            times[name].append(block(model, args.steps))
    med = {name: statistics.median(t) * 1000 for name, t in times.items()}
    ratio = med["market"] / med["gbm"]
    print(f"default scenario, gbm index:    {med['gbm']:.2f} ms/step")
    print(f"default scenario, market index: {med['market']:.2f} ms/step")
    print(f"ratio: {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
