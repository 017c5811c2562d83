"""Language-model teams: reproducible, validated and accounted for.

:class:`LLMPolicy` renders each team's observation into a prompt (:mod:`.prompt`), asks an
OpenAI-compatible chat endpoint (:mod:`.client`) for a JSON action, checks the reply against the
action schema and the team's money, and turns it into the same :class:`~.base.Action` the
heuristic returns.

* **Validation.** A reply that is not JSON, has wrong or missing fields, numbers out of range, or
  spends more than the budget left (or prices a report below its cost) is sent back with the
  errors, up to ``max_retries`` times; then the team falls back to the heuristic for that day.
  Every failure is counted by kind; nothing raises.
* **Determinism.** A day's calls run concurrently (at most ``concurrency`` at once) in *rounds*:
  every team's first attempt, then every refused team's second attempt, and so on. Results are
  read in the observations' order, never in completion order, and the call cap is handed out in
  that order too, so the actions, the accounting and the cap do not depend on which reply came
  back first.
* **Cache and replay.** Replies are stored by a hash of the full request (:mod:`.cache`). A cached
  reply is accounted exactly like a fresh one (calls, tokens, cost charged to the team), so a run
  replayed from its cache takes the same decisions, pays the same costs and has the same digest.
  Only ``billed_cost`` (money actually paid to a provider) differs.
* **Accounting.** Per team: calls, cached calls, tokens, failures, fallbacks and cost at the
  configured prices. :meth:`LLMPolicy.step_cost` gives the cost of a team's calls on the current
  day, which the model charges to the team's research budget.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from copy import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from ..params import Params
from .base import Action, Observation, Policy, Profile
from .cache import ReplyCache, request_key
from .client import ChatClient, Completion, EndpointError, OpenAIChatClient, TransportError
from .personas import PersonaBook, load_personas
from .prompt import Prompt, PromptOptions, grammar_schema, render, retry_message
from .reply import ActionReply, Verdict, check_reply, to_action

# Completion tokens assumed when estimating the cost of a team's first call.
EXPECTED_COMPLETION_TOKENS = 150
FAILURE_KINDS = ("not_json", "fields", "range", "budget", "cash", "transport")


class ReplayMiss(RuntimeError):
    """Replay mode found no cached reply for a request: the run cannot be replayed.

    Attributes:
        team: The team whose request missed.
        day: The model's day.
        key: The request's cache key.
    """

    def __init__(self, team: int, day: int, key: str, path: str):
        self.team, self.day, self.key = team, day, key
        super().__init__(
            f"replay: no cached reply for team {team} on day {day} (request {key[:12]}) in "
            f"{path}; the cache was recorded from another run, model, parameters or template"
        )


class _LLMSettings(BaseModel):
    """The behaviour of the language-model settings; the fields come from the parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _cache_needs_path(self) -> _LLMSettings:
        if self.cache_mode != "off" and not self.cache_path:
            raise ValueError(f"cache_path: needed with cache_mode={self.cache_mode!r}")
        return self

    def call_cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Cost of one call at the configured prices."""
        return (
            prompt_tokens * self.prompt_price_per_1k
            + completion_tokens * self.completion_price_per_1k
        ) / 1000.0


def _settings_fields() -> dict[str, Any]:
    """The ``llm_*`` parameters of :class:`~llm_market.params.Params`, without the prefix.

    They are the one definition of each setting (type, default, range, description); only the
    sampling seed differs: as a parameter, None means the run's seed (resolved by
    :func:`config_from_params`), while here None means that no seed is sent, and the default is 0.
    """
    fields: dict[str, Any] = {}
    for name, info in Params.model_fields.items():
        if name.startswith("llm_") and name not in RUN_LEVEL_SETTINGS:
            fields[name.removeprefix("llm_")] = (info.annotation, copy(info))
    fields["seed"] = (int | None, Field(0, description="sampling seed sent (None: not sent)"))
    return fields


# Parameters named llm_* that belong to the run, not to the policy's settings.
RUN_LEVEL_SETTINGS = ("llm_share",)

LLMConfig = create_model("LLMConfig", __base__=_LLMSettings, **_settings_fields())
LLMConfig.__doc__ = """Settings of the language-model policy, made from the ``llm_*`` parameters.

    The API key is deliberately not one of them.

    Attributes:
        base_url: OpenAI-compatible endpoint, for example ``http://127.0.0.1:11434/v1`` (Ollama).
        model: Model name as the endpoint knows it.
        temperature: Sampling temperature (0: as deterministic as the server allows).
        seed: Sampling seed sent with every request (None: not sent).
        max_tokens: Completion token limit per call.
        max_retries: Re-prompts after a refused reply before falling back to the heuristic.
        concurrency: Calls in flight at once.
        cache_path: SQLite cache file (needed unless ``cache_mode="off"``).
        cache_mode: ``off``, ``read-write`` or ``replay``.
        prompt_price_per_1k: Cost of 1,000 prompt tokens, in model money units.
        completion_price_per_1k: Cost of 1,000 completion tokens, in model money units.
        call_cap: Most calls in a run (cached ones included); then teams use the heuristic.
            None: no cap.
        timeout: Seconds before one HTTP request is abandoned.
        http_retries: Retries of the HTTP client on connection errors, 429 and 5xx.
        template: Prompt template version.
        response_format: How the reply's shape is requested. ``json_schema``: structured
            output (OpenAI, vLLM, Ollama, llama.cpp's ``llama-server``; the default).
            ``json_object_schema``: ``{"type": "json_object", "schema": ...}``, the form
            llama-cpp-python's server understands, with the probabilities listed as an enum
            because its grammars ignore numeric ranges (:func:`~.prompt.grammar_schema`).
            ``json_object``: plain JSON mode. ``none``: nothing but the prompt.
    """
LLMConfig.__module__ = __name__


@dataclass
class TeamLLMStats:
    """One team's language-model accounting over the run.

    Attributes:
        calls: Calls made (cached ones included: they count as calls of the simulated team).
        cached_calls: Calls answered from the cache.
        prompt_tokens: Prompt tokens of all calls.
        completion_tokens: Completion tokens of all calls.
        failures: Replies refused or calls failed, whatever happened next.
        fallbacks: Days the team was decided by the heuristic instead.
        capped: Of those fallbacks, days without a call because the call cap was reached.
        cost: Cost charged to the team's research budget (all calls at the configured prices).
        billed_cost: Cost of the calls actually sent to the endpoint (not answered by the cache).
        failure_kinds: Failures by kind (see :data:`FAILURE_KINDS`).
    """

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    fallbacks: int = 0
    capped: int = 0
    cost: float = 0.0
    billed_cost: float = 0.0
    failure_kinds: dict[str, int] = field(default_factory=dict)

    def add_failure(self, kind: str) -> None:
        """Count one failure of a kind."""
        self.failures += 1
        self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable counts (kinds in a fixed order)."""
        out = asdict(self)
        out["failure_kinds"] = {k: self.failure_kinds[k] for k in sorted(self.failure_kinds)}
        return out


# ---------------------------------------------------------------------- the policy


@dataclass
class _Turn:
    """One team's conversation on one day."""

    obs: Observation
    prompt: Prompt
    messages: list[dict[str, str]]
    cost: float = 0.0


@dataclass(frozen=True)
class _Result:
    completion: Completion | None
    cached: bool
    error: str | None = None
    seconds: float = 0.0


class LLMPolicy(Policy):
    """Teams decided by a language model, with the heuristic as the fallback.

    Args:
        config: The settings.
        fallback: The policy that decides a team whose replies failed (the model's heuristic).
        client: The chat client; by default an :class:`~.client.OpenAIChatClient` for
            ``config.base_url``, built on the first call that is not answered by the cache.

    Attributes:
        stats: Accounting per team id.
        calls_made: Calls in the run so far (what the call cap counts).
        call_seconds: Seconds spent waiting on calls sent to the endpoint, summed over calls
            (wall-clock, so it is reported but never part of a run's results).

    Raises:
        FileNotFoundError: Replay mode and the cache file does not exist.
    """

    name = "llm"

    def __init__(self, config: LLMConfig, fallback: Policy, client: ChatClient | None = None):
        self.config = config
        self.fallback = fallback
        self._client = client
        self.cache = (
            ReplyCache(config.cache_path, config.cache_mode)
            if config.cache_mode != "off" and config.cache_path
            else None
        )
        self.stats: dict[int, TeamLLMStats] = {}
        self.calls_made = 0
        self.call_seconds = 0.0
        self._step_cost: dict[int, float] = {}
        self._pool: ThreadPoolExecutor | None = None
        # What the prompt shows and who each team is (prompt.py and personas.py do the work).
        self.prompt_options = PromptOptions.from_config(config)
        self.personas = PersonaBook(load_personas(config.personas) if config.personas else None)
        self._fallbacks_before: dict[int, int] = {}

    wants_history = True

    def introduce(self, team: int, profile: Profile) -> None:
        """Pick ``team``'s persona from its traits (or the user's list) before it first decides."""
        self.personas.persona(team, profile)

    def persona_of(self, team: int) -> str:
        """The short name of ``team``'s persona (e.g. ``cautious``, or a user persona's name)."""
        return self.personas.name(team)

    def fell_back(self, team: int) -> bool:
        """Whether the latest :meth:`decide_all` left ``team`` to the fallback policy."""
        before = self._fallbacks_before.get(int(team))
        return before is not None and self.team_stats(team).fallbacks > before

    # -- public accounting

    def reset_step(self) -> None:
        """Forget the previous day's call costs (a day on which no LLM team acts costs 0)."""
        self._step_cost = {}

    pays_for_calls = True

    def step_cost(self, team: int) -> float:
        """Cost of ``team``'s calls in the latest :meth:`decide_all` (0 if it made none)."""
        return self._step_cost.get(int(team), 0.0)

    def team_stats(self, team: int) -> TeamLLMStats:
        """The accounting of one team (created empty on first use)."""
        return self.stats.setdefault(int(team), TeamLLMStats())

    def summary(self) -> dict[str, Any]:
        """Totals and per-team accounting, JSON-serialisable (for ``summary.json``)."""
        teams = {str(t): self.stats[t].to_dict() for t in sorted(self.stats)}
        total: dict[str, Any] = TeamLLMStats().to_dict()
        kinds: dict[str, int] = {}
        for t in sorted(self.stats):
            s = self.stats[t]
            for name in total:
                if name != "failure_kinds":
                    total[name] += getattr(s, name)
            for k, v in s.failure_kinds.items():
                kinds[k] = kinds.get(k, 0) + v
        total["failure_kinds"] = {k: kinds[k] for k in sorted(kinds)}
        total["cost"] = round(total["cost"], 10)
        total["billed_cost"] = round(total["billed_cost"], 10)
        return {
            **total,
            "call_seconds": round(self.call_seconds, 3),
            "config": self.config.model_dump(),
            "teams": teams,
        }

    # -- deciding

    def decide_all(self, observations: list[Observation]) -> list[Action]:
        """Ask the model for every team's action; return actions in the observations' order.

        Raises:
            ReplayMiss: Replay mode and a request is not in the cache.
            EndpointError: The endpoint rejects the key, the model or the request shape.
        """
        self._step_cost = {}
        n = len(observations)
        if n == 0:
            return []
        turns = [self._start(obs) for obs in observations]
        actions: list[Action | None] = [None] * n
        fallback: list[int] = []
        pending = list(range(n))
        cap = self.config.call_cap
        for attempt in range(self.config.max_retries + 1):
            calling = []
            # Hand out the cap in the observations' order: which team is refused a call never
            # depends on which reply arrives first.
            for i in pending:
                if cap is not None and self.calls_made >= cap:
                    st = self.team_stats(turns[i].obs.team)
                    st.capped += 1
                    fallback.append(i)
                else:
                    self.calls_made += 1
                    calling.append(i)
            pending = []
            if not calling:
                break
            results = self._fetch([turns[i] for i in calling])
            for i, result in zip(calling, results, strict=True):
                verdict = self._account(turns[i], result)
                if verdict.reply is not None:
                    actions[i] = to_action(verdict.reply, turns[i].obs, turns[i].prompt.spec)
                    continue
                self.team_stats(turns[i].obs.team).add_failure(verdict.kind or "transport")
                if result.completion is None or attempt == self.config.max_retries:
                    # A failed transport is not re-sent the same day: the identical request would
                    # have the same cache key, and a replay must see what the original saw.
                    fallback.append(i)
                    continue
                turns[i].messages = [
                    *turns[i].messages,
                    {"role": "assistant", "content": result.completion.content or ""},
                    {"role": "user", "content": retry_message(list(verdict.errors))},
                ]
                pending.append(i)
        fallback.extend(pending)
        fallback.sort()
        if fallback:
            for i in fallback:
                self.team_stats(turns[i].obs.team).fallbacks += 1
            decided = self.fallback.decide_all([observations[i] for i in fallback])
            for i, action in zip(fallback, decided, strict=True):
                actions[i] = action
        for turn in turns:
            self._step_cost[int(turn.obs.team)] = turn.cost
        return actions  # type: ignore[return-value]

    def _start(self, obs: Observation) -> _Turn:
        st = self.team_stats(obs.team)
        self._fallbacks_before[int(obs.team)] = st.fallbacks
        persona = self.personas.persona(obs.team, obs.profile)
        options = self.prompt_options
        if st.calls:
            expected = st.cost / st.calls
        elif self.config.prompt_price_per_1k or self.config.completion_price_per_1k:
            draft = render(obs, self.config.template, 0.0, options, persona)
            chars = sum(len(m["content"]) for m in draft.messages)
            expected = self.config.call_cost((chars + 3) // 4, EXPECTED_COMPLETION_TOKENS)
        else:
            expected = 0.0
        prompt = render(obs, self.config.template, expected, options, persona)
        return _Turn(obs, prompt, list(prompt.messages))

    def _request(self, turn: _Turn) -> dict[str, Any]:
        c = self.config
        req: dict[str, Any] = {
            "model": c.model,
            "messages": [dict(m) for m in turn.messages],
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
        }
        if c.seed is not None:
            req["seed"] = c.seed
        if c.response_format == "json_schema":
            req["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "team_action",
                    "strict": True,
                    "schema": turn.prompt.spec.schema,
                },
            }
        elif c.response_format == "json_object_schema":
            # llama-cpp-python's server: JSON mode constrained by a schema it turns into a grammar.
            req["response_format"] = {
                "type": "json_object",
                "schema": grammar_schema(turn.prompt.spec.schema),
            }
        elif c.response_format == "json_object":
            req["response_format"] = {"type": "json_object"}
        return req

    def _fetch(self, turns: list[_Turn]) -> list[_Result]:
        """One round: look every request up in the cache, send the misses concurrently."""
        requests = [self._request(t) for t in turns]
        keys = [request_key(r, self.config.template) for r in requests]
        results: list[_Result | None] = [None] * len(turns)
        if self.cache is not None:
            replay = self.cache.mode == "replay"
            for j, key in enumerate(keys):
                entry = self.cache.get(key)
                if entry is not None and "error" in entry:
                    # Replay reproduces the original's transport failure; read-write retries it.
                    if replay:
                        results[j] = _Result(None, True, entry["error"])
                elif entry is not None:
                    results[j] = _Result(Completion.from_dict(entry), True)
                if results[j] is None and replay:
                    t = turns[j]
                    raise ReplayMiss(t.obs.team, t.obs.market.day, key, str(self.config.cache_path))
        misses = [j for j, r in enumerate(results) if r is None]
        if misses:
            client = self._get_client()
            pool = self._get_pool()
            futures = {j: pool.submit(self._call, client, requests[j], keys[j]) for j in misses}
            for j in misses:
                results[j] = futures[j].result()
                self.call_seconds += results[j].seconds
        return results  # type: ignore[return-value]

    def _call(self, client: ChatClient, request: dict[str, Any], key: str) -> _Result:
        # Runs in a worker thread: talks to the endpoint and the cache, never to shared stats.
        start = time.perf_counter()
        try:
            completion = client.complete(request)
        except TransportError as err:
            result = _Result(None, False, str(err), time.perf_counter() - start)
            if self.cache is not None:
                self.cache.put(key, request, {"error": result.error})
            return result
        if self.cache is not None:
            self.cache.put(key, request, completion.to_dict())
        return _Result(completion, False, None, time.perf_counter() - start)

    def _account(self, turn: _Turn, result: _Result) -> Verdict:
        st = self.team_stats(turn.obs.team)
        st.calls += 1
        st.cached_calls += int(result.cached)
        c = result.completion
        if c is None:
            return Verdict(None, "transport", (result.error or "transport failure",))
        cost = self.config.call_cost(c.prompt_tokens, c.completion_tokens)
        st.prompt_tokens += c.prompt_tokens
        st.completion_tokens += c.completion_tokens
        st.cost += cost
        if not result.cached:
            st.billed_cost += cost
        turn.cost += cost
        limit = max(turn.obs.budget, 0.0) - turn.cost
        return check_reply(c.content, turn.prompt.spec, limit, c.finish_reason)

    def _get_client(self) -> ChatClient:
        if self._client is None:
            self._client = OpenAIChatClient(
                self.config.base_url, self.config.timeout, self.config.http_retries
            )
        return self._client

    def _get_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.config.concurrency, thread_name_prefix="llm-call"
            )
        return self._pool

    def close(self) -> None:
        """Stop the worker threads and close the cache."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def __enter__(self) -> LLMPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- mixed populations


def llm_team_ids(n_teams: int, share: float, rng: np.random.Generator | None = None) -> list[int]:
    """Choose the teams driven by the language model.

    Args:
        n_teams: Number of teams.
        share: Share of teams to choose, in [0, 1]; ``round(share * n_teams)`` teams (halves up).
        rng: A random stream to draw them from (recommended: teams are owned round-robin, so any
            evenly spaced choice would give some principals only LLM teams); None picks evenly
            spaced ids.

    Returns:
        The chosen team ids, sorted.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"llm_share: must be in [0, 1] (got {share!r})")
    k = int(math.floor(share * n_teams + 0.5))
    if k == 0:
        return []
    if rng is None:
        return sorted({int(i * n_teams // k) for i in range(k)})
    return sorted(int(i) for i in rng.choice(n_teams, size=k, replace=False))


class MixedPolicy(Policy):
    """Some teams decided by an :class:`LLMPolicy`, the rest by another policy (the heuristic).

    The other policy decides its teams first, then the language-model teams are decided (their
    fallbacks draw on the same heuristic after that); actions come back in the observations'
    order.

    Args:
        llm: The language-model policy.
        other: The policy of every other team (also the LLM policy's fallback, as a rule).
        llm_teams: Ids of the teams the language model decides.
    """

    name = "llm"

    def __init__(self, llm: LLMPolicy, other: Policy, llm_teams: list[int]):
        self.llm = llm
        self.other = other
        self.llm_teams = frozenset(int(t) for t in llm_teams)
        self.llm.personas.assign(self.llm_teams)

    wants_history = True

    def history_teams(self, n_teams: int) -> frozenset[int]:
        """Only the language-model teams get a memory (and a row in the decisions log)."""
        return self.llm_teams

    def introduce(self, team: int, profile: Profile) -> None:
        """Introduce a language-model team to the language-model policy."""
        if int(team) in self.llm_teams:
            self.llm.introduce(team, profile)

    def persona_of(self, team: int) -> str:
        """The persona of a language-model team ("" for the others)."""
        return self.llm.persona_of(team) if int(team) in self.llm_teams else ""

    def fell_back(self, team: int) -> bool:
        """Whether a language-model team was left to the fallback today."""
        return int(team) in self.llm_teams and self.llm.fell_back(team)

    def decide_all(self, observations: list[Observation]) -> list[Action]:
        """Split the observations by team, decide each group, merge in the original order."""
        mine = [i for i, o in enumerate(observations) if o.team in self.llm_teams]
        rest = [i for i, o in enumerate(observations) if o.team not in self.llm_teams]
        out: list[Action | None] = [None] * len(observations)
        self.llm.reset_step()
        for group, policy in ((rest, self.other), (mine, self.llm)):
            if group:
                decided = policy.decide_all([observations[i] for i in group])
                for i, action in zip(group, decided, strict=True):
                    out[i] = action
        return out  # type: ignore[return-value]

    pays_for_calls = True

    def step_cost(self, team: int) -> float:
        """Cost of ``team``'s calls today (0 for heuristic teams)."""
        return self.llm.step_cost(team)

    def describe_team(self, team: int) -> dict[str, str]:
        """An LLM team's model and persona; any other team as its own policy describes it."""
        if int(team) not in self.llm_teams:
            return self.other.describe_team(team)
        return {"policy": "llm", "model": self.llm.config.model, "persona": self.persona_of(team)}

    @property
    def stats(self) -> dict[int, TeamLLMStats]:
        """Per-team accounting of the language-model teams."""
        return self.llm.stats

    def summary(self) -> dict[str, Any]:
        """The LLM policy's summary plus which teams it drives."""
        return {"llm_teams": sorted(self.llm_teams), **self.llm.summary()}

    def close(self) -> None:
        """Release the LLM policy's threads and cache."""
        self.llm.close()


def config_from_params(params: Any, seed: int) -> LLMConfig:
    """Build the LLM settings from model parameters named ``llm_<field>``.

    Every field of :class:`LLMConfig` is read from the attribute ``"llm_" + field`` when the
    parameters have it; ``llm_seed=None`` means the run's seed, so that two runs with different
    seeds do not share sampling seeds.

    Args:
        params: The model's parameters (any object with ``llm_*`` attributes).
        seed: The run's seed.
    """
    values = {
        name: getattr(params, f"llm_{name}")
        for name in LLMConfig.model_fields
        if hasattr(params, f"llm_{name}")
    }
    if values.get("seed") is None:
        values["seed"] = int(seed)
    return LLMConfig(**values)


def build_policy(
    heuristic: Policy,
    n_teams: int,
    llm_share: float,
    config: LLMConfig,
    rng: np.random.Generator | None = None,
    client: ChatClient | None = None,
) -> MixedPolicy:
    """The policy of a run with ``policy="llm"``: a share of LLM teams, the rest heuristic.

    Args:
        heuristic: The model's heuristic policy (decides the other teams and the fallbacks).
        n_teams: Number of teams.
        llm_share: Share of teams driven by the language model.
        config: The LLM settings.
        rng: Stream that picks the LLM teams (see :func:`llm_team_ids`).
        client: A chat client to use instead of the default one (tests).
    """
    llm = LLMPolicy(config, heuristic, client=client)
    return MixedPolicy(llm, heuristic, llm_team_ids(n_teams, llm_share, rng))


__all__ = [
    "ActionReply",
    "EndpointError",
    "LLMConfig",
    "LLMPolicy",
    "MixedPolicy",
    "ReplayMiss",
    "TeamLLMStats",
    "build_policy",
    "check_reply",
    "config_from_params",
    "llm_team_ids",
    "to_action",
]
