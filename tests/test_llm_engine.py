"""The LLM engine: throughput, loud failures, and a client that trusts no server.

Everything talks to the in-process server of ``tests/llm_server.py`` over loopback HTTP.
"""

import hashlib
import json
import math
import sqlite3
import threading
import time

import numpy as np
import pytest
from llm_server import (
    FakeChatServer,
    Reply,
    attempt_of,
    schema_of,
    team_of,
    teams_of,
    valid_reply,
    wired_model,
)

import llm_market.policies.llm as llm_module
from llm_market import MarketModel
from llm_market.errors import LLMUnavailable, UsageError
from llm_market.experiments.runner import run_steps, stopping_errors
from llm_market.policies.cache import CacheError, ReplyCache, canonical_json, request_key
from llm_market.policies.client import HTTPChatClient, api_key_for
from llm_market.policies.heuristic import HeuristicPolicy
from llm_market.policies.llm import (
    REPROMPT_REPLY_CHARS,
    LLMConfig,
    LLMPolicy,
    ReplayMiss,
)

DEAD_URL = "http://127.0.0.1:9/v1"
WAIT = 20  # seconds; only reached when the engine does not do what the test says (a failure)


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in (
        "LLM_MARKET_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "LLM_MARKET_SEND_OPENAI_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def observations():
    model = MarketModel(scenario="small", seed=1)
    for _ in range(6):
        model.step()
    return [t.observe(model.view) for t in model.teams]


def make_policy(url, client=None, **kw):
    kw.setdefault("model", "fake-model")
    kw.setdefault("http_retries", 0)
    config = LLMConfig(base_url=url, **kw)
    return LLMPolicy(config, HeuristicPolicy(np.random.default_rng(7)), client=client)


def batch_reply(body, p=lambda team: 0.5, bad=()):
    """A valid batched reply (``{"teams": {...}}``), with the teams in ``bad`` out of range."""
    props = schema_of(body)["properties"]["teams"]["properties"]
    out = {}
    for key, schema in props.items():
        team = int(key[1:])
        one = {"response_format": {"json_schema": {"schema": schema}}}
        out[key] = json.loads(valid_reply(one, p=1.5 if team in bad else p(team)))
    return json.dumps({"teams": out})


# ---------------------------------------------------------------- throughput and determinism


def test_a_refused_team_reprompts_without_waiting_for_the_others(observations):
    obs = observations[:4]
    slow, others = obs[0].team, {o.team for o in obs[1:]}
    retried = threading.Event()
    waited = []

    def responder(body):
        team = team_of(body)
        if team == slow:
            if attempt_of(body) == 1:
                return "not json"
            retried.set()
            return valid_reply(body)
        # The others are answered only once the refused team's re-prompt has arrived: with
        # one round of calls after another, that re-prompt would wait for them (a deadlock).
        waited.append(retried.wait(WAIT))
        return valid_reply(body, p=0.2)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url)
        actions = pol.decide_all(obs)
    assert waited == [True] * 3
    # The refused team's re-prompt arrived before any other team was answered.
    second = max(i for i, b in enumerate(srv.requests) if team_of(b) == slow)
    answered = [srv.sent_at[i] for i, b in enumerate(srv.requests) if team_of(b) in others]
    assert len(answered) == 3 and srv.received_at[second] <= min(answered)
    assert pol.stats[slow].failure_kinds == {"not_json": 1}
    for action in actions[1:]:
        np.testing.assert_allclose(action.forecasts, 0.2)


def test_default_concurrency_is_one_call_per_llm_team(observations):
    n = len(observations)
    everyone = threading.Barrier(n, timeout=WAIT)

    def responder(body):
        everyone.wait()  # passes only if all n calls are in flight at once
        return valid_reply(body)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url)
        assert pol.config.concurrency is None
        pol.decide_all(observations)
        pol.close()
    assert len(srv.requests) == n and pol.summary()["fallbacks"] == 0
    assert LLMConfig().workers(200) == 64 and LLMConfig().workers(3) == 3
    assert LLMConfig(concurrency=2).workers(200) == 2
    assert LLMConfig(max_concurrency=8).workers(200) == 8


def test_retry_message_uses_the_configured_template(observations, monkeypatch):
    seen = []
    real = llm_module.retry_message

    def spy(errors, version="none"):
        seen.append(version)
        return real(errors, version)

    monkeypatch.setattr(llm_module, "retry_message", spy)
    with FakeChatServer(lambda b: "nope" if attempt_of(b) == 1 else valid_reply(b)) as srv:
        make_policy(srv.url, template="v1").decide_all(observations[:1])
    assert seen == ["v1"]


# ---------------------------------------------------------------- the cache


def test_cache_is_wal_writes_once_per_day_and_replays(observations, tmp_path):
    path = tmp_path / "c.sqlite"
    commits = []

    with FakeChatServer(lambda b: valid_reply(b, p=0.3)) as srv:
        pol = make_policy(srv.url, cache_mode="read-write", cache_path=str(path))
        cache = pol.cache
        real_flush = cache.flush

        def counting_flush():
            commits.append(len(cache._pending))
            real_flush()

        cache.flush = counting_flush
        first = pol.decide_all(observations)
        outside = sqlite3.connect(path)
        assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert outside.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == len(observations)
        pol.close()
    # Fewer than FLUSH_ROWS replies: the day is one transaction.
    assert commits[0] == len(observations) and not any(commits[1:])
    meta = dict(outside.execute("SELECT name, value FROM meta").fetchall())
    assert meta == {"key_version": "2"}
    replay = make_policy(srv.url, cache_mode="replay", cache_path=str(path))
    again = replay.decide_all(observations)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.forecasts, b.forecasts)


def test_queued_replies_are_written_on_flush_and_close(tmp_path):
    path = tmp_path / "q.sqlite"
    cache = ReplyCache(path, "read-write")
    cache.put("k1", {"model": "m", "messages": []}, {"content": "x"})
    outside = sqlite3.connect(path)
    assert outside.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 0
    assert cache.get("k1") == {"content": "x"}  # lookups see the queue
    cache.flush()
    assert outside.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 1
    cache.put("k2", {"model": "m", "messages": []}, {"content": "y"})
    cache.close()
    cache.close()  # twice is harmless
    assert outside.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 2


def test_the_endpoint_is_part_of_the_key_and_old_caches_keep_theirs(observations, tmp_path):
    req = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}
    assert request_key(req, "v1", "http://a/v1") != request_key(req, "v1", "http://b/v1")
    assert request_key(req, "v1", "http://a/v1") == request_key(req, "v1", "http://a/v1/")
    for endpoint in (None, "http://a/v1"):  # the key is the hash of this canonical JSON
        payload = {"request": req, "template": "v1"}
        if endpoint is not None:
            payload["endpoint"] = endpoint
        text = canonical_json(payload).encode()
        assert request_key(req, "v1", endpoint) == hashlib.sha256(text).hexdigest()
    renamed = {**{k: v for k, v in req.items() if k != "max_tokens"}, "max_completion_tokens": 5}
    assert request_key(renamed, "v1") == request_key(req, "v1")  # the field's name is not key
    path = str(tmp_path / "c.sqlite")
    with FakeChatServer(lambda b: valid_reply(b)) as a, FakeChatServer(valid_reply) as b:
        make_policy(a.url, cache_mode="read-write", cache_path=path).decide_all(observations[:2])
        pol = make_policy(b.url, cache_mode="read-write", cache_path=path)
        pol.decide_all(observations[:2])
        pol.close()
        assert len(a.requests) == len(b.requests) == 2  # another endpoint: not the same replies
    # A cache made before key versions (no meta table) keeps endpoint-free keys.
    legacy = tmp_path / "legacy.sqlite"
    db = sqlite3.connect(legacy)
    db.execute("CREATE TABLE replies (key TEXT PRIMARY KEY, request TEXT NOT NULL, "
               "response TEXT NOT NULL, created TEXT NOT NULL)")  # fmt: skip
    db.commit()
    db.close()
    assert ReplyCache(legacy, "replay").key_version == 1
    assert ReplyCache(legacy, "read-write").key_version == 1
    with pytest.raises(ReplayMiss, match="endpoint"):
        make_policy(DEAD_URL, cache_mode="replay", cache_path=str(legacy)).decide_all(
            observations[:1]
        )


def test_a_locked_cache_is_a_clean_error(tmp_path):
    path = tmp_path / "locked.sqlite"
    ReplyCache(path, "read-write").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
    cache = ReplyCache(path, "read-write", busy_timeout=0.05)
    cache.put("k", {"model": "m", "messages": []}, {"content": "x"})
    with pytest.raises(CacheError, match=r"locked.sqlite: locked by another process"):
        cache.flush()
    holder.execute("ROLLBACK")
    cache.close()  # the queued reply is still written once the lock is gone
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 1
    assert issubclass(CacheError, UsageError) and CacheError in stopping_errors()


# ---------------------------------------------------------------- loud failures


def test_failure_budget_stops_after_that_many_failed_calls(observations):
    with FakeChatServer(lambda b: Reply("down", status=503)) as srv:
        pol = make_policy(srv.url, failure_budget=3, concurrency=1)
        with pytest.raises(LLMUnavailable, match=rf"{srv.url} failed 3 calls in a row") as err:
            pol.decide_all(observations)
    assert len(srv.requests) == 3  # the rest of the day's calls are never sent
    assert err.value.endpoint == srv.url and "503" in err.value.error
    assert LLMUnavailable in stopping_errors()


def test_a_success_resets_the_failure_count(observations):
    def responder(body):
        return Reply("down", status=503) if team_of(body) % 2 else valid_reply(body)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, failure_budget=2, concurrency=1)
        for _ in range(3):
            pol.decide_all(observations)  # never two failures in a row
    assert pol.summary()["failure_kinds"] == {"transport": 3 * len(observations) // 2}


def test_a_run_against_an_unreachable_endpoint_keeps_its_days_and_exits_1():
    cfg = LLMConfig(base_url=DEAD_URL, model="m", failure_budget=10, http_retries=0)
    model = wired_model(cfg, 0.5, seed=2)  # 4 LLM teams: 10 failures on the third day
    outcome = run_steps(model, 6)
    model.policy.close()
    assert outcome.days == 2 and outcome.exit_code == 1
    assert DEAD_URL in outcome.stopped_by and "10 calls in a row" in outcome.stopped_by


def test_cli_exits_1_naming_the_endpoint(tmp_path, capsys):
    from llm_market.cli import main

    out = tmp_path / "run"
    argv = ["run", "--scenario", "small", "--steps", "6", "--quiet", "--out", str(out),
            "--policy", "llm", "--llm-base-url", DEAD_URL,
            "--set", "llm_http_retries=0"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert DEAD_URL in err and "in a row" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["llm"]["failure_kinds"] == {"transport": 16}  # two days of 8 teams kept


def test_an_unaffordable_team_decides_without_a_call(observations):
    poor = min(observations, key=lambda o: o.budget)
    with FakeChatServer(lambda b: valid_reply(b, spend=0.0)) as srv:
        # A call costs more than any budget: nobody is asked, nothing is charged.
        pol = make_policy(srv.url, prompt_price_per_1k=1e6)
        actions = pol.decide_all([poor])
    assert srv.requests == []
    st = pol.stats[poor.team]
    assert (st.unaffordable, st.fallbacks, st.calls, st.failures, st.cost) == (1, 1, 0, 0, 0.0)
    assert pol.step_cost(poor.team) == 0.0
    expected = HeuristicPolicy(np.random.default_rng(7)).decide_all([poor])[0]
    np.testing.assert_array_equal(actions[0].forecasts, expected.forecasts)


def test_spending_nothing_passes_when_the_call_cost_more_than_the_budget(observations):
    obs = max(observations, key=lambda o: o.budget)
    with FakeChatServer(lambda b: Reply(valid_reply(b, spend=0.0), 1000, 10)) as srv:
        # Expected ~1 per call (the estimate), charged far more: still a valid reply.
        pol = make_policy(srv.url, prompt_price_per_1k=obs.budget, max_retries=0)
        pol.decide_all([obs])
    st = pol.stats[obs.team]
    if st.unaffordable == 0:
        assert st.failures == 0 and st.fallbacks == 0 and st.cost > obs.budget * 0.9


def test_max_completion_tokens_falls_back_to_max_tokens_once(observations):
    def responder(body):
        if "max_completion_tokens" in body:
            return Reply("Unsupported parameter: 'max_completion_tokens'", status=400)
        return valid_reply(body)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, concurrency=1)
        pol.decide_all(observations[:4])
        pol.decide_all(observations[:4])
    assert len(srv.requests) == 1 + 8  # one refused request, then max_tokens for the run
    assert all("max_tokens" in b and "max_completion_tokens" not in b for b in srv.requests[1:])
    assert pol.summary()["failures"] == 0
    with FakeChatServer(valid_reply) as srv:
        make_policy(srv.url, token_param="max_tokens").decide_all(observations[:1])
    assert srv.requests[0]["max_tokens"] == 512 and "max_completion_tokens" not in srv.requests[0]


def test_server_model_and_fingerprint_are_in_the_summary(observations):
    with FakeChatServer(lambda b: Reply(valid_reply(b), fingerprint="fp_123")) as srv:
        pol = make_policy(srv.url)
        pol.decide_all(observations[:2])
    assert pol.summary()["server"] == {"model": "fake-model", "system_fingerprint": "fp_123"}
    assert pol.summary()["requests"] == 2


# ---------------------------------------------------------------- a client that trusts no server


@pytest.mark.parametrize(
    "usage",
    [(-5, 10), (10**30, 10), (100, 10**30), (100, -1), ("100", 10), (1.5, 10), (100, 100_000)],
)
def test_usage_that_cannot_be_true_is_estimated(observations, usage):
    pt, ct = usage
    with FakeChatServer(lambda b: Reply(valid_reply(b), pt, ct)) as srv:
        pol = make_policy(srv.url, prompt_price_per_1k=0.01, completion_price_per_1k=0.01)
        pol.decide_all(observations[:1])
    st = pol.stats[observations[0].team]
    assert st.usage_invalid == 1 and st.failures == 0
    assert 0 < st.prompt_tokens < 10_000 and 0 <= st.completion_tokens <= 512
    assert 0 < st.cost < 1 and math.isfinite(st.cost)


def test_a_too_long_reply_is_a_failure_and_never_sent_back_whole(observations, tmp_path):
    path = tmp_path / "c.sqlite"
    huge = "x" * 50_000

    def responder(body):
        return huge if attempt_of(body) == 1 else valid_reply(body)

    with FakeChatServer(responder) as srv:
        pol = make_policy(
            srv.url, max_reply_bytes=4096, cache_mode="read-write", cache_path=str(path)
        )
        pol.decide_all(observations[:1])
        pol.close()
    assert pol.stats[observations[0].team].failure_kinds == {"too_long": 1}
    retry = srv.requests[1]["messages"]
    assert len(retry[2]["content"]) <= min(4096, REPROMPT_REPLY_CHARS)
    assert "longer than 4096 bytes" in retry[3]["content"]
    stored = [
        json.loads(r) for (r,) in sqlite3.connect(path).execute("SELECT response FROM replies")
    ]
    assert max(len(s["content"] or "") for s in stored) <= 4096
    assert any(s["too_long"] for s in stored)


def test_a_huge_body_is_not_read_and_counts_as_too_long(observations):
    body = json.dumps({"choices": [{"message": {"content": "y" * 300_000}}]}).encode()
    with FakeChatServer(lambda b: Reply(None, raw=body)) as srv:
        pol = make_policy(srv.url, max_reply_bytes=2048)
        pol.decide_all(observations[:1])
    st = pol.stats[observations[0].team]
    assert st.failure_kinds == {"too_long": 1} and st.fallbacks == 1
    assert len(srv.requests) == 1  # a body the client gave up reading is not re-prompted


@pytest.mark.parametrize("raw", [b"", b"<html>busy</html>", b"[]", b'{"choices": []}'])
def test_an_empty_or_malformed_body_is_a_transport_failure(observations, raw):
    with FakeChatServer(lambda b: Reply(None, raw=raw)) as srv:
        pol = make_policy(srv.url)
        actions = pol.decide_all(observations[:2])
    assert pol.summary()["failure_kinds"] == {"transport": 2} and len(actions) == 2


def test_a_dribbling_server_does_not_beat_the_deadline(observations):
    with FakeChatServer(lambda b: Reply(valid_reply(b), dribble=0.05)) as srv:
        pol = make_policy(srv.url, timeout=1.0, http_retries=2)
        start = time.monotonic()
        pol.decide_all(observations[:1])
        took = time.monotonic() - start
    # The body (~300 bytes) would take ~15 s; every single byte comes well inside the timeout.
    assert took < 5 and len(srv.requests) == 1
    st = pol.stats[observations[0].team]
    assert st.failure_kinds == {"transport": 1}


def test_client_deadline_covers_its_retries():
    with FakeChatServer(lambda b: Reply("down", status=503)) as srv:
        client = HTTPChatClient(srv.url, timeout=1.0, http_retries=10)
        start = time.monotonic()
        with pytest.raises(Exception, match="503"):
            client.complete({"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert time.monotonic() - start < 3
    assert 1 <= len(srv.requests) <= 3  # backoff 0.5 s, 1 s, ... stops at the deadline


def test_api_key_rules(observations, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert api_key_for("https://api.openai.com/v1") == "sk-openai"
    assert api_key_for("http://127.0.0.1:8000/v1") is None  # not OpenAI: not its key
    with FakeChatServer(valid_reply) as srv:
        make_policy(srv.url).decide_all(observations[:1])
        monkeypatch.setenv("LLM_MARKET_SEND_OPENAI_KEY", "1")
        make_policy(srv.url).decide_all(observations[:1])
    auth = [{k.lower(): v for k, v in h.items()}["authorization"] for h in srv.headers]
    assert auth == ["Bearer no-key", "Bearer sk-openai"]
    monkeypatch.setenv("LLM_MARKET_API_KEY", "sk-project")
    with pytest.raises(UsageError, match=r"plain http to http://example\.com/v1"):
        make_policy("http://example.com/v1")
    make_policy("https://example.com/v1")  # https: fine (nothing is sent yet)
    make_policy("http://localhost:8000/v1")  # loopback: fine
    monkeypatch.delenv("LLM_MARKET_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    make_policy("http://example.com/v1")  # no key, nothing to leak
    with pytest.raises(UsageError, match="not an http"):
        make_policy("ftp://example.com/v1")


# ---------------------------------------------------------------- batched mode


def test_batched_mode_asks_k_teams_per_request(observations):
    n = len(observations)

    def responder(body):
        return Reply(batch_reply(body, p=lambda t: 0.01 * (t + 1)), 1000, 101)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, batch_size=3, prompt_price_per_1k=0.01)
        actions = pol.decide_all(observations)
    assert len(srv.requests) == math.ceil(n / 3)
    groups = sorted(teams_of(b) for b in srv.requests)  # sent concurrently: in any order
    assert groups == [[o.team for o in observations[j : j + 3]] for j in range(0, n, 3)]
    for body in srv.requests:  # each batch's token limit is its teams' (the last has fewer)
        assert body["max_completion_tokens"] == len(teams_of(body)) * 512
        assert "Team t" in body["messages"][1]["content"] and len(body["messages"]) == 2
    for obs, action in zip(observations, actions, strict=True):
        np.testing.assert_allclose(action.forecasts, 0.01 * (obs.team + 1))
    first = [pol.stats[o.team] for o in observations[:3]]
    assert [s.prompt_tokens for s in first] == [334, 333, 333]
    assert [s.completion_tokens for s in first] == [34, 34, 33]
    assert sum(s.cost for s in first) == pytest.approx(0.01)
    assert pol.summary()["requests"] == math.ceil(n / 3)


def test_a_refused_batch_element_is_re_asked_alone(observations):
    obs = observations[:4]
    bad = obs[2].team

    def responder(body):
        if "Team t" in body["messages"][1]["content"]:
            return batch_reply(body, bad={bad})
        assert team_of(body) == bad and attempt_of(body) == 2
        return valid_reply(body, p=0.9)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, batch_size=4)
        actions = pol.decide_all(obs)
    assert len(srv.requests) == 2
    retry = srv.requests[1]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert json.loads(retry[2]["content"])["forecasts"]  # the team's own element, not the batch
    np.testing.assert_allclose(actions[2].forecasts, 0.9)
    st = pol.stats[bad]
    assert (st.calls, st.failures, st.fallbacks, st.failure_kinds) == (2, 1, 0, {"range": 1})


def test_batched_runs_are_reproducible(tmp_path):
    def responder(body):
        return batch_reply(body, p=lambda t: 0.1 + 0.05 * t)

    digests, requests = [], []
    for _ in range(2):
        with FakeChatServer(responder) as srv:
            cfg = LLMConfig(base_url=srv.url, model="m", batch_size=4, seed=5)
            model = wired_model(cfg, 1.0, seed=5, steps=4)
            run_steps(model, 4)
            model.policy.close()
        digests.append(model.digest())
        requests.append(len(srv.requests))
    assert digests[0] == digests[1] and requests == [4 * 2, 4 * 2]  # 8 teams, 2 per day
