"""What an LLM team costs per step: the policy's own overhead, its throughput, a live endpoint.

    python benchmarks/bench_llm.py                     # overhead: render + check, no endpoint
    python benchmarks/bench_llm.py --throughput [--latency 0.2] [--days 5] [--repeats 3]
    python benchmarks/bench_llm.py --base-url URL --model NAME [--response-format F] [--steps N]

``--throughput`` starts the test suite's OpenAI-protocol server (``tests/llm_server.py``) in
another process, answering every request after ``--latency`` seconds, and prints decisions per
second for 4, 16 and 64 LLM teams at the default concurrency (one call per team), with the cache
off and read-write, against the ideal ``teams / latency``. Configurations are interleaved and
each is repeated; the medians are printed (the machine may be noisy). The last form runs the
small scenario with every team on the endpoint and prints tokens and seconds per call and per
step (printed, never asserted).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from llm_market import MarketModel
from llm_market.policies.client import Completion
from llm_market.policies.heuristic import HeuristicPolicy
from llm_market.policies.llm import LLMConfig, LLMPolicy, build_policy, check_reply
from llm_market.policies.prompt import render

TESTS = Path(__file__).resolve().parent.parent / "tests"


class EchoClient:
    """Answers every request with a valid reply, without a network (pure policy overhead)."""

    def complete(self, request):
        schema = request["response_format"]["json_schema"]["schema"]["properties"]
        reply = {
            "research_spend": 0.0,
            "forecasts": dict.fromkeys(schema["forecasts"]["properties"], 0.5),
            "asks": dict.fromkeys(schema["asks"]["properties"], 5.0),
        }
        return Completion(json.dumps(reply), 900, 120, "stop")


def observations(n_teams: int, days: int = 10):
    model = MarketModel(scenario="small", seed=1, n_teams=n_teams)
    for _ in range(days):
        model.step()
    return [t.observe(model.view) for t in model.teams]


def overhead(days: int = 20) -> None:
    obs = observations(8)
    start = time.perf_counter()
    for _ in range(days):
        for o in obs:
            spec = render(o).spec
            check_reply('{"research_spend": 0, "forecasts": {}}', spec, 1.0)
    per = (time.perf_counter() - start) / (days * len(obs))
    print(f"render + check: {per * 1e3:.2f} ms per team-day")
    policy = LLMPolicy(LLMConfig(), HeuristicPolicy(np.random.default_rng(0)), EchoClient())
    start = time.perf_counter()
    for _ in range(days):
        policy.decide_all(obs)
    per = (time.perf_counter() - start) / (days * len(obs))
    print(f"decide_all with an instant endpoint: {per * 1e3:.2f} ms per team-day")
    policy.close()


def _serve(latency: float, conn) -> None:
    """The server process: answer every request with a valid reply after ``latency`` s."""
    sys.path.insert(0, str(TESTS))
    from llm_server import FakeChatServer, valid_reply

    def responder(body):
        time.sleep(latency)  # the model's thinking time
        return valid_reply(body)

    with FakeChatServer(responder) as srv:
        conn.send(srv.url)
        conn.recv()  # until told to stop


def _one_trial(url: str, obs, days: int, cache: str, first_day: int) -> float:
    """Decisions per second over ``days`` days of ``obs``'s teams (every day's prompts new)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = LLMConfig(
            base_url=url,
            model="bench",
            cache_mode=cache,
            cache_path=f"{tmp}/c.sqlite" if cache != "off" else None,
        )
        policy = LLMPolicy(config, HeuristicPolicy(np.random.default_rng(0)))
        days_obs = [
            [replace(o, market=replace(o.market, day=first_day + d)) for o in obs]
            for d in range(days + 1)
        ]
        policy.decide_all(days_obs[0])  # warm up: threads and connections
        start = time.perf_counter()
        for d in range(1, days + 1):
            policy.decide_all(days_obs[d])
        wall = time.perf_counter() - start
        assert policy.summary()["failures"] == 0, policy.summary()["failure_kinds"]
        policy.close()
    return len(obs) * days / wall


def throughput(args: argparse.Namespace) -> None:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.latency, child), daemon=True)
    server.start()
    url = parent.recv()
    sizes = (4, 16, 64)
    obs = {n: observations(n) for n in sizes}
    results: dict[tuple[int, str], list[float]] = {}
    day = 100
    for _ in range(args.repeats):
        for n in sizes:
            for cache in ("off", "read-write"):
                rate = _one_trial(url, obs[n], args.days, cache, day)
                day += args.days + 1
                results.setdefault((n, cache), []).append(rate)
    parent.send("stop")
    server.join(timeout=10)
    print(f"server latency {args.latency * 1e3:.0f} ms, concurrency = LLM teams; medians of "
          f"{args.repeats} interleaved trials of {args.days} days")  # fmt: skip
    print("teams  cache       decisions/s  ideal  share   (trials)")
    for (n, cache), rates in results.items():
        ideal = n / args.latency
        med = statistics.median(rates)
        trials = ", ".join(f"{r:.0f}" for r in rates)
        print(f"{n:5d}  {cache:10s}  {med:11.1f}  {ideal:5.0f}  {med / ideal:5.0%}   ({trials})")


def live(args: argparse.Namespace) -> None:
    config = LLMConfig(
        base_url=args.base_url,
        model=args.model,
        response_format=args.response_format,
        concurrency=args.concurrency,
        max_tokens=args.max_tokens,
    )
    model = MarketModel(scenario="small", seed=1)
    model.policy = build_policy(model.policy, model.n_teams, 1.0, config)
    start = time.perf_counter()
    for _ in range(args.steps):
        model.step()
    wall = time.perf_counter() - start
    s = model.policy.summary()
    calls = max(s["calls"], 1)
    print(
        f"{s['calls']} calls, {s['failures']} failures {s['failure_kinds']}, "
        f"{s['fallbacks']} fallbacks in {args.steps} steps of {model.n_teams} teams"
    )
    print(
        f"per call: {s['prompt_tokens'] / calls:.0f} prompt + "
        f"{s['completion_tokens'] / calls:.0f} completion tokens, "
        f"{s['call_seconds'] / calls:.2f} s; per step: {wall / args.steps:.1f} s wall"
    )
    model.policy.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="local")
    parser.add_argument("--response-format", default="json_schema")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.throughput:
        throughput(args)
    elif args.base_url:
        live(args)
    else:
        overhead()
