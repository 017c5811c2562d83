"""Memory per step of the default scenario: in memory (the app, tests, sweeps) and streamed.

Prints the bytes retained per day, measured with ``tracemalloc`` between day ``--warmup`` and
day ``--warmup + --window``, for

* ``memory``: a model run from Python, every log and series kept in memory (as before);
* ``streamed``: the same model with :class:`~llm_market.recording.stream.RunStream` spilling
  to a temporary folder, as ``llm-market run --out`` does. Its parts here are ``--part-rows``
  rows (the CLI's are 65,536): a smaller part only makes the buffer's saw-tooth, which is
  noise on the slope, smaller.

and the retained bytes by source file (top five) for each. The peak RSS of a whole long run is
measured with the command itself, for example::

    /usr/bin/time -v llm-market run --steps 100000 --out /tmp/x --quiet

(``Maximum resident set size``). Usage::

    PYTHONPATH=. python benchmarks/bench_memory.py [--warmup 300] [--window 1000]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import tracemalloc

from llm_market.model import MarketModel
from llm_market.recording.stream import RunStream


def per_step(streamed: bool, warmup: int, window: int, part_rows: int, seed: int) -> None:
    """Print the bytes retained per day over ``window`` days after ``warmup`` days."""
    with tempfile.TemporaryDirectory() as folder:
        model = MarketModel(seed=seed)
        stream = RunStream(model, folder, part_rows=part_rows, model_rows=256) if streamed else None

        def step() -> None:
            model.step()
            if stream is not None:
                stream.after_step()

        for _ in range(warmup):
            step()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for _ in range(window):
            step()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = after.compare_to(before, "filename")
        total = sum(s.size_diff for s in stats)
        label = "streamed" if streamed else "memory"
        print(
            f"{label:>9}: {total / window:8.0f} bytes/day retained over days {warmup}-"
            f"{warmup + window}"
        )
        for s in stats[:5]:
            name = s.traceback[0].filename.split("site-packages/")[-1].split("llm_market/")[-1]
            print(f"{'':>11}{s.size_diff / window:8.0f}  {name}")


def main() -> None:
    """Parse the arguments and print both figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--part-rows", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for streamed in (False, True):
        per_step(streamed, args.warmup, args.window, args.part_rows, args.seed)


if __name__ == "__main__":
    main()
