"""What an LLM team costs per step: the policy's own overhead, and a live endpoint's.

    python benchmarks/bench_llm.py                     # overhead: render + check, no endpoint
    python benchmarks/bench_llm.py --base-url URL --model NAME [--response-format F] [--steps N]

The second form runs the small scenario with every team on the endpoint and prints tokens and
seconds per call and per step (printed, never asserted).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from llm_market import MarketModel
from llm_market.policies.client import Completion
from llm_market.policies.heuristic import HeuristicPolicy
from llm_market.policies.llm import LLMConfig, LLMPolicy, build_policy, check_reply
from llm_market.policies.prompt import render


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


def overhead(days: int = 20) -> None:
    model = MarketModel(scenario="small", seed=1)
    for _ in range(10):
        model.step()
    obs = [t.observe() for t in model.teams]
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
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    if args.base_url:
        live(args)
    else:
        overhead()
