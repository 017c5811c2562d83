"""The language-model policy, driven through its HTTP client against a loopback server."""

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from llm_server import (
    FakeChatServer,
    Reply,
    attempt_of,
    schema_of,
    team_of,
    valid_reply,
    wired_model,
)

from llm_market import MarketModel
from llm_market.policies.cache import ReplyCache, canonical_json, request_key
from llm_market.policies.client import EndpointError, HTTPChatClient
from llm_market.policies.heuristic import HeuristicPolicy
from llm_market.policies.llm import (
    ActionReply,
    LLMConfig,
    LLMPolicy,
    MixedPolicy,
    ReplayMiss,
    build_policy,
    check_reply,
    llm_team_ids,
)
from llm_market.policies.prompt import TEMPLATE_VERSION, render

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "smollm2_small.json"
# The recordings from the real model: template v1 (the first prompt) and v2 (raw information).
GOLDENS = [DATA / "smollm2_small.json", DATA / "smollm2_small_v2.json"]
# A port nothing listens on: replay runs must never need the endpoint.
DEAD_URL = "http://127.0.0.1:9/v1"
BARRIER_TIMEOUT = 20  # seconds; only reached when the calls are not concurrent (a failure)


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in ("LLM_MARKET_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def observations():
    model = MarketModel(scenario="small", seed=1)
    for _ in range(6):  # a few days in: questions, signals, prices and scores exist
        model.step()
    return [t.observe(model.view) for t in model.teams]


def make_policy(url, client=None, **kw):
    kw.setdefault("model", "fake-model")
    config = LLMConfig(base_url=url, **kw)
    return LLMPolicy(config, HeuristicPolicy(np.random.default_rng(7)), client=client)


def heuristic_actions(observations):
    return HeuristicPolicy(np.random.default_rng(7)).decide_all(list(observations))


def header(server, i, name):
    return {k.lower(): v for k, v in server.headers[i].items()}.get(name.lower())


# ---------------------------------------------------------------- configuration and prompt


def test_config_validates_ranges_and_cache_path():
    with pytest.raises(ValueError, match="cache_path"):
        LLMConfig(cache_mode="replay")
    with pytest.raises(ValueError):
        LLMConfig(temperature=-1)
    with pytest.raises(ValueError):
        LLMConfig(concurrency=0)
    with pytest.raises(ValueError):
        LLMConfig(api_key="sk-x")  # the key is never configuration
    assert LLMConfig().temperature == 0.0


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_prompt_renders_the_observation_deterministically(observations, version):
    obs = observations[2]
    a, b = render(obs, version), render(obs, version)
    assert a.messages == b.messages
    system, user = a.messages[0]["content"], a.messages[1]["content"]
    assert "You are research team 2." in user and f"{max(obs.budget, 0):.2f}" in user
    # The day's teams share the system message up to v2's persona (prompt-prefix caching).
    shared = system.split("Your team's character:")[0]
    assert render(observations[3], version).messages[0]["content"].startswith(shared)
    assert (shared == system) == (version == "v1")
    assert f"{obs.cash:.2f}" in user and f"Day {obs.market.day}" in user
    for qid in obs.market.questions.qid:
        assert f"q{qid} |" in user
    assert "index 0:" in user and "precision" in user
    schema = json.loads(system.split("JSON schema:\n")[1].splitlines()[0])
    assert schema == a.spec.schema
    assert schema["properties"]["forecasts"]["required"] == list(a.spec.question_keys)
    assert "$" not in system + user  # every placeholder filled


def test_reply_checks_classify_each_failure(observations):
    spec = render(observations[0]).spec
    good = {
        "research_spend": 0.2,
        "forecasts": dict.fromkeys(spec.question_keys, 0.4),
        "asks": dict.fromkeys(spec.good_keys, 4.0),
    }
    assert check_reply(json.dumps(good), spec, limit=1.0).reply is not None
    assert check_reply("```json\n" + json.dumps(good) + "\n```", spec, 1.0).reply is not None

    def kind(reply, limit=1.0):
        text = reply if isinstance(reply, str) else json.dumps(reply)
        return check_reply(text, spec, limit).kind

    assert kind("I think the index goes up") == "not_json"
    assert kind("") == "not_json"
    assert kind({**good, "extra": 1}) == "fields"
    assert kind({k: v for k, v in good.items() if k != "forecasts"}) == "fields"
    assert kind({**good, "research_spend": "0.2"}) == "fields"
    assert kind({**good, "forecasts": {**good["forecasts"], "q999": 0.5}}) == "fields"
    first = spec.question_keys[0]
    assert kind({**good, "forecasts": {**good["forecasts"], first: 1.3}}) == "range"
    assert kind({**good, "research_spend": -1}) == "range"
    assert kind({**good, "research_spend": 5.0}) == "budget"
    assert kind(good, limit=0.1) == "budget"
    assert kind({**good, "asks": dict.fromkeys(spec.good_keys, 0.01)}) == "cash"
    assert check_reply(json.dumps({**good, "asks": {}}), spec, 1.0).kind == "fields"
    msg = check_reply(json.dumps({**good, "research_spend": 5.0}), spec, 1.0).errors[0]
    assert "research_spend 5 is more than the budget left today, 1.0000" == msg


def test_action_maps_reply_onto_questions_goods_and_unit_costs(observations):
    obs = observations[1]
    prompt = render(obs)
    spec = prompt.spec
    forecasts = {k: round(0.1 + 0.05 * i, 2) for i, k in enumerate(spec.question_keys)}
    asks = {spec.good_keys[0]: 1.0, spec.good_keys[1]: None}
    reply = ActionReply(research_spend=0.3, forecasts=forecasts, asks=asks)
    from llm_market.policies.llm import to_action

    action = to_action(reply, obs, spec)
    assert action.research_spend == 0.3
    np.testing.assert_allclose(action.forecasts, list(forecasts.values()))
    mc = obs.market.marginal_cost
    np.testing.assert_allclose(action.ask_prices[0], np.maximum(1.0, mc))
    assert np.isnan(action.ask_prices[1]).all()  # null: not offered
    assert action.markup[0] == pytest.approx(max(np.log(1.0 / obs.market.ref_price[0]), -0.5))
    assert action.markup[1] == obs.markup[1]


def test_cache_key_is_canonical_and_covers_what_decides_a_reply():
    req = {"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1}
    shuffled = {"seed": 1, "messages": [{"content": "x", "role": "user"}], "model": "m"}
    assert request_key(req, "v1") == request_key(shuffled, "v1")
    assert canonical_json(req) == canonical_json(shuffled)
    assert request_key(req, "v1") != request_key(req, "v2")
    assert request_key(req, "v1") != request_key({**req, "seed": 2}, "v1")
    assert request_key(req, "v1") != request_key({**req, "model": "n"}, "v1")
    assert len(request_key(req, "v1")) == 64


# ---------------------------------------------------------------- the real client path


def test_request_shape_usage_and_cost(observations):
    with FakeChatServer(lambda b: Reply(valid_reply(b), 1000, 100)) as srv:
        pol = make_policy(
            srv.url,
            seed=11,
            max_tokens=300,
            temperature=0.3,
            prompt_price_per_1k=0.02,
            completion_price_per_1k=0.1,
        )
        actions = pol.decide_all(observations[:3])
        pol.close()
    assert len(srv.requests) == 3
    body = srv.requests[0]
    assert body["model"] == "fake-model"
    assert body["seed"] == 11 and body["max_completion_tokens"] == 300
    assert body["temperature"] == 0.3 and "max_tokens" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    props = list(schema_of(body)["properties"])
    assert props == ["reasoning", "research_spend", "forecasts", "asks"]  # reasons come first
    assert header(srv, 0, "Authorization") == "Bearer no-key"  # local servers need no key
    assert sorted(team_of(b) for b in srv.requests) == [o.team for o in observations[:3]]
    for obs, action in zip(observations[:3], actions, strict=True):
        assert action.research_spend == 0.1
        np.testing.assert_allclose(action.forecasts, 0.5)
        st = pol.stats[obs.team]
        assert (st.calls, st.cached_calls, st.failures, st.fallbacks) == (1, 0, 0, 0)
        assert (st.prompt_tokens, st.completion_tokens) == (1000, 100)
        assert st.cost == pytest.approx(0.02 + 0.01)
        assert pol.step_cost(obs.team) == pytest.approx(0.03)
    assert pol.step_cost(observations[5].team) == 0.0
    total = pol.summary()
    assert total["calls"] == 3 and total["prompt_tokens"] == 3000
    assert total["cost"] == pytest.approx(0.09) and total["billed_cost"] == pytest.approx(0.09)
    json.dumps(total)


def test_json_object_mode_and_missing_usage_are_handled(observations):
    with FakeChatServer(lambda b: Reply(valid_reply_from_prompt(b), usage=False)) as srv:
        pol = make_policy(srv.url, response_format="json_object", seed=None)
        action = pol.decide_all(observations[:1])[0]
    assert srv.requests[0]["response_format"] == {"type": "json_object"}
    assert "seed" not in srv.requests[0]
    assert action.research_spend == 0.1
    st = pol.stats[observations[0].team]
    assert st.prompt_tokens > 0 and st.completion_tokens > 0 and st.failures == 0


def test_llama_cpp_python_schema_mode_sends_the_schema_inside_json_object(observations):
    with FakeChatServer(lambda b: valid_reply_from_prompt(b)) as srv:
        pol = make_policy(srv.url, response_format="json_object_schema")
        pol.decide_all(observations[:1])
    fmt = srv.requests[0]["response_format"]
    schema = render(observations[0]).spec.schema
    assert fmt["type"] == "json_object" and fmt["schema"] != schema
    assert fmt["schema"]["properties"]["asks"] == schema["properties"]["asks"]
    for prob in fmt["schema"]["properties"]["forecasts"]["properties"].values():
        assert prob == {"enum": [i / 100 for i in range(101)]}


def test_a_refused_request_shape_stops_the_run(observations):
    with FakeChatServer(lambda b: Reply("unknown response_format", status=422)) as srv:
        pol = make_policy(srv.url, http_retries=0)
        with pytest.raises(EndpointError, match="json_object_schema"):
            pol.decide_all(observations[:1])
    assert len(srv.requests) == 1


def valid_reply_from_prompt(body):
    # Without a schema in the request, read the keys from the rendered system message.
    schema = json.loads(body["messages"][0]["content"].split("JSON schema:\n")[1].splitlines()[0])
    return valid_reply({"response_format": {"json_schema": {"schema": schema}}})


BAD_REPLIES = {
    "not_json": lambda b: "Sure! research_spend is 0.1 and I expect the index to rise.",
    "fields": lambda b: json.dumps({"spend": 0.1, "forecasts": {}}),
    "range": lambda b: valid_reply(b, p=1.7),
    "budget": lambda b: valid_reply(b, spend=1e6),
    "cash": lambda b: valid_reply(b, price=0.01),
}


@pytest.mark.parametrize("kind", sorted(BAD_REPLIES))
def test_bad_reply_is_reprompted_with_its_error_then_accepted(observations, kind):
    def responder(body):
        return BAD_REPLIES[kind](body) if attempt_of(body) == 1 else valid_reply(body, p=0.3)

    obs = observations[3]
    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, max_retries=2)
        action = pol.decide_all([obs])[0]
    assert len(srv.requests) == 2
    retry = srv.requests[1]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert retry[2]["content"] == BAD_REPLIES[kind](srv.requests[0])
    assert retry[3]["content"].startswith("Your reply was refused:")
    np.testing.assert_allclose(action.forecasts, 0.3)
    st = pol.stats[obs.team]
    assert (st.calls, st.failures, st.fallbacks) == (2, 1, 0)
    assert st.failure_kinds == {kind: 1}


@pytest.mark.parametrize("kind", sorted(BAD_REPLIES))
def test_persistently_bad_replies_fall_back_to_the_heuristic(observations, kind):
    obs = observations[:4]
    with FakeChatServer(
        lambda b: BAD_REPLIES[kind](b) if team_of(b) == obs[1].team else valid_reply(b)
    ) as srv:
        pol = make_policy(srv.url, max_retries=2)
        actions = pol.decide_all(obs)
    assert len(srv.requests) == 3 + 3  # three good teams once, the bad one 1 + 2 retries
    expected = heuristic_actions([obs[1]])[0]
    np.testing.assert_array_equal(actions[1].forecasts, expected.forecasts)
    np.testing.assert_array_equal(actions[1].ask_prices, expected.ask_prices)
    assert actions[1].research_spend == expected.research_spend
    st = pol.stats[obs[1].team]
    assert (st.calls, st.failures, st.fallbacks) == (3, 3, 1)
    assert st.failure_kinds == {kind: 3}
    assert all(pol.stats[o.team].fallbacks == 0 for o in (obs[0], obs[2], obs[3]))
    assert pol.summary()["failure_kinds"] == {kind: 3}


def test_a_cut_off_reply_is_told_so(observations):
    def responder(body):
        if attempt_of(body) == 1:
            return Reply(valid_reply(body)[:25], finish_reason="length")
        return valid_reply(body)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url)
        pol.decide_all(observations[:1])
    assert "cut off at the token limit" in srv.requests[1]["messages"][3]["content"]


def test_server_errors_fall_back_without_crashing(observations):
    with FakeChatServer(lambda b: Reply("overloaded", status=500)) as srv:
        pol = make_policy(srv.url, http_retries=0)
        actions = pol.decide_all(observations[:2])
    assert len(srv.requests) == 2  # a failed transport is not re-sent the same day
    expected = heuristic_actions(observations[:2])
    np.testing.assert_array_equal(actions[1].forecasts, expected[1].forecasts)
    st = pol.stats[observations[0].team]
    assert (st.calls, st.failures, st.fallbacks, st.failure_kinds) == (1, 1, 1, {"transport": 1})


def test_unreachable_endpoint_falls_back(observations):
    pol = make_policy(DEAD_URL, http_retries=0, timeout=5)
    actions = pol.decide_all(observations[:1])
    assert pol.stats[observations[0].team].failure_kinds == {"transport": 1}
    assert actions[0].forecasts.shape == observations[0].market.questions.qid.shape


def test_a_rejected_key_stops_the_run_without_showing_the_key(observations, monkeypatch):
    monkeypatch.setenv("LLM_MARKET_API_KEY", "sk-secret-123")
    with FakeChatServer(lambda b: Reply("Incorrect API key sk-secret-123", status=401)) as srv:
        pol = make_policy(srv.url, http_retries=0)
        with pytest.raises(EndpointError) as err:
            pol.decide_all(observations[:1])
    assert "sk-secret-123" not in str(err.value)
    assert header(srv, 0, "Authorization") == "Bearer sk-secret-123"


def test_api_key_comes_from_the_environment_and_is_never_written(
    observations, monkeypatch, tmp_path
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("LLM_MARKET_API_KEY", "sk-project-secret")
    path = tmp_path / "cache.sqlite"
    with FakeChatServer(lambda b: valid_reply(b)) as srv:
        pol = make_policy(srv.url, cache_mode="read-write", cache_path=str(path))
        pol.decide_all(observations[:2])
        summary = json.dumps(pol.summary())
        pol.close()
    assert header(srv, 0, "Authorization") == "Bearer sk-project-secret"
    assert b"sk-" not in path.read_bytes() and "sk-" not in summary
    assert "sk-" not in repr(pol.config)


# ---------------------------------------------------------------- concurrency


def test_replies_in_scrambled_order_are_applied_in_input_order(observations):
    n = len(observations)
    arrived = threading.Barrier(n, timeout=BARRIER_TIMEOUT)
    turn = threading.Condition()
    release = [o.team for o in reversed(observations)]  # the last team is answered first
    done = []

    def responder(body):
        team = team_of(body)
        arrived.wait()  # every call is in flight at once: they really are concurrent
        with turn:
            turn.wait_for(lambda: release[len(done)] == team, timeout=BARRIER_TIMEOUT)
            done.append(team)
            turn.notify_all()
        return valid_reply(body, p=0.01 * (team + 1), spend=0.01 * team)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, concurrency=n)
        actions = pol.decide_all(observations)
    assert done == release
    assert [team_of(srv.requests[i]) for i in srv.sent] == release
    for obs, action in zip(observations, actions, strict=True):
        np.testing.assert_allclose(action.forecasts, 0.01 * (obs.team + 1))
        assert action.research_spend == pytest.approx(0.01 * obs.team)


def test_concurrency_is_bounded(observations):
    in_flight, peak = [0], [0]
    lock = threading.Lock()
    pair = threading.Barrier(2, timeout=BARRIER_TIMEOUT)

    def responder(body):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        pair.wait()  # two at a time reach here together, so the limit of 2 is reached
        with lock:
            in_flight[0] -= 1
        return valid_reply(body)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, concurrency=2)
        pol.decide_all(observations)
    assert len(srv.requests) == len(observations) and peak[0] == 2


def test_call_cap_is_handed_out_in_input_order(observations):
    obs = observations[:4]
    with FakeChatServer(
        lambda b: valid_reply(b) if attempt_of(b) > 1 or team_of(b) != obs[0].team else "not json"
    ) as srv:
        pol = make_policy(srv.url, call_cap=4, concurrency=4)
        actions = pol.decide_all(obs)
        # Round 1: all four teams call (4 calls); team 0's retry finds the cap reached.
        assert len(srv.requests) == 4
        assert pol.stats[obs[0].team].capped == 1 and pol.stats[obs[0].team].fallbacks == 1
        np.testing.assert_array_equal(
            actions[0].forecasts, heuristic_actions([obs[0]])[0].forecasts
        )
        pol.decide_all(obs)  # the rest of the run is heuristic
    assert len(srv.requests) == 4
    assert [pol.stats[o.team].capped for o in obs] == [2, 1, 1, 1]
    assert pol.summary()["calls"] == 4


# ---------------------------------------------------------------- cache and replay


def test_read_write_caches_replies_and_replay_reproduces_them(observations, tmp_path):
    path = tmp_path / "c.sqlite"
    with FakeChatServer(lambda b: valid_reply(b, p=0.42)) as srv:
        pol = make_policy(srv.url, cache_mode="read-write", cache_path=str(path))
        first = pol.decide_all(observations)
        again = pol.decide_all(observations)  # same prompts: answered by the cache
        pol.close()
    assert len(srv.requests) == len(observations)
    rows = sqlite3.connect(path).execute("SELECT key, request, response FROM replies").fetchall()
    assert len(rows) == len(observations)
    for key, request, _ in rows:
        assert request_key(json.loads(request), TEMPLATE_VERSION, srv.url) == key
    st = pol.stats[observations[0].team]
    assert (st.calls, st.cached_calls) == (2, 1)

    # The endpoint is part of the key: a replay names the recorded one (and never calls it).
    replay = make_policy(srv.url, cache_mode="replay", cache_path=str(path))
    replayed = replay.decide_all(observations)
    for a, b, c in zip(first, again, replayed, strict=True):
        np.testing.assert_array_equal(a.forecasts, c.forecasts)
        np.testing.assert_array_equal(b.ask_prices, c.ask_prices)
    assert replay.summary()["cached_calls"] == len(observations)


def test_replay_miss_names_the_team_and_the_day(observations, tmp_path):
    path = tmp_path / "empty.sqlite"
    ReplyCache(path, "read-write").close()
    pol = make_policy(DEAD_URL, cache_mode="replay", cache_path=str(path))
    with pytest.raises(ReplayMiss, match=rf"team {observations[0].team} on day 6") as err:
        pol.decide_all(observations)
    assert err.value.team == observations[0].team and err.value.day == 6
    with pytest.raises(FileNotFoundError):
        make_policy(DEAD_URL, cache_mode="replay", cache_path=str(tmp_path / "none.sqlite"))


def test_transport_failures_replay_as_failures_and_read_write_retries_them(observations, tmp_path):
    path = str(tmp_path / "c.sqlite")
    with FakeChatServer(lambda b: Reply("down", status=503)) as srv:
        pol = make_policy(srv.url, cache_mode="read-write", cache_path=path, http_retries=0)
        pol.decide_all(observations[:2])
        pol.close()
    replay = make_policy(srv.url, cache_mode="replay", cache_path=path)
    replay.decide_all(observations[:2])
    assert replay.summary()["failure_kinds"] == {"transport": 2}
    replay.close()
    with FakeChatServer(lambda b: valid_reply(b)) as srv2:
        # The recorded endpoint's key, answered by a live server.
        live = HTTPChatClient(srv2.url)
        pol = make_policy(srv.url, live, cache_mode="read-write", cache_path=path)
        pol.decide_all(observations[:2])
        pol.close()
    assert len(srv2.requests) == 2 and pol.summary()["failures"] == 0


def test_call_cost_counts_against_the_budget_check(observations):
    obs = max(observations, key=lambda o: o.budget)
    spend_all = max(obs.budget, 0.0)

    def responder(body):
        return Reply(valid_reply(body, spend=spend_all if attempt_of(body) == 1 else 0.0), 1000, 0)

    with FakeChatServer(responder) as srv:
        pol = make_policy(srv.url, prompt_price_per_1k=0.5)
        action = pol.decide_all([obs])[0]
    assert pol.stats[obs.team].failure_kinds == {"budget": 1}
    assert action.research_spend == 0.0
    assert pol.step_cost(obs.team) == pytest.approx(1.0)  # both calls are paid
    assert "about 0." in srv.requests[0]["messages"][1]["content"]


# ---------------------------------------------------------------- mixed populations and runs


def test_llm_teams_are_chosen_by_share_and_stream():
    rng = np.random.default_rng(3)
    ids = llm_team_ids(8, 0.5, rng)
    assert len(ids) == 4 and ids == sorted(set(ids))
    assert ids == llm_team_ids(8, 0.5, np.random.default_rng(3))
    assert llm_team_ids(8, 0.0) == [] and llm_team_ids(8, 1.0) == list(range(8))
    assert llm_team_ids(8, 0.5) == [0, 2, 4, 6]
    with pytest.raises(ValueError):
        llm_team_ids(8, 1.5)


def test_mixed_policy_routes_teams_and_keeps_the_order(observations):
    llm_ids = [observations[1].team, observations[4].team]
    with FakeChatServer(lambda b: valid_reply(b, p=0.123)) as srv:
        heur = HeuristicPolicy(np.random.default_rng(7))
        pol = MixedPolicy(LLMPolicy(LLMConfig(base_url=srv.url), heur), heur, llm_ids)
        actions = pol.decide_all(observations)
    assert sorted(team_of(b) for b in srv.requests) == sorted(llm_ids)
    others = [o for o in observations if o.team not in llm_ids]
    expected = iter(heuristic_actions(others))
    for obs, action in zip(observations, actions, strict=True):
        if obs.team in llm_ids:
            np.testing.assert_allclose(action.forecasts, 0.123)
        else:
            np.testing.assert_array_equal(action.forecasts, next(expected).forecasts)
    assert set(pol.stats) == set(llm_ids) and pol.step_cost(observations[0].team) == 0.0
    assert pol.summary()["llm_teams"] == sorted(llm_ids)


def test_a_run_replayed_from_its_cache_has_the_same_digest(tmp_path):
    path = str(tmp_path / "run.sqlite")
    prices = dict(prompt_price_per_1k=0.01, completion_price_per_1k=0.03)

    def responder(body):
        # Vary with the request so that the run depends on the replies.
        team = team_of(body)
        return valid_reply(body, spend=0.05 * team, p=0.2 + 0.07 * team, price=2.5 + 0.1 * team)

    with FakeChatServer(responder) as srv:
        cfg = LLMConfig(
            base_url=srv.url,
            model="fake",
            cache_mode="read-write",
            cache_path=path,
            seed=5,
            **prices,
        )
        original = wired_model(cfg, 0.5, seed=5, steps=8)
        for _ in range(8):
            original.step()
        original.policy.close()
    cfg = LLMConfig(
        base_url=srv.url, model="fake", cache_mode="replay", cache_path=path, seed=5, **prices
    )
    replayed = wired_model(cfg, 0.5, seed=5, steps=8)
    for _ in range(8):
        replayed.step()
    assert replayed.digest() == original.digest()
    a, b = original.policy.summary(), replayed.policy.summary()
    assert a["calls"] == b["calls"] == b["cached_calls"] == 4 * 8
    assert a["cost"] == b["cost"] > 0 and b["billed_cost"] == 0
    assert original.accounts.ledger.outflows["llm"] == pytest.approx(a["cost"])
    assert abs(original.money_error) < 1e-9
    heuristic = MarketModel(scenario="small", seed=5, steps=8)
    for _ in range(8):
        heuristic.step()
    assert heuristic.digest() != original.digest()


# ---------------------------------------------------------------- the golden run (real model)


def golden(path=GOLDEN):
    return json.loads(path.read_text())


def golden_url(g):
    # v1's cache keys leave the endpoint out; later recordings keep the URL their keys name.
    return g.get("base_url", DEAD_URL)


def golden_config(g, url=None, mode="replay", path=None):
    return LLMConfig(
        **{
            **g["llm"],
            "base_url": url or golden_url(g),
            "cache_mode": mode,
            "cache_path": str(path or DATA / g["cache"]),
        }
    )


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_golden_real_model_run_replays_to_its_digest(path):
    if not path.exists():
        pytest.skip(f"{path.name} not recorded")
    g = golden(path)
    model = wired_model(
        golden_config(g), g["llm_share"], scenario=g["scenario"], seed=g["seed"], **g["params"]
    )
    try:
        for _ in range(g["steps"]):
            model.step()
    except ReplayMiss as miss:
        pytest.fail(
            f"{miss}: the model's dynamics or the prompt changed since the golden run "
            "was recorded; re-record it with `python tests/test_llm_real.py --record "
            f"{g['llm']['template']}` (docs/llm.md)"
        )
    assert model.digest() == g["digest"]
    summary = model.policy.summary()
    assert summary["calls"] == summary["cached_calls"] == g["summary"]["calls"]
    assert summary["failure_kinds"] == g["summary"]["failure_kinds"]


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_golden_run_through_model_parameters(path):
    if not path.exists():
        pytest.skip(f"{path.name} not recorded")
    g = golden(path)
    llm = {f"llm_{k}": v for k, v in g["llm"].items()}
    model = MarketModel(
        scenario=g["scenario"],
        seed=g["seed"],
        policy="llm",
        llm_share=g["llm_share"],
        **{
            **llm,
            "llm_base_url": golden_url(g),
            "llm_cache_mode": "replay",
            "llm_cache_path": str(DATA / g["cache"]),
        },
        **g["params"],
    )
    for _ in range(g["steps"]):
        model.step()
    assert model.digest() == g["digest"]
    assert model.summary()["llm"]["calls"] == g["summary"]["calls"]


def test_build_policy_uses_the_heuristic_for_the_rest(observations):
    heur = HeuristicPolicy(np.random.default_rng(7))
    pol = build_policy(heur, 8, 0.25, LLMConfig(), np.random.default_rng(0))
    assert pol.other is heur and pol.llm.fallback is heur and len(pol.llm_teams) == 2
