"""Speed of the browser app: one step plus the redraw of what the page shows, per tab.

The page is rendered without a browser (``solara.render``), exactly as the server renders it;
each sample is one click on Mesa's Step button, which steps the model once and redraws the
visible components (the headline numbers, the step counter and the open tab's chart, encoded as
PNG). What the browser then does with the PNG (a websocket message, an image decode) is not
included. The default scenario is run to ``--warm`` days first, so the charts hold a realistic
history. Times are printed, never asserted: the machine is shared, so the load average is
printed too, and the minimum shows what the code costs when the machine is quiet.

    .venv/bin/python benchmarks/bench_app.py [--steps 12] [--warm 126]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 150.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="timed steps per tab")
    parser.add_argument("--warm", type=int, default=126, help="days simulated before timing")
    args = parser.parse_args()

    # Mesa's own ComponentsView trips a solara hook check at import; it is not ours to fix.
    warnings.filterwarnings("ignore", message=".*found despite early return.*")
    import ipyvuetify as v
    import solara

    import app
    from llm_market import MarketModel
    from llm_market.experiments.runner import run_steps

    # Solara prints the app bar's children when a page is rendered without a browser.
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    tabs = rc.find(v.Tabs).widget
    names = [t.children[0] for t in rc.find(v.Tab).widgets]
    timed_tabs = [n for n in names if n not in ("Runs", "Play a team")]
    # The app honours the scenario's length (252 days): warm up no further than leaves room for
    # every tab's timed steps.
    length = MarketModel().params.steps
    warm = min(args.warm, length - len(timed_tabs) * (args.steps + 1) - 1)
    if warm < 0:
        parser.error(f"--steps {args.steps}: {len(timed_tabs)} tabs do not fit in {length} days")
    # Warm up through the page's own "days per Step" control: --warm days in round chunks.
    interval = rc.find(v.Slider).widgets[0]  # the run card's first slider: days per Step
    left = warm
    with quiet:
        for days in sorted(app.DAYS_PER_STEP, reverse=True):
            interval.v_model = app.DAYS_PER_STEP.index(days)
            while left >= days:
                step.click()
                left -= days
        interval.v_model = 0

    plain = MarketModel()
    run_steps(plain, warm)
    t: list[float] = []
    run_steps(plain, args.steps, on_step=_lap(t))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"model step alone (default scenario, day {warm}+): median {_ms(t)}")
    print(f"{'tab':<22} {'median':>8} {'p90':>8} {'min':>8} {'first':>8}   (ms per step + redraw)")
    results = {}
    for i, name in enumerate(names):
        if name not in timed_tabs:  # tables and forms, not charts redrawn per step
            continue
        tabs.v_model = i
        with quiet:
            first = _timed(step.click)  # a new chart: built and its background drawn
            times = [_timed(step.click) for _ in range(args.steps)]
        results[name] = times
        print(
            f"{name:<22} {_ms([statistics.median(times)]):>8} "
            f"{_ms([_quantile(times, 0.9)]):>8} {_ms([min(times)]):>8} {_ms([first]):>8}"
        )
    default = results[names[0]]
    verdict = "within" if statistics.median(default) * 1e3 <= TARGET_MS else "OVER"
    print(
        f"default view ({names[0]}): median {_ms(default)} per step + redraw, {verdict} the "
        f"{TARGET_MS:.0f} ms target; slowest tab median "
        f"{max(statistics.median(x) for x in results.values()) * 1e3:.0f} ms"
    )
    rc.close()


def _lap(times: list[float]):
    """A callback that appends the seconds since its previous call (or since now) to ``times``."""
    last = time.perf_counter()

    def lap() -> None:
        nonlocal last
        now = time.perf_counter()
        times.append(now - last)
        last = now

    return lap


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:.0f} ms"


if __name__ == "__main__":
    main()
