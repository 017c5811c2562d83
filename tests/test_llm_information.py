"""What language-model teams see: memory, headlines, personas, reasoning (prompt v2)."""

import json

import numpy as np
import pandas as pd
import pytest
from llm_server import FakeChatServer, Reply, schema_of, team_of, valid_reply, wired_model

from llm_market import MarketModel
from llm_market.errors import ParameterError, UsageError
from llm_market.information.headlines import (
    NewsItem,
    TemplateHeadlines,
    make_generator,
    research_items,
)
from llm_market.information.history import HistoryBook
from llm_market.policies.base import Profile
from llm_market.policies.llm import LLMConfig
from llm_market.policies.personas import (
    Persona,
    PersonaBook,
    archetype,
    load_personas,
    persona_from_profile,
)
from llm_market.policies.prompt import PromptOptions, render
from llm_market.policies.reply import check_reply, to_action
from llm_market.viz.report import write_run

STEPS = 12


class UpperHeadlines:
    """A user's headline generator (plugged in by import path in a test below)."""

    def __init__(self, rng):
        self.rng = rng

    def headline(self, item: NewsItem) -> str:
        return f"INDEX {item.index} {item.direction.upper()} ({item.source})"


class NotAGenerator:
    def __init__(self, rng):
        pass


def _reply_with_reasoning(body, reasoning="The index is drifting up; I hedge."):
    props = schema_of(body)["properties"]
    out = json.loads(valid_reply(body, spend=0.05, p=0.37 + 0.01 * team_of(body)))
    if "reasoning" in props:
        out = {"reasoning": reasoning, **out}
    return json.dumps(out)


@pytest.fixture(scope="module")
def run():
    """A short run with half the teams on a fake model that reasons and forecasts 0.37+."""
    with FakeChatServer(_reply_with_reasoning) as srv:
        model = wired_model(LLMConfig(base_url=srv.url, model="fake"), 0.5, seed=2)
        for _ in range(STEPS):
            model.step()
        model.policy.close()
        requests = list(srv.requests)
    return model, requests


def llm_observation(model, which=0):
    remember = model.policy.history_teams(model.n_teams)
    team = model.teams[sorted(remember)[which]]
    return team, team.observe(model.view, model.memory_of(team.idx, remember))


# ---------------------------------------------------------------- what a team sees


def test_v2_prompt_shows_memory_record_prices_and_research(run):
    model, _ = run
    team, obs = llm_observation(model)
    h = obs.history
    assert h is not None and h.resolved and h.revenue and h.levels.shape == (model.n_goods, 10)
    user = render(obs).messages[1]["content"]
    mine = f"{0.37 + 0.01 * team.idx:.2f}"
    # Its own past forecasts on open questions, and outcomes and scores of resolved ones.
    rows = [r for r in user.splitlines() if r.startswith("q")]
    assert any(r.endswith(f"{mine}, {mine}, {mine}") for r in rows)
    assert "Recently resolved questions:" in user and "your Brier" in user
    assert any(f"| {mine} |" in r and ("| yes |" in r or "| no |" in r) for r in rows)
    # Sales, price history, the record against the others, and research in plain words.
    assert "revenue " in user and "reports sold " in user
    assert "levels " in user and "report prices " in user
    assert "rank " in user and "median team" in user and "index path alone" in user
    assert "x ln(1 + s /" in user and "spending 1.00 buys" in user
    assert "$" not in user


def test_raw_shows_headlines_and_no_probability_signals_and_posterior_do(run):
    model, _ = run
    _, obs = llm_observation(model)
    text = {
        mode: render(obs, options=PromptOptions(information=mode)).messages[1]["content"]
        for mode in ("raw", "signals", "posterior")
    }
    header = {
        m: next(r for r in t.splitlines() if r.startswith("id | index | days left"))
        for m, t in text.items()
    }
    assert "signals" not in header["raw"] and "posterior" not in header["raw"]
    assert "| signals |" in header["signals"] and "| posterior |" in header["posterior"]
    assert "News you received" in text["raw"] and "Signals you hold" not in text["raw"]
    assert "Signals you hold" in text["signals"] and "News you received" not in text["signals"]
    assert any(h in text["raw"] for _, h in obs.history.headlines)
    # The signals column is the implied probability; raw leaves it out, column for column.
    width = {m: len(header[m].split(" | ")) for m in header}
    assert width["signals"] == width["posterior"] == width["raw"] + 1


def test_llm_information_setting_reaches_the_prompt():
    assert LLMConfig().information == "raw" and LLMConfig().template == "v2"
    with pytest.raises(ParameterError, match="llm_information"):
        MarketModel(scenario="small", llm_information="everything")


def test_v1_ignores_every_v2_option(run):
    model, _ = run
    _, obs = llm_observation(model)
    plain = render(obs, "v1")
    other = render(
        obs, "v1", options=PromptOptions("posterior", True, 50), persona=Persona("x", "y")
    )
    assert plain.messages == other.messages and plain.spec == other.spec
    assert "reasoning" not in plain.spec.schema["properties"]
    assert '"research_spend": 0.5' in plain.messages[1]["content"]  # v1's numeric example


# ---------------------------------------------------------------- headlines


def _news(seed, steps=15, **kw):
    model = MarketModel(scenario="small", seed=seed, **kw)
    for _ in range(steps):
        model.step()
    return model.logs["news"].to_frame()


def test_headlines_are_seeded_logged_beside_the_numbers_and_vary():
    a, b, c = _news(1), _news(1), _news(2)
    assert len(a) > 5 and list(a.columns[-2:]) == ["noise_sd", "headline"]
    pd.testing.assert_frame_equal(a, b)
    assert list(a.headline) != list(c.headline)
    assert all(f"index {k}" in h for k, h in zip(a["index"], a.headline, strict=True))
    assert all(f"day {d}" in h for d, h in zip(a.about_day, a.headline, strict=True))
    public = a.team < 0
    assert a.headline[public].str.contains("public").all()
    assert a.headline[~public].str.contains("private").all()


def test_headline_words_follow_direction_strength_and_reliability():
    gen = TemplateHeadlines(np.random.default_rng(0))
    up = NewsItem(index=2, value=3.0, noise_sd=0.3, about_day=9, source="private")
    down = NewsItem(index=1, value=-0.5, noise_sd=1.0, about_day=4, source="public")
    flat = NewsItem(index=0, value=0.05, noise_sd=2.0, about_day=4, source="public")
    assert (up.direction, up.strength, up.reliability) == ("up", "strong", "reliable")
    assert (down.direction, down.strength, down.reliability) == ("down", "slight", "fair")
    assert flat.direction == "flat" and flat.reliability == "shaky"
    texts = {gen.headline(up) for _ in range(30)}
    assert len(texts) > 1 and all("index 2" in t and "day 9" in t for t in texts)
    # Research: one item per index and span, about tomorrow on.
    items = research_items(3, 10, np.ones((2, 21)), 4.0, (5, 21))
    assert [(i.index, i.span) for i in items] == [(0, 5), (0, 21), (1, 5), (1, 21)]
    assert "over days 10-14" in gen.headline(items[0])


def test_a_plugged_in_generator_writes_the_headlines():
    news = _news(1, 8, headline_generator="test_llm_information:UpperHeadlines")
    assert len(news) and news.headline.str.match(r"^INDEX \d (UP|DOWN|FLAT) \(").all()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:Gen", "cannot import"),
        ("test_llm_information:Missing", "has no 'Missing'"),
        ("test_llm_information:NotAGenerator", "no headline"),
        ("json:dumps", "failed"),
    ],
)
def test_a_bad_generator_is_refused_clearly(spec, message):
    with pytest.raises(ParameterError, match=message):
        make_generator(spec, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="headline_generator"):
        MarketModel(scenario="small", headline_generator=spec)


def test_a_malformed_generator_path_is_a_parameter_error():
    with pytest.raises(ParameterError, match="headline_generator"):
        MarketModel(scenario="small", headline_generator="not a path")


def test_relayed_news_keeps_its_headline():
    book = HistoryBook(1)
    one = np.array([1])
    book.record_news(frozenset({1}), 3, one, np.array([7]), np.array([9]), {7: "tip"}, [7])
    book.record_news(frozenset({1}), 4, one, np.array([7]), np.array([9]), {}, [])
    h = book.history(1, np.zeros(0, dtype=np.int64), today=4)
    assert h.headlines == ((3, "tip"), (4, "A neighbour passes on: tip"))
    assert book.history(1, np.zeros(0, dtype=np.int64), today=9).headlines == ()  # now past


# ---------------------------------------------------------------- personas


def test_personas_follow_the_traits():
    assert archetype(Profile(herding=0.5)) == "herder"
    assert archetype(Profile(confidence=1.4, herding=0.0)) == "contrarian"
    assert archetype(Profile(confidence=1.15, herding=0.2)) == "bold"
    assert archetype(Profile(confidence=0.8)) == "cautious"
    assert archetype(Profile(research_intensity=2.0)) == "researcher"
    assert archetype(Profile(research_intensity=0.5)) == "frugal"
    assert archetype(Profile()) == "steady"
    assert "sharp" in persona_from_profile(Profile(skill=1.5)).text


def test_the_persona_ends_the_system_message_and_names_the_team(run):
    model, requests = run
    systems = {team_of(r): r["messages"][0]["content"] for r in requests}
    for t, system in systems.items():
        name = model.policy.persona_of(t)
        persona = persona_from_profile(model.teams[t].profile)
        assert name == persona.name and system.endswith(persona.text + "\n")
    assert model.policy.persona_of(sorted(set(range(model.n_teams)) - set(systems))[0]) == ""


def test_user_personas_go_round_in_team_order(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[[persona]]\nname = "quant"\ntext = "You trust numbers."\n'
        '[[persona]]\nname = "poet"\ntext = "You trust stories."\n'
    )
    assert [p.name for p in load_personas(path)] == ["quant", "poet"]
    with FakeChatServer(valid_reply) as srv:
        cfg = LLMConfig(base_url=srv.url, model="fake", personas=str(path))
        model = wired_model(cfg, 0.5, seed=2)
        model.step()
        model.policy.close()
        teams = sorted(model.policy.llm_teams)
        names = [model.policy.persona_of(t) for t in teams]
        assert names == ["quant", "poet", "quant", "poet"][: len(teams)]
        system = {team_of(r): r["messages"][0]["content"] for r in srv.requests}
        assert system[teams[0]].endswith("You trust numbers.\n")
    decisions = model.logs["decisions"].to_frame()
    assert list(decisions.persona) == names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[persona]\nname=", "not valid TOML"),
        ('title = "x"\n', "needs one or more"),
        ('[[persona]]\nname = "a"\n', "text must be a non-empty string"),
        ('[[persona]]\nname = "a"\ntext = "b"\nmood = 1\n', "unknown keys mood"),
    ],
)
def test_a_malformed_persona_file_is_refused_cleanly(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_personas(path)
    with pytest.raises(UsageError, match="llm_personas"):
        policy_with_personas(path)


def policy_with_personas(path):
    from llm_market.policies.heuristic import HeuristicPolicy
    from llm_market.policies.llm import LLMPolicy

    return LLMPolicy(LLMConfig(personas=str(path)), HeuristicPolicy(np.random.default_rng(0)))


def test_a_persona_book_without_user_personas_remembers_what_it_told():
    book = PersonaBook()
    assert book.name(3) == ""
    assert book.persona(3, Profile(confidence=0.7)).name == "cautious" == book.name(3)


# ---------------------------------------------------------------- reasoning


def test_reasoning_comes_first_with_placeholders_in_the_example(run):
    model, requests = run
    body = requests[-1]
    assert list(schema_of(body)["properties"])[0] == "reasoning"
    assert schema_of(body)["properties"]["reasoning"]["maxLength"] == 600
    user = body["messages"][1]["content"]
    assert '"reasoning": "<one or two sentences>"' in user
    assert '"research_spend": <number from 0 to' in user and "<probability>" in user
    assert "<price or null>" in user
    _, obs = llm_observation(model)
    off = render(obs, options=PromptOptions(reasoning=False))
    assert "reasoning" not in off.spec.schema["properties"]
    assert "reasoning" not in off.messages[1]["content"].split("Answer with JSON like")[1]


def test_long_reasoning_is_cut_not_refused(run):
    model, _ = run
    _, obs = llm_observation(model)
    prompt = render(obs, options=PromptOptions(reasoning_chars=40))
    body = {"response_format": {"json_schema": {"schema": prompt.spec.schema}}}
    reply = json.loads(valid_reply(body, spend=0.0))
    reply["reasoning"] = "x" * 500
    verdict = check_reply(json.dumps(reply), prompt.spec, limit=10.0)
    assert verdict.reply is not None
    assert to_action(verdict.reply, obs, prompt.spec).note == "x" * 40


def test_reasoning_is_logged_per_llm_team_and_day(run, tmp_path):
    model, _ = run
    d = model.logs["decisions"].to_frame()
    llm = sorted(model.policy.llm_teams)
    assert len(d) == STEPS * len(llm) and sorted(set(d.team)) == llm
    assert (d.reasoning == "The index is drifting up; I hedge.").all()
    assert (d.fallback == 0).all() and (d.n_forecasts > 0).all()
    write_run(model, tmp_path / "out")
    written = pd.read_parquet(tmp_path / "out" / "decisions.parquet")
    assert list(written.reasoning) == list(d.reasoning)
    news = pd.read_parquet(tmp_path / "out" / "news.parquet")
    assert "headline" in news.columns and news.headline.str.len().min() > 10


def test_a_fallback_day_is_flagged_in_the_decisions_log():
    with FakeChatServer(lambda b: Reply("no JSON here")) as srv:
        cfg = LLMConfig(base_url=srv.url, model="fake", max_retries=0)
        model = wired_model(cfg, 0.25, seed=2)
        model.step()
        model.policy.close()
    d = model.logs["decisions"].to_frame()
    assert len(d) == 2 and (d.fallback == 1).all() and (d.reasoning == "").all()


# ---------------------------------------------------------------- heuristic runs


def test_heuristic_teams_get_no_memory_and_no_decision_rows():
    model = MarketModel(scenario="small", seed=1)
    for _ in range(8):
        model.step()
    assert model.policy.history_teams(model.n_teams) == frozenset()
    assert model.logs["decisions"].rows == 0
    assert model.teams[0].observe(model.view).history is None


def test_the_grammar_schema_keeps_the_reasoning_string(run):
    from llm_market.policies.prompt import grammar_schema

    model, _ = run
    _, obs = llm_observation(model)
    schema = grammar_schema(render(obs).spec.schema)
    assert schema["properties"]["reasoning"] == {"type": "string", "maxLength": 600}
    assert schema["required"][0] == "reasoning"
    assert all("enum" in p for p in schema["properties"]["forecasts"]["properties"].values())
