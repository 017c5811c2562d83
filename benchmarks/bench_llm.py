"""What an LLM team costs per step: the policy's own overhead, its throughput, a live endpoint.

    python benchmarks/bench_llm.py                     # overhead: render + check, no endpoint
    python benchmarks/bench_llm.py --throughput [--latency 0.2] [--days 5] [--repeats 3]
    python benchmarks/bench_llm.py --base-url URL --model NAME [--response-format F] [--steps N]
    python benchmarks/bench_llm.py --replay [--teams 100] [--steps 20] [--repeats 5] [--against DIR]

``--throughput`` starts the test suite's OpenAI-protocol server (``tests/llm_server.py``) in
another process, answering every request after ``--latency`` seconds, and prints decisions per
second for 4, 16 and 64 LLM teams at the default concurrency (one call per team), with the cache
off and read-write, against the ideal ``teams / latency``. Configurations are interleaved and
each is repeated; the medians are printed (the machine may be noisy). The last form runs the
small scenario with every team on the endpoint and prints tokens and seconds per call and per
step (printed, never asserted).

``--replay`` times replayed decisions through the model: it records a reply cache once (the
default scenario with ``--teams`` teams, every team on the language model, replies from an
in-process stub that varies them by team), then runs the same model in replay mode, each run in
a fresh process, and prints replayed decisions (LLM team-days) per CPU second of the whole run,
per wall second, and per CPU second spent in the policy's ``decide_all`` (the engine alone:
render, key, lookup, check, action). The heuristic run of the same scenario is timed beside it,
as the ceiling the model's own step puts on the whole-run figure. With ``--against DIR`` (a
checkout of another version, for example ``git worktree add /tmp/old main``), runs of that
version are interleaved with this one's and both are printed with their ratio; the two must
replay the same cache to the same digest (cache keys and prompts byte-identical).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
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


class VaryingClient:
    """Valid replies that differ by team (so that the recorded run depends on them), no network."""

    def complete(self, request):
        import re

        team = int(re.search(r"You are research team (\d+)", request["messages"][1]["content"])[1])
        props = request["response_format"]["json_schema"]["schema"]["properties"]
        reply = {
            "reasoning": f"team {team} keeps to its plan",
            "research_spend": round(0.01 * (team % 7), 2),
            "forecasts": dict.fromkeys(props["forecasts"]["properties"], 0.3 + 0.05 * (team % 9)),
        }
        if "asks" in props:
            reply["asks"] = dict.fromkeys(props["asks"]["properties"], 2.0 + 0.1 * (team % 11))
        return Completion(json.dumps(reply), 900, 60, "stop")


def _replay_model(mode: str, path: str, teams: int, policy: str = "llm") -> MarketModel:
    llm = {}
    if policy == "llm":
        llm = dict(
            llm_share=1.0,
            llm_cache_mode=mode,
            llm_cache_path=path,
            llm_base_url="http://127.0.0.1:9/v1",  # never called: the stub or the cache answers
            llm_model="bench",
        )
    return MarketModel(scenario="default", seed=1, n_teams=teams, policy=policy, **llm)


def _replay_child(args: argparse.Namespace) -> None:
    """One timed run in this process; prints its figures as JSON."""
    model = _replay_model(args.mode, args.cache, args.teams, args.policy)
    if args.mode == "read-write":
        model.policy.llm._client = VaryingClient()
    counts = {"team_days": 0, "cpu": 0.0}
    if args.policy == "llm":
        llm = model.policy.llm
        inner = llm.decide_all

        def timed(observations):
            start = time.process_time()
            try:
                return inner(observations)
            finally:
                counts["cpu"] += time.process_time() - start
                counts["team_days"] += len(observations)

        llm.decide_all = timed
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.steps):
        model.step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    out = {"cpu": cpu, "wall": wall, "policy_cpu": counts["cpu"], "team_days": counts["team_days"]}
    out["digest"] = model.digest()
    if args.policy == "llm":
        s = model.policy.summary()
        out |= {"calls": s["calls"], "cached": s["cached_calls"], "failures": s["failures"]}
        model.policy.close()
    print(json.dumps(out))


def _child_run(tree: Path, args: argparse.Namespace, mode: str, cache: str, policy="llm") -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--replay-child", "--mode", mode]
    cmd += ["--cache", cache, "--teams", str(args.teams), "--steps", str(args.steps)]
    cmd += ["--policy", policy]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"run with {tree} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def replay(args: argparse.Namespace) -> None:
    here = Path(__file__).resolve().parent.parent
    trees = {"this": here}
    if args.against:
        trees["against"] = Path(args.against).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        cache = f"{tmp}/replay.sqlite"
        rec = _child_run(here, args, "read-write", cache)
        print(f"recorded {rec['calls']} calls ({rec['failures']} refused) of {args.teams} teams "
              f"over {args.steps} days of the default scenario")  # fmt: skip
        runs: dict[str, list[dict]] = {name: [] for name in [*trees, "heuristic"]}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                runs[name].append(_child_run(tree, args, "replay", cache))
            runs["heuristic"].append(_child_run(here, args, "off", cache, "heuristic"))
    digests = {name: {r["digest"] for r in rs} for name, rs in runs.items() if name != "heuristic"}
    same = len(set().union(*digests.values())) == 1 and rec["digest"] in digests["this"]
    print(f"replays reproduce the recorded digest: {same}")
    print(f"medians of {args.repeats} interleaved runs; decisions = LLM team-days "
          f"({runs['this'][0]['team_days']} a run)")  # fmt: skip
    print("version    decisions/s: run CPU   run wall   decide_all CPU   (run CPU trials)")
    medians = {}
    for name, rs in runs.items():
        days = args.teams * args.steps if name == "heuristic" else rs[0]["team_days"]
        cpu = statistics.median(days / r["cpu"] for r in rs)
        wall = statistics.median(days / r["wall"] for r in rs)
        pol = statistics.median(days / r["policy_cpu"] for r in rs) if name != "heuristic" else 0
        medians[name] = (cpu, pol)
        trials = ", ".join(f"{days / r['cpu']:.0f}" for r in rs)
        label = name
        pol_text = f"{pol:14.0f}" if pol else f"{'-':>14s}"
        print(f"{label:10s} {cpu:19.0f} {wall:10.0f} {pol_text}   ({trials})")
    print("heuristic: the same run without the language model (the ceiling of the run figures)")
    if "against" in medians:
        (c1, p1), (c0, p0) = medians["this"], medians["against"]
        print(f"this / against: run CPU {c1 / c0:.2f}x, decide_all CPU {p1 / p0:.2f}x")


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
    parser.add_argument("--replay", action="store_true")
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--against", help="another checkout to interleave with (--replay)")
    parser.add_argument("--replay-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="replay", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--policy", default="llm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay_child:
        _replay_child(args)
    elif args.replay:
        if args.steps == 3:
            args.steps = 20  # --steps defaults to the live form's 3
        replay(args)
    elif args.throughput:
        throughput(args)
    elif args.base_url:
        live(args)
    else:
        overhead()
