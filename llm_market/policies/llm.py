"""Language-model teams: reproducible, validated and accounted for.

:class:`LLMPolicy` renders each team's observation into a prompt (:mod:`.prompt`), asks an
OpenAI-compatible chat endpoint (:mod:`.client`) for a JSON action, checks the reply against the
action schema and the team's money (:mod:`.reply`), and turns it into the same
:class:`~.base.Action` the heuristic returns.

* **Validation.** A reply that is not JSON, has wrong or missing fields, numbers out of range, is
  too long, or spends more than the budget left (or prices a report below its cost) is sent back
  with the errors, up to ``max_retries`` times; then the team falls back to the heuristic for
  that day. Every failure is counted by kind.
* **Throughput.** Each team's conversation of the day (ask, check, re-prompt, ...) runs as one
  task on a worker thread, so a refused reply delays nobody else. Tasks in flight:
  ``concurrency``, or by default one per LLM team up to ``max_concurrency``. A replay, which
  never waits on an endpoint, runs its tasks one after the other on the calling thread.
* **Determinism.** Results are applied in the observations' order, never in completion order;
  stats and costs are merged in that order after every task has returned. The call cap is handed
  out before the day's calls, in that order too: every team (every batch, in batched mode) first
  gets one call while the cap lasts, then each team in turn gets up to ``max_retries`` re-prompt
  calls from what is left; calls a team does not use go back to the cap after the day. So which
  team is refused a call never depends on which reply arrives first.
* **Loud failures.** ``failure_budget`` consecutive failed calls (transport failures, counted as
  they happen) stop the run with :class:`~llm_market.errors.LLMUnavailable`, which names the
  endpoint and the last error; an endpoint that refuses every call (bad key, unknown model,
  request shape) stops it at once with :class:`~.client.EndpointError`. A team whose budget
  cannot pay for one call decides without one (heuristic, counted ``unaffordable``).
* **Cache and replay.** Replies are stored by a hash of the full request (:mod:`.cache`). A cached
  reply is accounted exactly like a fresh one (calls, tokens, cost charged to the team), so a run
  replayed from its cache takes the same decisions, pays the same costs and has the same digest.
  Only ``billed_cost`` (money actually paid to a provider) differs.
* **Accounting.** Per team: calls, cached calls, tokens (server counts, checked:
  :func:`checked_usage`), failures, fallbacks and cost at the configured prices.
  :meth:`LLMPolicy.step_cost` gives the cost of a team's calls on the current day, which the
  model charges to the team's research budget.
* **Batched mode** (``batch_size`` K > 1). The day's calling teams are grouped K at a time in the
  observations' order; one request carries the K prompts (:func:`batch_messages`) and asks for
  ``{"teams": {"t<id>": <action>, ...}}``; each team's element is checked as a single reply. A
  refused element is re-asked alone (the team's own prompt, its element and the errors), after
  every batch of the day has returned. The call's tokens are split evenly among its K teams
  (remainders to the first), and so is its cost.
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from copy import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from ..errors import LLMUnavailable
from ..params import Params
from .base import Action, Observation, Policy, Profile
from .cache import ReplyCache, Splice
from .client import (
    ChatClient,
    Completion,
    EndpointError,
    HTTPChatClient,
    TransportError,
    estimate_tokens,
)
from .personas import PersonaBook, load_personas
from .prompt import Prompt, PromptOptions, day_scope, grammar_schema, render, retry_message
from .reply import ActionReply, Verdict, check_reply, to_action

# Completion tokens assumed when estimating the cost of a team's first call.
EXPECTED_COMPLETION_TOKENS = 150
FAILURE_KINDS = ("not_json", "fields", "range", "budget", "cash", "too_long", "transport")
# A re-prompt sends back at most this much of the refused reply: never a huge reply whole.
REPROMPT_REPLY_CHARS = 4096
# Reported prompt tokens above this many times the estimate (4 characters a token), plus the
# slack for chat templates, are not believed.
PROMPT_TOKEN_FACTOR = 8
PROMPT_TOKEN_SLACK = 256
# Queued cache rows the calling thread commits while it waits for the day's other calls.
FLUSH_ROWS = 16
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


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
            f"{path}; the cache was recorded from another run, endpoint (llm_base_url), model, "
            "parameters or template"
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

    def workers(self, tasks: int) -> int:
        """Calls in flight for ``tasks`` conversations.

        ``concurrency`` when set, else one per task up to ``max_concurrency``.
        """
        if self.concurrency is not None:
            return self.concurrency
        return max(1, min(tasks, self.max_concurrency))


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
        concurrency: Calls in flight at once (None: one per LLM team, up to
            ``max_concurrency``).
        max_concurrency: The most calls in flight when ``concurrency`` is None.
        cache_path: SQLite cache file (needed unless ``cache_mode="off"``).
        cache_mode: ``off``, ``read-write`` or ``replay``.
        prompt_price_per_1k: Cost of 1,000 prompt tokens, in model money units.
        completion_price_per_1k: Cost of 1,000 completion tokens, in model money units.
        call_cap: Most calls (requests) in a run, cached ones included; then teams use the
            heuristic. None: no cap.
        timeout: Seconds one call may take in all: connecting, waiting, reading and the
            client's HTTP retries.
        http_retries: Retries of the HTTP client on connection errors, 408, 409, 429 and 5xx.
        template: Prompt template version.
        response_format: How the reply's shape is requested. ``json_schema``: structured
            output (OpenAI, vLLM, Ollama, llama.cpp's ``llama-server``; the default).
            ``json_object_schema``: ``{"type": "json_object", "schema": ...}``, the form
            llama-cpp-python's server understands, with the probabilities listed as an enum
            because its grammars ignore numeric ranges (:func:`~.prompt.grammar_schema`).
            ``json_object``: plain JSON mode. ``none``: nothing but the prompt.
        batch_size: Teams asked in one request (1: one request per team).
        failure_budget: Consecutive failed calls that stop the run with
            :class:`~llm_market.errors.LLMUnavailable` (0: never).
        token_param: Name the token limit is sent under: ``auto`` (``max_completion_tokens``,
            then ``max_tokens`` for the rest of the run if the server answers HTTP 400 naming
            it), ``max_tokens`` or ``max_completion_tokens``.
        max_reply_bytes: The longest reply text kept; a longer one is a ``too_long`` failure.
    """
LLMConfig.__module__ = __name__


@dataclass
class TeamLLMStats:
    """One team's language-model accounting over the run.

    Attributes:
        calls: Calls made (cached ones included: they count as calls of the simulated team; in
            batched mode, the batches the team was part of plus its own re-asks).
        cached_calls: Calls answered from the cache.
        prompt_tokens: Prompt tokens of all calls (the team's share of a batch).
        completion_tokens: Completion tokens of all calls.
        failures: Replies refused or calls failed, whatever happened next.
        fallbacks: Days the team was decided by the heuristic instead.
        capped: Of those fallbacks, days without a call because the call cap was reached.
        unaffordable: Of those fallbacks, days without a call because the team's budget could
            not pay for one (nothing charged).
        usage_invalid: Calls whose reported usage was not believed (negative, not a whole
            number, more completion tokens than the limit, or far more prompt tokens than the
            prompt could hold) and was estimated from the text instead.
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
    unaffordable: int = 0
    usage_invalid: int = 0
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


def _token_count(value: Any, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def checked_usage(completion: Completion, request: dict[str, Any]) -> tuple[int, int, bool]:
    """The token counts to charge for a completion, and whether the server's were not believed.

    A count is believed when it is a non-negative whole number, at most the request's
    ``max_tokens`` for the completion, and at most :data:`PROMPT_TOKEN_FACTOR` times the prompt's
    estimated length (plus :data:`PROMPT_TOKEN_SLACK`) for the prompt. A count that is not is
    replaced by the estimate from the text (four characters a token).

    Returns:
        ``(prompt_tokens, completion_tokens, invalid)``.
    """
    chars = sum(len(str(m.get("content") or "")) for m in request["messages"])
    est_prompt = (chars + 3) // 4
    pt, ct = completion.prompt_tokens, completion.completion_tokens
    pt_ok = _token_count(pt, PROMPT_TOKEN_FACTOR * est_prompt + PROMPT_TOKEN_SLACK)
    ct_ok = _token_count(ct, int(request.get("max_tokens") or 0))
    return (
        pt if pt_ok else est_prompt,
        ct if ct_ok else estimate_tokens(completion.content or ""),
        not (pt_ok and ct_ok),
    )


# ---------------------------------------------------------------------- the policy


@dataclass
class _Turn:
    """One team's conversation on one day (touched by one thread at a time)."""

    obs: Observation
    prompt: Prompt
    messages: list[dict[str, str]]
    expected: float = 0.0
    cost: float = 0.0
    # The first request, its cache key and canonical JSON, when made ahead (replay's prefetch).
    first: tuple[dict[str, Any], str, str | None] | None = None


@dataclass(frozen=True)
class _Result:
    """What one request got: a completion (fresh or cached) or a failure."""

    completion: Completion | None
    cached: bool
    error: str | None = None
    kind: str = "transport"
    seconds: float = 0.0


@dataclass
class _Attempt:
    """One of a team's calls (or its share of a batch), checked and priced in its task."""

    result: _Result
    verdict: Verdict
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_invalid: bool = False
    cost: float = 0.0
    text: str | None = None  # the reply text checked (a batch's element for its team)


@dataclass
class _Conversation:
    """A team's day: its attempts in order, and how it ended."""

    attempts: list[_Attempt] = field(default_factory=list)
    reply: ActionReply | None = None
    capped: bool = False
    requests: int = 0  # requests this conversation sent on its own (not its batch)


class LLMPolicy(Policy):
    """Teams decided by a language model, with the heuristic as the fallback.

    Args:
        config: The settings.
        fallback: The policy that decides a team whose replies failed (the model's heuristic).
        client: The chat client; by default an :class:`~.client.HTTPChatClient` for
            ``config.base_url`` (not made in replay mode, which never calls).

    Attributes:
        stats: Accounting per team id.
        calls_made: Requests in the run so far, cached ones included (what the call cap
            counts; one per team and attempt unless batched).
        call_seconds: Seconds spent waiting on requests sent to the endpoint, summed over them
            (wall-clock, so it is reported but never part of a run's results).
        server: The model names and ``system_fingerprint`` values the server reported, in the
            order first seen (cached replies included).

    Raises:
        FileNotFoundError: Replay mode and the cache file does not exist.
        UsageError: The endpoint's URL is not http(s), an API key would go to a remote host over
            plain http, or the cache file is locked or not a database.
    """

    name = "llm"

    def __init__(self, config: LLMConfig, fallback: Policy, client: ChatClient | None = None):
        self.config = config
        self.fallback = fallback
        self.cache = (
            ReplyCache(config.cache_path, config.cache_mode)
            if config.cache_mode != "off" and config.cache_path
            else None
        )
        if client is None and config.cache_mode != "replay":
            client = HTTPChatClient(
                config.base_url,
                config.timeout,
                config.http_retries,
                config.max_reply_bytes * config.batch_size,
                config.token_param,
            )
        self._client = client
        self.stats: dict[int, TeamLLMStats] = {}
        self.calls_made = 0
        self.call_seconds = 0.0
        self.server: dict[str, list[str]] = {"model": [], "system_fingerprint": []}
        self._step_cost: dict[int, float] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._lock = threading.Lock()
        self._streak = 0
        self._abort: LLMUnavailable | None = None
        # What the prompt shows and who each team is (prompt.py and personas.py do the work).
        self.prompt_options = PromptOptions.from_config(config)
        self.personas = PersonaBook(load_personas(config.personas) if config.personas else None)
        self._fallbacks_before: dict[int, int] = {}
        # response_format of single requests by schema (see _response_format).
        self._formats: dict[int, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        # Cache keys of first requests by system message (see _key), with the format they used.
        self._splices: dict[str, tuple[dict[str, Any] | None, Splice | None]] = {}

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
        st = self.stats.get(team)
        if st is None:
            # Made only when missing (setdefault would build one on every call).
            st = self.stats[int(team)] = TeamLLMStats()
        return st

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

        def one(values: list[str]) -> str | list[str] | None:
            return values[0] if len(values) == 1 else (values or None)

        return {
            **total,
            "requests": self.calls_made,
            "call_seconds": round(self.call_seconds, 3),
            "server": {k: one(v) for k, v in self.server.items()},
            "config": self.config.model_dump(),
            "teams": teams,
        }

    # -- deciding

    def decide_all(self, observations: list[Observation]) -> list[Action]:
        """Ask the model for every team's action; return actions in the observations' order.

        Raises:
            ReplayMiss: Replay mode and a request is not in the cache.
            EndpointError: The endpoint rejects the key, the model or the request shape.
            LLMUnavailable: ``failure_budget`` calls in a row failed.
            CacheError: The cache file stayed locked by another process.
        """
        if self.config.cache_mode == "replay" and gc.isenabled():
            # A replayed day makes tens of thousands of short-lived objects and frees nearly all
            # of them by reference counting; the cyclic collections their count would set off
            # walk the whole model's heap and cost about a third of the day. The collector
            # runs again once the day is decided (nothing here relies on it; no threads run).
            gc.disable()
            try:
                return self._decide_all(observations)
            finally:
                gc.enable()
        return self._decide_all(observations)

    def _decide_all(self, observations: list[Observation]) -> list[Action]:
        self._step_cost = {}
        if not observations:
            return []
        expected = [self._expected_cost(obs) for obs in observations]
        groups, allowed = self._hand_out(observations, expected)
        try:
            turns, convs, requests = self._converse_all(observations, expected, groups, allowed)
        finally:
            if self.cache is not None:
                self.cache.flush()
        if self._abort is not None:
            # The day is not run: its calls are not accounted, like the days never reached.
            raise self._abort
        self.calls_made += requests
        actions: list[Action | None] = [None] * len(observations)
        for i, obs in enumerate(observations):
            turn, conv = turns.get(i), convs.get(i)
            if turn is not None and conv is not None:
                self._merge(turn, conv)
                if conv.reply is not None:
                    actions[i] = to_action(conv.reply, obs, turn.prompt.spec)
            self._step_cost[int(obs.team)] = turn.cost if turn is not None else 0.0
        fallback = [i for i, a in enumerate(actions) if a is None]
        if fallback:
            for i in fallback:
                self.team_stats(observations[i].team).fallbacks += 1
            decided = self.fallback.decide_all([observations[i] for i in fallback])
            for i, action in zip(fallback, decided, strict=True):
                actions[i] = action
        return actions  # type: ignore[return-value]

    def _expected_cost(self, obs: Observation) -> float:
        """What the team's next call should cost.

        Its mean so far, or before its first call an estimate from its prompt (and
        :data:`EXPECTED_COMPLETION_TOKENS`).
        """
        st = self.team_stats(obs.team)
        self._fallbacks_before[int(obs.team)] = st.fallbacks
        self.personas.persona(obs.team, obs.profile)
        if st.calls:
            return st.cost / st.calls
        if self.config.prompt_price_per_1k or self.config.completion_price_per_1k:
            draft = self._render(obs, 0.0)
            chars = sum(len(m["content"]) for m in draft.messages)
            return self.config.call_cost((chars + 3) // 4, EXPECTED_COMPLETION_TOKENS)
        return 0.0

    def _render(self, obs: Observation, expected: float) -> Prompt:
        # The persona was picked on the calling thread (introduce, or _expected_cost); reading it
        # here on a worker thread only looks it up.
        persona = self.personas.persona(obs.team, obs.profile)
        return render(obs, self.config.template, expected, self.prompt_options, persona)

    def _turn(self, obs: Observation, expected: float) -> _Turn:
        # On a worker thread: rendering overlaps the other teams' calls.
        prompt = self._render(obs, expected)
        return _Turn(obs, prompt, list(prompt.messages), expected)

    def _hand_out(
        self, observations: list[Observation], expected: list[float]
    ) -> tuple[list[list[int]], dict[int, int]]:
        """Who calls today, in which groups, with how many calls each (see the module notes).

        Returns:
            The groups of team indices that make a first call (one team each unless batched),
            and the calls each of their teams may make (first included).
        """
        affordable = []
        for i, (obs, cost) in enumerate(zip(observations, expected, strict=True)):
            if cost > 0 and max(obs.budget, 0.0) < cost:
                self.team_stats(obs.team).unaffordable += 1
            else:
                affordable.append(i)
        k = self.config.batch_size
        cap = self.config.call_cap
        left = None if cap is None else max(cap - self.calls_made, 0)
        groups: list[list[int]] = []
        for j in range(0, len(affordable), k):
            group = affordable[j : j + k]
            if left == 0:
                for i in group:
                    self.team_stats(observations[i].team).capped += 1
                continue
            groups.append(group)
            if left is not None:
                left -= 1
        allowed: dict[int, int] = {}
        for group in groups:
            for i in group:
                extra = self.config.max_retries
                if left is not None:
                    extra = min(extra, left)
                    left -= extra
                allowed[i] = 1 + extra
        return groups, allowed

    def _converse_all(
        self,
        observations: list[Observation],
        expected: list[float],
        groups: list[list[int]],
        allowed: dict[int, int],
    ) -> tuple[dict[int, _Turn], dict[int, _Conversation], int]:
        """Run the day's conversations on the worker threads; wait for all of them.

        Returns:
            Each calling team's turn and conversation by index, and the requests sent.
        """
        turns: dict[int, _Turn] = {}
        convs: dict[int, _Conversation] = {}
        if not groups:
            return turns, convs, 0
        if self.config.batch_size == 1 and self.config.cache_mode == "replay":
            for i, (turn, conv) in self._replay_alone(observations, expected, groups, allowed):
                turns[i], convs[i] = turn, conv
            return turns, convs, sum(c.requests for c in convs.values())
        if self.config.batch_size == 1:
            n = len(groups)
            alone = self._converse_alone
            futures = {
                i: self._submit(n, alone, observations[i], expected[i], allowed[i])
                for (i,) in groups
            }
            for i, (turn, conv) in self._results(futures).items():
                turns[i], convs[i] = turn, conv
            return turns, convs, sum(c.requests for c in convs.values())
        batch_futures = {
            g[0]: self._submit(
                len(groups),
                self._ask_batch,
                [observations[i] for i in g],
                [expected[i] for i in g],
            )
            for g in groups
        }
        batches = self._results(batch_futures)
        again = []
        for g in groups:
            for i, (turn, conv) in zip(g, batches[g[0]], strict=True):
                turns[i], convs[i] = turn, conv
                failed = not conv.attempts or conv.attempts[-1].result.completion is None
                if conv.reply is None and not failed:
                    again.append(i)
        requests = len(groups)
        if again:
            futures = {
                i: self._submit(len(again), self._converse, turns[i], allowed[i], convs[i])
                for i in again
            }
            convs.update(self._results(futures))
            requests += sum(convs[i].requests for i in again)
        return turns, convs, requests

    def _replay_alone(
        self,
        observations: list[Observation],
        expected: list[float],
        groups: list[list[int]],
        allowed: dict[int, int],
    ) -> list[tuple[int, tuple[_Turn, _Conversation]]]:
        """Replay's conversations: every first request keyed, the day's replies read at once.

        The same conversations as :meth:`_converse_alone` runs, one after the other on the
        calling thread (see :meth:`_submit`), with the first requests' cached replies fetched in
        one query. Like :meth:`_results`, the first error in the observations' order is raised
        once every conversation has run.
        """
        made: dict[int, _Turn | Exception] = {}
        with day_scope():  # the day's teams share its market view's parts of the prompt
            for (i,) in groups:
                try:
                    turn = self._turn(observations[i], expected[i])
                    request = self._request(turn.messages, turn.prompt.spec.schema, 1)
                    turn.first = (request, *self._key(request, turn))
                    made[i] = turn
                except Exception as err:  # noqa: BLE001 - raised by _results, in order
                    made[i] = err
        if self.cache is not None:
            self.cache.prefetch([t.first[1] for t in made.values() if isinstance(t, _Turn)])
        done, errors = [], []
        for (i,) in sorted(groups):
            turn = made[i]
            if isinstance(turn, Exception):
                errors.append(turn)
                continue
            try:
                done.append((i, (turn, self._converse(turn, allowed[i]))))
            except Exception as err:  # noqa: BLE001 - re-raised below, in order
                errors.append(err)
        if errors:
            raise errors[0]
        return done

    def _submit(self, tasks: int, fn: Any, *args: Any) -> Future:
        if self.config.cache_mode == "replay":
            # Replay never waits on an endpoint: a worker thread would only add its hand-offs
            # and contend for the GIL. The task runs here, to the same result (tasks share
            # nothing a replay changes, and errors are still raised in the observations' order).
            done: Future = Future()
            try:
                done.set_result(fn(*args))
            except Exception as err:  # noqa: BLE001 - raised by _results, in order
                done.set_exception(err)
            return done
        size = self.config.workers(tasks)
        if self._pool is None or size > self._pool_size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="llm-call")
            self._pool_size = size
        return self._pool.submit(fn, *args)

    def _results(self, futures: dict[int, Future]) -> dict[int, Any]:
        """Every task's result, or the first error in the observations' order.

        It is raised after all tasks have ended, so which error it is never depends on timing.
        While waiting, the calling thread commits the cache's queued replies whenever
        :data:`FLUSH_ROWS` have piled up, so that the day's last commit is a short one.
        """
        running = set(futures.values())
        while running and self.cache is not None and self.cache.mode == "read-write":
            _, running = wait(running, return_when=FIRST_COMPLETED)
            if running and self.cache.pending() >= FLUSH_ROWS:
                self.cache.flush()
        errors = []
        out = {}
        for i in sorted(futures):
            try:
                out[i] = futures[i].result()
            except Exception as err:  # noqa: BLE001 - re-raised below, in order
                errors.append(err)
        if errors:
            raise errors[0]
        return out

    # -- one team's conversation (runs on a worker thread)

    def _converse_alone(
        self, obs: Observation, expected: float, allowed: int
    ) -> tuple[_Turn, _Conversation]:
        turn = self._turn(obs, expected)
        return turn, self._converse(turn, allowed)

    def _converse(
        self, turn: _Turn, allowed: int, conv: _Conversation | None = None
    ) -> _Conversation:
        """Ask, check, re-prompt until a reply passes, the retries or the allowance run out.

        ``conv`` continues a conversation whose first attempt was a batch's element.
        """
        if conv is None:
            conv = _Conversation()
        else:
            self._reprompt(turn, conv.attempts[-1])
        while True:
            n = len(conv.attempts)
            if n >= allowed:
                conv.capped = True
                return conv
            if self._abort is not None:
                return conv
            if n == 0 and turn.first is not None:
                request = turn.first[0]
            else:
                request = self._request(turn.messages, turn.prompt.spec.schema, 1)
            result = self._fetch(request, turn)
            conv.requests += 1
            attempt = self._check(turn, result, request, turn.cost)
            conv.attempts.append(attempt)
            if attempt.verdict.reply is not None:
                conv.reply = attempt.verdict.reply
                return conv
            if result.completion is None or n == self.config.max_retries:
                # A failed transport is not re-sent the same day: the identical request would
                # have the same cache key, and a replay must see what the original saw.
                return conv
            self._reprompt(turn, attempt)

    def _reprompt(self, turn: _Turn, attempt: _Attempt) -> None:
        turn.messages = [
            *turn.messages,
            {"role": "assistant", "content": (attempt.text or "")[:REPROMPT_REPLY_CHARS]},
            {
                "role": "user",
                "content": retry_message(list(attempt.verdict.errors), self.config.template),
            },
        ]

    def _check(
        self,
        turn: _Turn,
        result: _Result,
        request: dict[str, Any],
        spent: float,
        share: tuple[int, int] | None = None,
        content: str | None = None,
    ) -> _Attempt:
        """Price and check one reply, or a team's element of a batch.

        For a batch, ``share`` is the team's place and the batch's size, ``content`` its element.
        """
        c = result.completion
        if c is None:
            reason = result.error or "transport failure"
            return _Attempt(result, Verdict(None, result.kind, (reason,)))
        pt, ct, invalid = checked_usage(c, request)
        text = c.content
        if share is not None:
            index, k = share
            pt = pt // k + (index < pt % k)
            ct = ct // k + (index < ct % k)
            text = content
        cost = self.config.call_cost(pt, ct)
        turn.cost = spent + cost
        if c.too_long or (text is not None and len(text.encode()) > self.config.max_reply_bytes):
            verdict = Verdict(
                None,
                "too_long",
                (
                    f"the reply was longer than {self.config.max_reply_bytes} bytes; "
                    "send only the JSON object",
                ),
            )
        else:
            # Spending nothing is always allowed, even when the calls cost more than expected.
            limit = max(max(turn.obs.budget, 0.0) - turn.cost, 0.0)
            verdict = check_reply(text, turn.prompt.spec, limit, c.finish_reason)
        return _Attempt(result, verdict, pt, ct, invalid, cost, text)

    # -- requests

    def _request(
        self, messages: list[dict[str, str]], schema: dict[str, Any], k: int
    ) -> dict[str, Any]:
        c = self.config
        req: dict[str, Any] = {
            "model": c.model,
            "messages": [dict(m) for m in messages],
            "temperature": c.temperature,
            "max_tokens": c.max_tokens * k,
        }
        if c.seed is not None:
            req["seed"] = c.seed
        fmt = self._response_format(schema, k)
        if fmt is not None:
            req["response_format"] = fmt
        return req

    def _response_format(self, schema: dict[str, Any], k: int) -> dict[str, Any] | None:
        """The request's ``response_format``; one object per day's schema for single requests.

        Requests only read it, and the cache key serialises a shared one once (:meth:`_fetch`).
        """
        if k == 1:
            hit = self._formats.get(id(schema))
            if hit is not None and hit[0] is schema:
                return hit[1]
        fmt = self._new_response_format(schema, k)
        if k == 1 and fmt is not None:
            if len(self._formats) >= 256:
                self._formats.clear()
            self._formats[id(schema)] = (schema, fmt)
        return fmt

    def _new_response_format(self, schema: dict[str, Any], k: int) -> dict[str, Any] | None:
        c = self.config
        if c.response_format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": "team_action" if k == 1 else "team_actions",
                    "strict": True,
                    "schema": schema,
                },
            }
        if c.response_format == "json_object_schema":
            # llama-cpp-python's server: JSON mode constrained by a schema it turns into a grammar.
            return {"type": "json_object", "schema": grammar_schema(schema)}
        if c.response_format == "json_object":
            return {"type": "json_object"}
        return None

    def _fetch(self, request: dict[str, Any], turn: _Turn) -> _Result:
        """The cached reply to ``request``, else the endpoint's (stored in the cache)."""
        key = text = None
        if self.cache is not None:
            if turn.first is not None and request is turn.first[0]:
                key, text = turn.first[1], turn.first[2]
            else:
                key, text = self._key(request, turn)
            entry = self.cache.get(key)
            replay = self.cache.mode == "replay"
            if entry is not None and "error" in entry:
                # Replay reproduces the original's transport failure; read-write retries it.
                if replay:
                    return _Result(None, True, entry["error"], entry.get("kind", "transport"))
            elif entry is not None:
                return _Result(Completion.from_dict(entry), True)
            if replay:
                path = str(self.config.cache_path)
                raise ReplayMiss(turn.obs.team, turn.obs.market.day, key, path)
        if self._client is None:
            raise RuntimeError("no chat client (replay mode never calls the endpoint)")
        start = time.perf_counter()
        try:
            completion = self._client.complete(request)
        except TransportError as err:
            result = _Result(None, False, str(err), err.kind, time.perf_counter() - start)
            self._count_failure(result.error or "")
            if self.cache is not None and key is not None:
                self.cache.put(key, text or request, {"error": result.error, "kind": result.kind})
            return result
        with self._lock:
            self._streak = 0
        if self.cache is not None and key is not None:
            self.cache.put(key, text or request, completion.to_dict())
        return _Result(completion, False, None, "transport", time.perf_counter() - start)

    def _key(self, request: dict[str, Any], turn: _Turn) -> tuple[str, str | None]:
        """The request's cache key and canonical JSON (see :meth:`.ReplyCache.key`).

        The JSON is left out (None) in replay mode, which never stores a request.
        """
        schema = turn.prompt.spec.schema
        fmt = self._formats.get(id(schema), (None, None))[1]
        assert self.cache is not None
        messages = request["messages"]
        prompt = turn.prompt.messages
        if (
            len(messages) == 2
            and len(prompt) == 2
            and messages[0]["content"] is prompt[0]["content"]
            and messages[1]["content"] is prompt[1]["content"]
            and request.get("response_format") is fmt
        ):
            # A team's first request: everything but the user message is the same for every
            # team with the same system message (and so the same day's schema), so the rest
            # of the key's text is serialised and hashed once (the same key either way).
            system = messages[0]["content"]
            hit = self._splices.get(system)
            if hit is None or hit[0] is not fmt:
                if len(self._splices) >= 256:
                    self._splices.clear()
                c = self.config
                made = self.cache.splice(request, c.template, c.base_url, self._shared(turn, fmt))
                hit = self._splices[system] = (fmt, made)
            if hit[1] is not None:
                return hit[1].key(messages[1]["content"], self.cache.mode != "replay")
        shared = self._shared(turn, fmt)
        return self.cache.key(request, self.config.template, self.config.base_url, shared)

    @staticmethod
    def _shared(turn: _Turn, fmt: dict[str, Any] | None) -> list[Any]:
        """Parts of a request many requests share: their JSON is made once (the same text)."""
        shared = [turn.prompt.spec.schema, *(m["content"] for m in turn.prompt.messages[:1])]
        if fmt is not None:
            shared.append(fmt)
        return shared

    def _count_failure(self, error: str) -> None:
        budget = self.config.failure_budget
        with self._lock:
            self._streak += 1
            if budget and self._streak >= budget and self._abort is None:
                self._abort = LLMUnavailable(self.config.base_url, error, self._streak)

    # -- batched mode

    def _ask_batch(
        self, observations: list[Observation], expected: list[float]
    ) -> list[tuple[_Turn, _Conversation]]:
        """One request for a group of teams; each team's element checked as its own reply."""
        turns = [self._turn(o, e) for o, e in zip(observations, expected, strict=True)]
        convs = [_Conversation() for _ in turns]
        if self._abort is not None:
            return list(zip(turns, convs, strict=True))
        schema = batch_schema(
            [t.prompt.spec.schema for t in turns], [int(t.obs.team) for t in turns]
        )
        messages = batch_messages([t.messages for t in turns], [int(t.obs.team) for t in turns])
        request = self._request(messages, schema, len(turns))
        result = self._fetch(request, turns[0])
        elements = (
            batch_elements(result.completion.content, [int(t.obs.team) for t in turns])
            if result.completion is not None
            else {}
        )
        for j, (turn, conv) in enumerate(zip(turns, convs, strict=True)):
            text = elements.get(int(turn.obs.team))
            attempt = self._check(turn, result, request, turn.cost, (j, len(turns)), text)
            if result.completion is not None and text is None and not result.completion.too_long:
                attempt.verdict = Verdict(
                    None,
                    "not_json" if not elements else "fields",
                    (f"the reply has no action for team t{turn.obs.team}",),
                )
            conv.attempts.append(attempt)
            conv.reply = attempt.verdict.reply
        if result.seconds:
            with self._lock:
                self.call_seconds += result.seconds
        return list(zip(turns, convs, strict=True))

    # -- accounting (on the calling thread, in the observations' order)

    def _merge(self, turn: _Turn, conv: _Conversation) -> None:
        st = self.team_stats(turn.obs.team)
        for a in conv.attempts:
            st.calls += 1
            st.cached_calls += int(a.result.cached)
            if a.result.completion is not None:
                st.prompt_tokens += a.prompt_tokens
                st.completion_tokens += a.completion_tokens
                st.usage_invalid += int(a.usage_invalid)
                st.cost += a.cost
                if not a.result.cached:
                    st.billed_cost += a.cost
                self._note_server(a.result.completion)
            if a.verdict.reply is None:
                st.add_failure(a.verdict.kind or "transport")
        if conv.capped:
            st.capped += 1
        if self.config.batch_size == 1:
            self.call_seconds += sum(a.result.seconds for a in conv.attempts)
        else:
            self.call_seconds += sum(a.result.seconds for a in conv.attempts[1:])

    def _note_server(self, c: Completion) -> None:
        for name, value in (("model", c.model), ("system_fingerprint", c.system_fingerprint)):
            if value and value not in self.server[name]:
                self.server[name].append(value)

    def close(self) -> None:
        """Stop the worker threads, write and close the cache, close the connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.cache is not None:
            cache, self.cache = self.cache, None
            cache.close()
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> LLMPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- batched requests

BATCH_PREAMBLE = (
    "You decide for {k} research teams at once: {keys}. Each team's rules and data follow; the "
    "JSON schema below is the schema of one team's action. Reply with one JSON object "
    '{{"teams": {{"t<id>": <that team\'s action>, ...}}}} with exactly one action per team '
    "listed, each following the schema and that team's own budget and keys."
)


def batch_messages(messages: list[list[dict[str, str]]], teams: list[int]) -> list[dict[str, str]]:
    """One request's messages for several teams, from their single prompts.

    The part of the system messages every team shares (all of it in template v1; the
    instructions and the day's schema in v2, whose persona comes last) is sent once, after a
    preamble that explains the batched reply; each team's own rest of it (its persona) and its
    other messages follow under a ``Team t<id>:`` header.
    """
    systems = [m[0]["content"] if m and m[0]["role"] == "system" else "" for m in messages]
    shared = os.path.commonprefix(systems)
    if len(set(systems)) > 1:
        # Cut at a paragraph, so that no team's section starts in the middle of a sentence.
        shared = shared[: shared.rfind("\n\n") + 2] if "\n\n" in shared else ""
    keys = ", ".join(f"t{t}" for t in teams)
    preamble = BATCH_PREAMBLE.format(k=len(teams), keys=keys)
    sections = []
    for team, msgs, system in zip(teams, messages, systems, strict=True):
        body = [m["content"] for m in msgs if m["role"] != "system"]
        own = system[len(shared) :].strip()
        if own:
            body.insert(0, own)
        sections.append(f"Team t{team}:\n" + "\n\n".join(body))
    shared = shared.strip()
    return [
        {"role": "system", "content": preamble + ("\n\n" + shared if shared else "")},
        {"role": "user", "content": "\n\n".join(sections)},
    ]


def batch_schema(schemas: list[dict[str, Any]], teams: list[int]) -> dict[str, Any]:
    """``{"teams": {"t<id>": <the team's action schema>, ...}}``, every team required.

    A wrapper object rather than an array: strict structured output takes per-key schemas, and
    each team's keys (questions, goods) can differ.
    """
    keys = [f"t{t}" for t in teams]
    return {
        "type": "object",
        "properties": {
            "teams": {
                "type": "object",
                "properties": dict(zip(keys, schemas, strict=True)),
                "required": keys,
                "additionalProperties": False,
            }
        },
        "required": ["teams"],
        "additionalProperties": False,
    }


def batch_elements(content: str | None, teams: list[int]) -> dict[int, str]:
    """Each team's action (as JSON text) from a batched reply; missing teams are left out.

    Accepted shapes: ``{"teams": {"t<id>": ...}}`` (what is asked), ``{"t<id>": ...}``, or an
    array of the actions in the teams' order.
    """
    if not content:
        return {}
    m = _FENCE.match(content)
    try:
        data = json.loads(m.group(1) if m else content)
    except ValueError:
        return {}
    if isinstance(data, dict) and isinstance(data.get("teams"), dict | list):
        data = data["teams"]
    if isinstance(data, list):
        found = dict(zip(teams, data, strict=False))
    elif isinstance(data, dict):
        found = {t: data[f"t{t}"] for t in teams if f"t{t}" in data}
    else:
        return {}
    return {t: json.dumps(v) for t, v in found.items()}


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
    "LLMUnavailable",
    "LLMConfig",
    "LLMPolicy",
    "MixedPolicy",
    "ReplayMiss",
    "TeamLLMStats",
    "batch_elements",
    "batch_messages",
    "batch_schema",
    "build_policy",
    "check_reply",
    "checked_usage",
    "config_from_params",
    "llm_team_ids",
    "to_action",
]
