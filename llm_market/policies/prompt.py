"""Rendering a team's observation into chat messages from a versioned template.

A template version is a directory under ``templates/`` holding ``system.txt``, ``user.txt`` and
``retry.txt`` with ``$name`` placeholders (:class:`string.Template`, so the JSON braces in the
text need no escaping). The version is part of every cache key: a changed template must get a new
version, or old replies would be replayed for prompts they were never given (the full messages are
in the key too, so an edited template cannot silently reuse replies; the version makes the change
visible).

Numbers are printed with a few significant digits. That keeps prompts short for small models and
makes cache keys robust to the last bits of floating-point arithmetic, which can differ between
NumPy builds.

Two versions exist. ``v1`` (kept byte for byte, so recorded caches replay) hands the team its
signals and the probability they imply. ``v2`` (the default) tells the team what it remembers
(:class:`~.base.TeamHistory`: past forecasts, resolved questions and scores, sales, prices,
headlines), its record against the other teams, what research buys in plain words and its
persona, asks for a short ``reasoning`` before the numbers, and shows placeholders rather than
numbers in its example. Its ``information`` option (:class:`PromptOptions`) sets what is
pre-digested: ``raw`` (headlines and the facts of each question, no probability), ``signals``
(v1's signal table and implied probability) or ``posterior`` (that probability, stated as the
team's posterior).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from string import Template
from typing import Any

import numpy as np

from ..information.beliefs import event_probability
from .base import Observation, TeamHistory
from .personas import Persona, persona_from_profile

TEMPLATE_VERSION = "v2"
INFORMATION_MODES = ("raw", "signals", "posterior")
# Strongest signal cells shown per index: enough to reason about, bounded for small contexts.
MAX_SIGNALS_PER_INDEX = 6
# A cell counts as a signal when news or research has moved its precision off the prior's 1.
SIGNAL_PRECISION = 1.0 + 1e-6
# Probabilities a grammar-constrained reply may give (see grammar_schema).
PROBABILITY_GRID = [round(i / 100, 2) for i in range(101)]


@dataclass(frozen=True)
class PromptSpec:
    """What a reply to one rendered prompt must contain.

    Attributes:
        team: The team's index.
        day: The model's day.
        question_keys: JSON key of each open question (``"q<id>"``), in question order.
        good_keys: JSON key of each good (``"index_<k>"``), in index order.
        marginal_cost: Marginal cost of each report unit, shape (U,).
        budget: Research budget left before today's calls (may be negative).
        schema: The JSON schema of a valid reply.
        reasoning_chars: Characters of a reply's ``reasoning`` kept (0: no reasoning asked).
    """

    team: int
    day: int
    question_keys: tuple[str, ...]
    good_keys: tuple[str, ...]
    marginal_cost: np.ndarray
    budget: float
    schema: dict[str, Any]
    reasoning_chars: int = 0


@dataclass(frozen=True)
class PromptOptions:
    """How a v2 prompt is rendered (v1 ignores all of it).

    Attributes:
        information: ``raw``, ``signals`` or ``posterior`` (see the module's docstring).
        reasoning: Whether the reply starts with a ``reasoning`` string.
        reasoning_chars: Its length limit: in the schema, and the cut applied to longer ones.
    """

    information: str = "raw"
    reasoning: bool = True
    reasoning_chars: int = 600

    def __post_init__(self):
        if self.information not in INFORMATION_MODES:
            raise ValueError(
                f"information: one of {', '.join(INFORMATION_MODES)} (got {self.information!r})"
            )

    @classmethod
    def from_config(cls, config: Any) -> PromptOptions:
        """The options of a language-model configuration (defaults for settings it lacks)."""
        d = cls()
        return cls(
            getattr(config, "information", d.information),
            getattr(config, "reasoning", d.reasoning),
            getattr(config, "reasoning_chars", d.reasoning_chars),
        )


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: the messages to send and what the reply must satisfy."""

    messages: list[dict[str, str]]
    spec: PromptSpec


@cache
def load_template(version: str, part: str) -> Template:
    """Read one part (``system``, ``user`` or ``retry``) of a template version.

    Raises:
        FileNotFoundError: The version or the part does not exist.
    """
    path = resources.files(__package__).joinpath("templates", version, f"{part}.txt")
    if not path.is_file():
        raise FileNotFoundError(f"prompt template {version}/{part}.txt not found")
    return Template(path.read_text(encoding="utf-8"))


@cache
def _pieces(version: str, part: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template split once into its literal runs and the placeholders between them.

    Filling the pieces (:func:`_fill`) gives exactly what :meth:`string.Template.substitute`
    gives (``$$`` is a literal ``$``, values are converted with ``str``), without a regular
    expression pass over the whole text for every prompt.
    """
    return _split(load_template(version, part))


def _split(t: Template) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template's literal runs and placeholder names (see :func:`_pieces`)."""
    text, literals, names, run, pos = t.template, [], [], [], 0
    for m in t.pattern.finditer(text):
        run.append(text[pos : m.start()])
        name = m.group("named") or m.group("braced")
        if name is not None:
            literals.append("".join(run))
            names.append(name)
            run = []
        elif m.group("escaped") is not None:
            run.append(t.delimiter)
        else:
            raise ValueError(f"invalid placeholder at character {m.start()} of a prompt template")
        pos = m.end()
    run.append(text[pos:])
    literals.append("".join(run))
    return tuple(literals), tuple(names)


def _fill(version: str, part: str, values: dict[str, Any]) -> str:
    """``load_template(version, part).substitute(values)``, from the template's pieces."""
    fmt, names = _percent(version, part)
    return fmt % tuple([values[name] for name in names])


@cache
def _percent(version: str, part: str) -> tuple[str, tuple[str, ...]]:
    """A template as a ``%`` format and its placeholders in order (``"%s" % x`` is ``str(x)``).

    One C-level format per prompt instead of a loop over the pieces; the text is the same.
    """
    literals, names = _pieces(version, part)
    return "%s".join(lit.replace("%", "%%") for lit in literals), names


def _fill_pieces(pieces: tuple[tuple[str, ...], tuple[str, ...]], values: dict[str, Any]) -> str:
    literals, names = pieces
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        out.append(str(values[name]))
        out.append(literal)
    return "".join(out)


class _Memo:
    """Texts made from a day's shared data, kept while the day's teams are rendered.

    The key holds everything a text is made from (arrays by dtype, shape and bytes, so ``-0.0``
    and ``0.0`` differ), so a hit returns exactly what making it again would. Its first item
    names the kind of text; each kind is bounded on its own (emptied when full: a new day
    brings new keys), so that texts which differ by team (a skill's research sentence) never
    push out the day's shared ones. Safe across threads: at worst two make the same text.
    """

    def __init__(self, size: int = 512):
        self.size = size
        self.kinds: dict[str, dict[Any, Any]] = {}

    def get(self, key: tuple[Any, ...], make: Any) -> Any:
        """The value stored under ``key`` (its first item the kind), made on a miss."""
        items = self.kinds.get(key[0])
        if items is None:
            items = self.kinds.setdefault(key[0], {})
        try:
            return items[key]
        except KeyError:
            pass
        if len(items) >= self.size:
            items.clear()
        value = items[key] = make()
        return value


_MEMO = _Memo()


class _Days:
    """What a day's prompts share, by the identity of the day's market view, within a scope.

    Outside :func:`day_scope` every prompt makes its day's parts again (from :data:`_MEMO`, so
    at the cost of the memo's content keys); inside, the parts are made once per market view
    and found by identity: nothing changes an observation while a policy renders its day, and
    the scope ends with the day (a view's arrays could be changed in place afterwards).
    """

    def __init__(self):
        self.depth = 0
        self.items: dict[int, tuple[Any, Any, _DayParts]] = {}


_DAYS = _Days()


class day_scope:  # noqa: N801 - used as a function, in a with statement
    """Within it, prompts of one market view share its parts (see :class:`_Days`).

    For one thread's rendering of a day (the calling thread's, in replay); nested scopes share
    the outermost one.
    """

    def __enter__(self) -> day_scope:
        _DAYS.depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        _DAYS.depth -= 1
        if _DAYS.depth == 0:
            _DAYS.items.clear()


@dataclass(frozen=True)
class _DayParts:
    """The parts of a v2 prompt made from the market view alone."""

    question_keys: tuple[str, ...]
    good_keys: tuple[str, ...]
    has_units: bool
    marginal_cost: np.ndarray
    schema: dict[str, Any]
    schema_json: str
    reputation: np.ndarray
    ranked: list[float] | None
    ranked_teams: int
    median: str
    noinfo: str
    indices: str
    question_heads: list[str]
    question_ids: list[int]
    # Texts made on the day for some teams, found again for the others (system message by
    # template version and persona text, example by spending limit, research by the team's
    # skill), as the memo made them.
    texts: dict[tuple[Any, ...], str] = field(default_factory=dict)


def _day_parts(v: Any, chars: int) -> _DayParts:
    """The day's shared parts of ``v`` (made once per view inside :func:`day_scope`)."""
    if _DAYS.depth:
        hit = _DAYS.items.get(id(v))
        if hit is not None and hit[0] is v and hit[1] == chars:
            return hit[2]
    qkeys, gkeys = _keys(v)
    has_units = v.marginal_cost.size > 0
    schema, schema_json = _schema(qkeys, gkeys, has_units, chars)
    rep = np.asarray(v.reputation, dtype=float)
    if np.isfinite(rep).any():
        ranked, teams, median = _MEMO.get(("record", _ak(rep)), lambda: _reputations(rep))
    else:
        ranked, teams, median = None, 0, ""
    q = v.questions
    if qkeys:
        key = (qkeys, _ak(q.qid), _ak(q.index), _ak(q.days_left), _ak(q.log_moneyness))
        heads, qids = _MEMO.get(
            ("questions", *key, _ak(v.step_mean), _ak(v.step_sd)),
            lambda: _question_columns(v, qkeys),
        )
    else:
        heads, qids = [], []
    parts = _DayParts(
        question_keys=qkeys,
        good_keys=gkeys,
        has_units=has_units,
        marginal_cost=np.asarray(v.marginal_cost, dtype=float),
        schema=schema,
        schema_json=schema_json,
        reputation=rep,
        ranked=ranked,
        ranked_teams=teams,
        median=median,
        noinfo=f"{v.noinfo_brier:.3f}" if math.isfinite(v.noinfo_brier) else "none",
        indices=_indices_v2_of(v),
        question_heads=heads,
        question_ids=qids,
    )
    if _DAYS.depth:
        if len(_DAYS.items) >= 64:
            _DAYS.items.clear()
        _DAYS.items[id(v)] = (v, chars, parts)
    return parts


def _ak(a: Any) -> tuple[Any, ...]:
    """An array's content as a memo key (dtype, shape, bytes)."""
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    dtype = a.dtype
    if dtype.hasobject:
        raise TypeError("object arrays are not memo keys")
    return (dtype.str, a.shape, a.tobytes())


def _fk(x: Any) -> str:
    """A float as a memo key that tells ``-0.0`` from ``0.0`` (and any two bit patterns)."""
    return float(x).hex()


def question_key(qid: int) -> str:
    """JSON key of a question in replies."""
    return f"q{int(qid)}"


def good_key(k: int) -> str:
    """JSON key of a good (the reports on index ``k``) in replies."""
    return f"index_{int(k)}"


def action_schema(
    question_keys: tuple[str, ...],
    good_keys: tuple[str, ...],
    has_units: bool,
    reasoning_chars: int = 0,
) -> dict[str, Any]:
    """JSON schema of a reply for these questions and goods.

    Every key is required and no other key is allowed, which is what OpenAI's strict structured
    output demands and what lets grammar-constrained servers (llama.cpp, vLLM) emit exactly the
    right object. Ranges that depend on the team's money are checked after the reply, not here.
    With ``reasoning_chars`` > 0 a ``reasoning`` string comes first, so that a model writes its
    reasons before the numbers they lead to.
    """
    prob = {"type": "number", "minimum": 0, "maximum": 1}
    props: dict[str, Any] = {}
    if reasoning_chars:
        props["reasoning"] = {"type": "string", "maxLength": int(reasoning_chars)}
    props |= {
        "research_spend": {"type": "number", "minimum": 0},
        "forecasts": {
            "type": "object",
            "properties": {k: prob for k in question_keys},
            "required": list(question_keys),
            "additionalProperties": False,
        },
    }
    if has_units:
        props["asks"] = {
            "type": "object",
            "properties": {k: {"type": ["number", "null"]} for k in good_keys},
            "required": list(good_keys),
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def grammar_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The reply schema for servers whose schema-to-grammar conversion ignores numeric ranges.

    llama-cpp-python turns a schema into a grammar but drops ``minimum``/``maximum``, so a small
    model happily writes a probability of 3.0. Listing the probabilities (two decimals) as an
    ``enum`` puts the range into the grammar itself; the prompt keeps the readable schema.
    """
    out = json.loads(json.dumps(schema))
    probs = out["properties"]["forecasts"]["properties"]
    for key in probs:
        probs[key] = {"enum": PROBABILITY_GRID}
    return out


def _g(x: float, digits: int = 4) -> str:
    """A short number: ``digits`` significant digits, no exponent for everyday magnitudes."""
    if not math.isfinite(x):
        return "none"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    return text if "e" not in text else f"{x:.6f}".rstrip("0").rstrip(".")


def _money(x: float) -> str:
    return f"{x:.2f}"


def _signals(obs: Observation) -> str:
    mean, prec = obs.belief_mean, obs.belief_prec
    lines = []
    for k in range(mean.shape[0]):
        held = np.flatnonzero(prec[k] > SIGNAL_PRECISION)
        if held.size == 0:
            lines.append(f"- index {k}: none")
            continue
        # Strongest first, ties by day so the order never depends on the sort's stability.
        top = sorted(held, key=lambda d: (-prec[k, d], d))[:MAX_SIGNALS_PER_INDEX]
        cells = ", ".join(
            f"day +{d + 1}: {_g(mean[k, d], 2)} (precision {_g(prec[k, d], 2)})"
            for d in sorted(top)
        )
        more = f" and {held.size - len(top)} weaker" if held.size > len(top) else ""
        lines.append(f"- index {k}: {cells}{more}")
    return "\n".join(lines)


def _questions(obs: Observation, keys: tuple[str, ...]) -> str:
    q = obs.market.questions
    if not keys:
        return "(none open today: give an empty forecasts object)"
    view = obs.market
    p = event_probability(
        obs.belief_mean[None],
        obs.belief_prec[None],
        q.index,
        q.days_left,
        q.log_moneyness,
        view.step_mean,
        view.step_sd,
    )[0]
    rows = ["id | index | days left | return needed | signals | neighbours"]
    for j, key in enumerate(keys):
        nbr = obs.neighbour_forecast[j] if j < obs.neighbour_forecast.size else float("nan")
        rows.append(
            f"{key} | {int(q.index[j])} | {int(q.days_left[j])} | "
            f"{_g(float(q.log_moneyness[j]), 3)} | {p[j]:.3f} | "
            f"{f'{nbr:.3f}' if math.isfinite(nbr) else 'none'}"
        )
    return "\n".join(rows)


def _indices(obs: Observation) -> str:
    v = obs.market
    rows = []
    for k in range(v.ref_price.size):
        rows.append(
            f"- index {k}: drift {_g(float(v.step_mean[k]), 3)}, volatility "
            f"{_g(float(v.step_sd[k]), 3)}, level {_g(float(v.index_level[k]), 5)}, "
            f"report price {_money(float(v.ref_price[k]))}, sold {int(obs.units_sold[k])}"
        )
    return "\n".join(rows)


def _example(question_keys: tuple[str, ...], good_keys: tuple[str, ...], has_units: bool) -> str:
    # A skeleton with the real keys: small models copy shapes far better than they read schemas.
    ex: dict[str, Any] = {
        "research_spend": 0.5,
        "forecasts": dict.fromkeys(question_keys[:2], 0.5),
    }
    if has_units:
        ex["asks"] = dict.fromkeys(good_keys, 3.0)
    return json.dumps(ex)


def _keys(v: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The day's question keys and good keys."""
    qid, goods = v.questions.qid, v.ref_price.size
    return _MEMO.get(
        ("keys", _ak(qid), goods),
        lambda: (tuple(question_key(x) for x in qid), tuple(good_key(k) for k in range(goods))),
    )


def _schema(
    question_keys: tuple[str, ...], good_keys: tuple[str, ...], has_units: bool, chars: int
) -> tuple[dict[str, Any], str]:
    """The reply schema and its compact JSON (as the system message shows it).

    The schema is shared by the prompts of every team with the same keys: it is read, never
    changed (:func:`grammar_schema` and :func:`~.llm.batch_schema` build new objects).
    """

    def make() -> tuple[dict[str, Any], str]:
        schema = action_schema(question_keys, good_keys, has_units, chars)
        return schema, json.dumps(schema, separators=(",", ":"))

    return _MEMO.get(("schema", question_keys, good_keys, has_units, chars), make)


def render(
    obs: Observation,
    version: str = TEMPLATE_VERSION,
    call_cost: float = 0.0,
    options: PromptOptions | None = None,
    persona: Persona | None = None,
) -> Prompt:
    """Render one team's observation into a system and a user message.

    Args:
        obs: The team's observation.
        version: Template version (a directory under ``templates/``).
        call_cost: Expected cost of one reply, shown so the model can leave room for it.
        options: What a v2 prompt shows (default :class:`PromptOptions`); v1 ignores them.
        persona: The team's persona (v2; default: the one its traits imply).

    Returns:
        The messages and the reply's requirements.
    """
    if version != "v1":
        return render_v2(obs, version, call_cost, options or PromptOptions(), persona)
    v = obs.market
    qkeys, gkeys = _keys(v)
    has_units = v.marginal_cost.size > 0
    schema, schema_json = _schema(qkeys, gkeys, has_units, 0)
    spec = PromptSpec(
        team=int(obs.team),
        day=int(v.day),
        question_keys=qkeys,
        good_keys=gkeys,
        marginal_cost=np.asarray(v.marginal_cost, dtype=float),
        budget=float(obs.budget),
        schema=schema,
    )
    costs = ", ".join(_money(c) for c in v.marginal_cost) if has_units else "(no reports)"
    # The system message depends only on the day's questions and goods, never on the team: servers
    # that cache prompt prefixes (llama.cpp, hosted APIs) reuse it across the day's teams.
    system = _MEMO.get(
        ("system", version, schema_json), lambda: _fill(version, "system", {"schema": schema_json})
    )
    user = _fill(
        version,
        "user",
        dict(
            **_account(obs, v.day, call_cost, _money(max(obs.budget, 0.0))),
            skill=_g(obs.profile.skill, 3),
            brier=_g(obs.recent_brier, 3) if math.isfinite(obs.recent_brier) else "none yet",
            indices=_indices(obs),
            costs=costs,
            signals=_signals(obs),
            questions=_questions(obs, qkeys),
            example=_example(qkeys, gkeys, has_units),
        ),
    )
    return Prompt([{"role": "system", "content": system}, {"role": "user", "content": user}], spec)


def _account(obs: Observation, day: int, call_cost: float, max_spend: str) -> dict[str, Any]:
    """The fields of the team's account that every template version shows."""
    return {
        "team": obs.team,
        "max_spend": max_spend,
        "call_cost": _g(call_cost, 2),
        "day": day,
        "days_left_in_month": obs.days_left_in_month,
        "budget": _money(obs.budget),
        "allocation": _money(obs.monthly_allocation),
        "cash": _money(obs.cash),
    }


# ---------------------------------------------------------------------- v2


# Research spends shown as examples, in units of the research cost scale.
RESEARCH_EXAMPLES = (1.0, 3.0, 10.0)
# Own past forecasts shown per open question, resolved questions shown.
OWN_FORECASTS_SHOWN = 3
RESOLVED_SHOWN = 5


def _implied(obs: Observation) -> np.ndarray:
    """The probability of each open question that the team's signals imply."""
    q, view = obs.market.questions, obs.market
    return event_probability(
        obs.belief_mean[None],
        obs.belief_prec[None],
        q.index,
        q.days_left,
        q.log_moneyness,
        view.step_mean,
        view.step_sd,
    )[0]


def _research(obs: Observation) -> str:
    v = obs.market
    k, h = obs.belief_mean.shape
    scale = v.research_productivity * obs.profile.skill
    cost = v.research_cost
    return _MEMO.get(
        ("research", k, h, _fk(scale), _fk(cost)), lambda: _research_text(k, h, scale, cost)
    )


def _research_text(k: int, h: int, scale: float, cost: float) -> str:
    examples = ", ".join(
        f"spending {_money(m * cost)} buys {_g(scale * math.log1p(m), 2)}"
        for m in RESEARCH_EXAMPLES
    )
    return (
        f"spending s buys signals of total precision {_g(scale, 3)} x ln(1 + s / {_g(cost, 3)}) "
        f"(your skill included), spread evenly over the next {h} days of all {k} indices: "
        f"{examples}. For scale, one news item with noise sd 1 has precision 1 for one day of "
        "one index. Returns diminish: doubling the spend far less than doubles what you learn."
    )


def _record(obs: Observation, day: _DayParts | None = None) -> str:
    t = int(obs.team)
    if day is None:
        day = _day_parts(obs.market, 0)
    rep = day.reputation
    if t >= rep.size or not math.isfinite(rep[t]) or day.ranked is None:
        return "no question has resolved yet, so there is no published record."
    score = float(rep[t])
    # Teams with a lower (finite) score than this one's: the count of sorted scores below it.
    rank = 1 + bisect_left(day.ranked, score)
    own = f"{obs.recent_brier:.3f}" if math.isfinite(obs.recent_brier) else "none yet"
    return (
        f"published Brier score {score:.3f}, rank {rank} of {day.ranked_teams} teams (1 = best, "
        f"lower scores are better); the median team {day.median}; forecasting "
        f"from the index path alone scores {day.noinfo}. Your own rolling Brier score: {own}."
    )


def _reputations(rep: np.ndarray) -> tuple[list[float], int, str]:
    """The day's finite published scores sorted, their count, and their median as shown."""
    others = rep[np.isfinite(rep)]
    return sorted(others.tolist()), int(others.size), f"{float(np.median(others)):.3f}"


def _sales(obs: Observation, history: TeamHistory | None) -> str:
    if history is None or not history.revenue:
        return (
            f"none remembered; average daily revenue {_money(obs.recent_revenue)}, reports sold "
            f"yesterday {int(np.sum(obs.units_sold))}."
        )
    # "%.2f" % r is _money(r); one format for the row rather than one call per day.
    revenue = _joined_format(len(history.revenue), "%.2f") % tuple(history.revenue)
    units = ", ".join(map(str, history.units))
    return f"revenue {revenue}; reports sold {units}."


@cache
def _joined_format(n: int, item: str) -> str:
    """``n`` items of a ``%`` format, comma-separated."""
    return ", ".join([item] * n)


def _indices_v2(obs: Observation) -> str:
    return _indices_v2_of(obs.market)


def _indices_v2_of(v: Any) -> str:
    key = (_ak(v.step_mean), _ak(v.step_sd), _ak(v.index_level), _ak(v.marginal_cost))
    return _MEMO.get(("indices", v.ref_price.size, *key), lambda: _indices_v2_text(v))


def _indices_v2_text(v: Any) -> str:
    rows = [
        f"- index {k}: drift {_g(float(v.step_mean[k]), 3)}, volatility "
        f"{_g(float(v.step_sd[k]), 3)}, level {_g(float(v.index_level[k]), 5)}"
        for k in range(v.ref_price.size)
    ]
    costs = ", ".join(_money(c) for c in v.marginal_cost) if v.marginal_cost.size else "none"
    rows.append(f"Marginal cost of your reports on each index, first to last: {costs}.")
    return "\n".join(rows)


def _prices(obs: Observation, history: TeamHistory | None) -> str:
    v = obs.market
    if history is None or history.levels.shape[1] == 0:
        key: tuple[Any, ...] = ("prices", None, _ak(v.index_level), _ak(v.ref_price))
    else:
        key = ("prices", v.ref_price.size, _ak(history.levels), _ak(history.prices))
    return _MEMO.get(key, lambda: _prices_text(v, history))


def _prices_text(v: Any, history: TeamHistory | None) -> str:
    if history is None or history.levels.shape[1] == 0:
        return "\n".join(
            f"- index {k}: level {_g(float(v.index_level[k]), 5)}; report price "
            f"{_money(float(v.ref_price[k]))}"
            for k in range(v.ref_price.size)
        )
    rows = []
    for k in range(v.ref_price.size):
        levels = ", ".join(_g(float(x), 5) for x in history.levels[k])
        prices = ", ".join(_money(x) if math.isfinite(x) else "-" for x in history.prices[k])
        rows.append(f"- index {k}: levels {levels}; report prices {prices}")
    return "\n".join(rows)


def _information(obs: Observation, history: TeamHistory | None, mode: str) -> str:
    if mode == "signals":
        return (
            "Signals you hold from news and research (expected standard shock of a future day, "
            "with its precision; the prior is 0 with precision 1):\n" + _signals(obs)
        )
    if mode == "posterior":
        return (
            "Your analysts have combined all your news and research with the indices' drift and "
            'volatility: the "posterior" column below is the probability they give each question.'
        )
    news = [f"- day {d}: {text}" for d, text in history.headlines] if history else []
    research = [f"- day {d}: {text}" for d, text in history.research] if history else []
    return (
        "News you received (day received, oldest first; news about past days is left out):\n"
        + ("\n".join(news) or "- none yet")
        + "\nYour latest research:\n"
        + ("\n".join(research) or "- none yet")
    )


def _resolved(history: TeamHistory | None) -> str:
    if history is None or not history.resolved:
        return "none yet"
    rows = [
        "id | index | horizon | resolved on day | outcome | your last forecast | your Brier "
        "| crowd's Brier"
    ]
    rows_of = _RESOLVED_ROWS
    for r in history.resolved[-RESOLVED_SHOWN:]:
        # A resolved question's row never changes, and teams remember the same record
        # (frozen) day after day: its row is made once, found by identity (the memo holds it).
        hit = rows_of.get(id(r))
        if hit is None or hit[0] is not r:
            if len(rows_of) >= 8192:
                rows_of.clear()
            hit = rows_of[id(r)] = (r, _resolved_row(r))
        rows.append(hit[1])
    return "\n".join(rows)


_RESOLVED_ROWS: dict[int, tuple[Any, str]] = {}


def _resolved_row(r: Any) -> str:
    return (
        f"q{int(r.qid)} | {r.index} | {r.horizon} | {r.resolve_day} | "  # question_key
        f"{'yes' if r.outcome else 'no'} | {r.last_p:.2f} | {r.brier:.3f} | "
        f"{r.crowd_brier:.3f}"
    )


@cache
def _columns(mode: str) -> str:
    text = {
        "raw": "",
        "signals": '"signals" is the probability your signals imply; ',
        "posterior": '"posterior" is your analysts\' probability; ',
    }[mode]
    return (
        text + '"drift" is the expected log return over the days left; "neighbours" is their '
        'last mean forecast; "yours" are your latest forecasts on it, oldest first'
    )


def _questions_v2(
    obs: Observation,
    keys: tuple[str, ...],
    history: TeamHistory | None,
    mode: str,
    day: _DayParts | None = None,
) -> str:
    if not keys:
        return "(none open today: give an empty forecasts object)"
    if day is None:
        day = _day_parts(obs.market, 0)
    shared, qids = day.question_heads, day.question_ids
    neighbours = np.asarray(obs.neighbour_forecast).tolist()[: len(shared)]
    neighbours += [math.nan] * (len(shared) - len(neighbours))
    forecasts = history.forecasts if history else {}
    shown, nbr_texts, own_texts = -OWN_FORECASTS_SHOWN, _NEIGHBOUR_TEXTS, _OWN_TEXTS
    if len(nbr_texts) >= 16384:
        nbr_texts.clear()
    if len(own_texts) >= 16384:
        own_texts.clear()
    ends = []
    for x, qid in zip(neighbours, qids, strict=True):
        m = forecasts.get(qid, ())[shown:]
        # Teams see few distinct values (two-decimal forecasts, the day's neighbour means):
        # each is formatted once. Zeros are left out (0.0 == -0.0, but they print
        # differently), and so is NaN (never equal to itself).
        nbr = nbr_texts.get(x)
        if nbr is None:
            nbr = f"{x:.3f}" if math.isfinite(x) else "none"
            if x != 0.0 and x == x:
                nbr_texts[x] = nbr
        if not m:
            mine = "none"
        elif type(m) is tuple and 0.0 not in m:
            mine = own_texts.get(m)
            if mine is None:
                # "%.2f" formats a number as f"{x:.2f}" does, in one call for the row.
                mine = own_texts[m] = _OWN_FORMATS[len(m)] % m
        else:
            mine = _OWN_FORMATS[len(m)] % tuple(m)
        ends.append(f" | {nbr} | {mine}")
    head = _QUESTION_HEADS[mode]
    if mode == "raw":
        return head + "".join([f"\n{h}{e}" for h, e in zip(shared, ends, strict=True)])
    p = _implied(obs)
    return head + "".join(
        [f"\n{h} | {p[j]:.3f}{e}" for j, (h, e) in enumerate(zip(shared, ends, strict=True))]
    )


_NEIGHBOUR_TEXTS: dict[float, str] = {}
_OWN_TEXTS: dict[tuple[float, ...], str] = {}


_QUESTION_HEADS = {
    mode: "id | index | days left | return needed | drift | typical move"
    + extra
    + " | neighbours | yours"
    for mode, extra in (("raw", ""), ("signals", " | signals"), ("posterior", " | posterior"))
}


_OWN_FORMATS = [", ".join(["%.2f"] * n) for n in range(OWN_FORECASTS_SHOWN + 1)]


def _question_columns(v: Any, keys: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """The columns of the questions table every team shares, and the questions' ids."""
    q = v.questions
    rows = []
    for j, key in enumerate(keys):
        k, days = int(q.index[j]), int(q.days_left[j])
        rows.append(
            f"{key} | {k} | {days} | {_g(float(q.log_moneyness[j]), 3)} | "
            f"{_g(float(v.step_mean[k]) * days, 3)} | "
            f"{_g(float(v.step_sd[k]) * math.sqrt(days), 3)}"
        )
    return rows, [int(x) for x in q.qid[: len(keys)]]


def _placeholders(
    question_keys: tuple[str, ...],
    good_keys: tuple[str, ...],
    has_units: bool,
    max_spend: str,
    reasoning: bool,
) -> str:
    # Placeholders, not numbers: weak models copy an example's numbers verbatim.
    parts = []
    if reasoning:
        parts.append('"reasoning": "<one or two sentences>"')
    parts.append(f'"research_spend": <number from 0 to {max_spend}>')
    shown = question_keys[:2]
    more = ", ..." if len(question_keys) > len(shown) else ""
    forecasts = ", ".join(f'"{k}": <probability>' for k in shown)
    parts.append(f'"forecasts": {{{forecasts}{more}}}')
    if has_units:
        asks = ", ".join(f'"{k}": <price or null>' for k in good_keys)
        parts.append(f'"asks": {{{asks}}}')
    return "{" + ", ".join(parts) + "}"


def render_v2(
    obs: Observation,
    version: str,
    call_cost: float,
    options: PromptOptions,
    persona: Persona | None = None,
) -> Prompt:
    """Render a v2 prompt (see :func:`render`)."""
    v = obs.market
    history = obs.history
    chars = int(options.reasoning_chars) if options.reasoning else 0
    day = _day_parts(v, chars)
    qkeys, gkeys, has_units = day.question_keys, day.good_keys, day.has_units
    schema_json = day.schema_json
    spec = _made(
        PromptSpec,
        team=int(obs.team),
        day=int(v.day),
        question_keys=qkeys,
        good_keys=gkeys,
        marginal_cost=day.marginal_cost,
        budget=float(obs.budget),
        schema=day.schema,
        reasoning_chars=chars,
    )
    persona = persona or persona_from_profile(obs.profile)
    # The team's persona comes last: servers that cache prompt prefixes reuse everything
    # before it (the instructions and the day's schema) across the day's teams.
    texts = day.texts
    system = texts.get((version, persona.text))
    if system is None:
        system = texts[version, persona.text] = _MEMO.get(
            ("system", version, chars, schema_json, persona.text),
            lambda: _system_v2(version, chars, schema_json, persona.text),
        )
    max_spend = _money(max(obs.budget, 0.0))
    mode = options.information
    example = texts.get(("example", max_spend))
    if example is None:
        example = texts["example", max_spend] = _MEMO.get(
            ("example", qkeys, gkeys, has_units, max_spend, bool(chars)),
            lambda: _placeholders(qkeys, gkeys, has_units, max_spend, bool(chars)),
        )
    values = _account(obs, v.day, call_cost, max_spend)
    skill = obs.profile.skill
    if skill == skill and skill != 0.0:  # a float key: not NaN, and not 0.0 (== -0.0)
        research = texts.get(("research", obs.belief_mean.shape, skill))
        if research is None:
            research = texts["research", obs.belief_mean.shape, skill] = _research(obs)
    else:
        research = _research(obs)
    values["research"] = research
    values["record"] = _record(obs, day)
    values["sales"] = _sales(obs, history)
    values["indices"] = day.indices
    values["prices"] = _prices(obs, history)
    values["information"] = _information(obs, history, mode)
    values["resolved"] = _resolved(history)
    values["columns"] = _columns(mode)
    values["questions"] = _questions_v2(obs, qkeys, history, mode, day)
    values["example"] = example
    user = _fill(version, "user", values)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return _made(Prompt, messages=messages, spec=spec)


def _made(cls: type, **fields: Any) -> Any:
    """A frozen dataclass with these fields, set at once (it has no ``__post_init__``).

    The same object its ``__init__`` makes, without a call of ``object.__setattr__`` per field
    (a prompt's spec is made for every team and day).
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _system_v2(version: str, chars: int, schema_json: str, persona: str) -> str:
    reply_rule = (
        f"\nStart your reply with reasoning: at most {chars} characters on what moves your\n"
        "forecasts and spending today; then give the numbers.\n"
        if chars
        else ""
    )
    return _fill(
        version,
        "system",
        {
            "reply_rule": reply_rule,
            "schema": schema_json,
            "persona": f"Your team's character: {persona}",
        },
    )


def retry_message(errors: list[str], version: str = TEMPLATE_VERSION) -> str:
    """The user message that sends a refused reply's errors back to the model."""
    text = "\n".join(f"- {e}" for e in errors)
    return load_template(version, "retry").substitute(errors=text)
