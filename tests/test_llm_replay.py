"""Fast replay (issue 16 item 6): the shortcuts give the same prompts, keys and runs."""

import hashlib
import json
import sqlite3
from string import Template

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llm_market import MarketModel
from llm_market.policies import prompt
from llm_market.policies.cache import (
    ReplyCache,
    _canonical,
    canonical_json,
    canonical_request,
    keyed_request,
    splice,
)
from llm_market.policies.client import Completion

# ---------------------------------------------------------------- templates


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("part", ["system", "user", "retry"])
def test_template_pieces_fill_as_substitute_does(version, part):
    names = prompt._pieces(version, part)[1]
    # Values that look like placeholders must come out as they are, never substituted again.
    values = {n: f"<{n} $x ${{y}} $$>" for n in names}
    assert prompt._fill(version, part, values) == prompt.load_template(version, part).substitute(
        values
    )


def test_split_handles_escapes_braces_and_repeats():
    t = Template("a $$b ${c}d $c, $e$$")
    values = {"c": 1, "e": None}
    assert prompt._fill_pieces(prompt._split(t), values) == t.substitute(values)
    with pytest.raises(KeyError):
        prompt._fill_pieces(prompt._split(t), {"c": 1})
    with pytest.raises(ValueError):
        prompt._split(Template("bad $ placeholder"))


# ---------------------------------------------------------------- cache keys

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_json)
@example({"\x7f": None})  # DEL is ASCII, but only the ASCII encoder escapes it
@example(["a\x7fb", "\x1f", "é\x7f"])
def test_canonical_text_is_the_encoders_text(obj):
    assert _canonical(obj, frozenset()) == canonical_json(obj)


def test_shared_parts_give_the_same_key_and_text():
    schema = {"type": "object", "properties": {"q1": {"type": "number", "maximum": 1}}}
    system = "Règles du jeu: réponds en JSON."  # non-ASCII text is encoded as the encoder does
    fmt = {"type": "json_schema", "json_schema": {"schema": schema, "strict": True}}
    request = {
        "model": "m",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "t7"}],
        "max_completion_tokens": 50,
        "temperature": 0.0,
        "response_format": fmt,
    }
    plain = keyed_request(request, "v2", "http://h/v1/")
    for _ in range(2):  # made, then reused
        assert keyed_request(request, "v2", "http://h/v1/", (schema, system, fmt)) == plain
    text = canonical_json(canonical_request(request))
    payload = '{"endpoint":"http://h/v1","request":' + text + ',"template":"v2"}'
    assert plain == (hashlib.sha256(payload.encode()).hexdigest(), text)


def _spliced_request(content):
    schema = {"type": "object", "properties": {"q1": {"type": "number", "maximum": 1}}}
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Règles: réponds en JSON."},
            {"role": "user", "content": content},
        ],
        "max_tokens": 50,
        "seed": 3,
        "temperature": 0.0,
        "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
    }


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text())
@example('plain ASCII with "quotes", \\ and\nnew lines')
@example("a\x7fb")  # ASCII, but only the ASCII encoder escapes DEL
@example("é and ✓ and 🙂")
@example("<<llm-market: the content of the last message goes here 5b0d9e>>")  # the stand-in
def test_spliced_keys_are_the_whole_requests_keys(content):
    for endpoint in ("http://h/v1/", None):
        made = splice(_spliced_request("anything"), "v2", endpoint)
        assert made is not None
        whole = keyed_request(_spliced_request(content), "v2", endpoint)
        assert made.key(content) == whole
        assert made.key(content, with_text=False) == (whole[0], None)


def test_splice_declines_requests_it_cannot_splice():
    from llm_market.policies.cache import _MARK

    holding = _spliced_request("x")
    holding["model"] = _MARK  # the stand-in elsewhere in the request: no splice
    assert splice(holding, "v2") is None
    assert splice({"model": "m", "messages": []}, "v2") is None
    assert splice({"model": "m", "messages": [{"role": "user", "content": None}]}, "v2") is None


# ---------------------------------------------------------------- a day's shared prompt parts


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("information", ["raw", "signals", "posterior"])
def test_prompts_in_a_day_scope_are_the_prompts_made_alone(version, information):
    model = MarketModel(scenario="small", seed=2, policy="llm", llm_share=1.0, llm_model="stub")
    model.policy.llm._client = _Stub()
    options = prompt.PromptOptions(information, reasoning=information != "posterior")
    for _ in range(12):
        model.step()
        obs = [t.observe(model.view) for t in model.teams]
        alone = [prompt.render(o, version, 0.25, options) for o in obs]
        with prompt.day_scope():
            with prompt.day_scope():  # nested: the outer scope's parts
                scoped = [prompt.render(o, version, 0.25, options) for o in obs]
            scoped += [prompt.render(o, version, 0.25, options) for o in obs]
        assert not prompt._DAYS.items  # forgotten with the day
        for a, b in zip(alone + alone, scoped, strict=True):
            assert a.messages == b.messages
            assert a.spec.schema == b.spec.schema and a.spec.question_keys == b.spec.question_keys
    model.policy.close()


# ---------------------------------------------------------------- prefetched lookups


def test_prefetch_reads_stored_replies_and_keeps_misses_misses(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ReplyCache(path, "read-write")
    cache.put("k1", "{}", {"content": "one"})
    cache.put("k2", "{}", {"error": "boom", "kind": "transport"})
    cache.close()
    replay = ReplyCache(path, "replay")
    replay.prefetch(["k1", "k2", "nope", "k1"])
    assert replay._read.keys() == {"k1", "k2", "nope"}
    assert replay.get("k1") == {"content": "one"}
    assert replay.get("k2") == {"error": "boom", "kind": "transport"}
    assert replay.get("nope") is None
    replay.flush()  # a new day reads again
    assert replay._read == {} and replay.get("k1") == {"content": "one"}
    replay.close()


# ---------------------------------------------------------------- whole runs


class _Stub:
    """Valid replies that differ by team; every third refused once (so re-prompts replay)."""

    def complete(self, request):
        msgs = request["messages"]
        team = int(msgs[1]["content"].split("You are research team ")[1].split(".")[0])
        schema = json.loads(msgs[0]["content"].split("JSON schema:\n")[1].splitlines()[0])
        props = schema["properties"]
        if team % 3 == 0 and len(msgs) == 2:
            return Completion("no JSON today", 100, 5, "stop")
        reply = {
            "research_spend": 0.01 * (team % 4),
            "forecasts": dict.fromkeys(props["forecasts"]["properties"], 0.3 + 0.05 * team),
        }
        if "reasoning" in props:
            reply["reasoning"] = f"team {team}"
        if "asks" in props:
            reply["asks"] = dict.fromkeys(props["asks"]["properties"], 2.0 + 0.1 * team)
        return Completion(json.dumps(reply), 900, 40, "stop")


def _run(path, mode, **llm):
    model = MarketModel(
        scenario="small",
        seed=4,
        policy="llm",
        llm_share=0.75,
        llm_cache_mode=mode,
        llm_cache_path=str(path),
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="stub",
        llm_max_retries=1,
        **llm,
    )
    if mode == "read-write":
        model.policy.llm._client = _Stub()
    for _ in range(4):
        model.step()
    pool = model.policy.llm._pool
    model.policy.close()
    return model, pool


# sha256 of the (key, request) rows each configuration records, made with the code before the
# replay shortcuts: prompts and keys must stay byte for byte what they were.
ROWS = {
    "v1": "4684b249605a7e821db73e09ecdc83223f113dc0bf561b47bdb8679497996306",
    "v2-raw": "f7d807dde48a62195971862cf180a615a2db7cab12757ef4078a96be99e934e7",
    "v2-signals-grammar": "4d204900425fd5fc2253f295ab6d9370dd4660febabe1562348b471a2e0625cb",
}
CONFIGS = {
    "v1": {"llm_template": "v1"},
    "v2-raw": {},
    "v2-signals-grammar": {
        "llm_information": "signals",
        "llm_reasoning": False,
        "llm_response_format": "json_object_schema",
    },
}


def recorded_rows(path):
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, request FROM replies ORDER BY key").fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_replay_on_the_calling_thread_reproduces_the_recorded_run(tmp_path, name):
    path = tmp_path / "c.sqlite"
    original, pool = _run(path, "read-write", **CONFIGS[name])
    assert pool is not None  # calls to an endpoint run on worker threads
    assert recorded_rows(path) == ROWS[name]
    replayed, pool = _run(path, "replay", **CONFIGS[name])
    assert pool is None  # a replay never starts them
    assert replayed.digest() == original.digest()
    a, b = original.policy.summary(), replayed.policy.summary()
    assert a["calls"] == b["calls"] == b["cached_calls"] and a["failures"] == b["failures"] > 0
    assert a["failure_kinds"] == b["failure_kinds"] and a["cost"] == b["cost"]


# ---------------------------------------------------------------- checking and acting


def _action_before(reply, obs, spec):
    """to_action's arrays as they were made one good at a time (before issue 16 item 6)."""
    import math

    import numpy as np

    from llm_market.policies.heuristic import MARKUP_BOUNDS

    view = obs.market
    asks = np.full((view.ref_price.size, spec.marginal_cost.size), np.nan)
    markup = np.array(obs.markup, dtype=float, copy=True)
    for k, key in enumerate(spec.good_keys):
        price = reply.asks.get(key) if spec.marginal_cost.size else None
        if price is None:
            continue
        asks[k] = np.maximum(price, spec.marginal_cost)
        ref = float(view.ref_price[k])
        if ref > 0 and math.isfinite(ref):
            markup[k] = float(np.clip(math.log(price / ref), *MARKUP_BOUNDS))
    return asks, markup


def test_replies_check_and_act_as_before():
    import numpy as np

    from llm_market.policies.reply import check_reply, to_action

    model = MarketModel(scenario="small", seed=3, policy="llm", llm_share=1.0, llm_model="stub")
    model.policy.llm._client = _Stub()
    for _ in range(3):
        model.step()
    obs = [t.observe(model.view) for t in model.teams]
    model.policy.close()
    for o in obs:
        spec = prompt.render(o).spec
        forecasts = {k: 0.5 for k in spec.question_keys}
        for asks in (
            dict.fromkeys(spec.good_keys, 40.0),  # far above the reference: the markup's cap
            dict(reversed([(k, None if i % 2 else 2 + i) for i, k in enumerate(spec.good_keys)])),
            {k: 0.0001 + 3 for k in spec.good_keys},
        ):
            text = json.dumps({"research_spend": 0, "forecasts": forecasts, "asks": asks})
            reply = check_reply(text, spec, 1.0).reply
            assert reply is not None
            action = to_action(reply, o, spec)
            want_asks, want_markup = _action_before(reply, o, spec)
            np.testing.assert_array_equal(action.ask_prices, want_asks)
            np.testing.assert_array_equal(action.markup, want_markup)
        shuffled = dict(reversed(list(forecasts.items())))
        text = json.dumps(
            {"research_spend": 0, "forecasts": {**shuffled, "q9999": 0.5}, "asks": {}}
        )
        errors = check_reply(text, spec, 1.0).errors
        assert errors[0] == "forecasts: unknown keys q9999"
        assert check_reply(text.replace(', "q9999": 0.5', ""), spec, 1.0).errors == errors[1:]
