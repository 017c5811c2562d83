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
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

import numpy as np

from ..information.beliefs import event_probability
from .base import Observation

TEMPLATE_VERSION = "v1"
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
    """

    team: int
    day: int
    question_keys: tuple[str, ...]
    good_keys: tuple[str, ...]
    marginal_cost: np.ndarray
    budget: float
    schema: dict[str, Any]


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


def question_key(qid: int) -> str:
    """JSON key of a question in replies."""
    return f"q{int(qid)}"


def good_key(k: int) -> str:
    """JSON key of a good (the reports on index ``k``) in replies."""
    return f"index_{int(k)}"


def action_schema(
    question_keys: tuple[str, ...], good_keys: tuple[str, ...], has_units: bool
) -> dict[str, Any]:
    """JSON schema of a reply for these questions and goods.

    Every key is required and no other key is allowed, which is what OpenAI's strict structured
    output demands and what lets grammar-constrained servers (llama.cpp, vLLM) emit exactly the
    right object. Ranges that depend on the team's money are checked after the reply, not here.
    """
    prob = {"type": "number", "minimum": 0, "maximum": 1}
    props: dict[str, Any] = {
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


def render(obs: Observation, version: str = TEMPLATE_VERSION, call_cost: float = 0.0) -> Prompt:
    """Render one team's observation into a system and a user message.

    Args:
        obs: The team's observation.
        version: Template version (a directory under ``templates/``).
        call_cost: Expected cost of one reply, shown so the model can leave room for it.

    Returns:
        The messages and the reply's requirements.
    """
    v = obs.market
    qkeys = tuple(question_key(x) for x in v.questions.qid)
    gkeys = tuple(good_key(k) for k in range(v.ref_price.size))
    has_units = v.marginal_cost.size > 0
    schema = action_schema(qkeys, gkeys, has_units)
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
    system = load_template(version, "system").substitute(
        schema=json.dumps(schema, separators=(",", ":")),
    )
    user = load_template(version, "user").substitute(
        team=obs.team,
        max_spend=_money(max(obs.budget, 0.0)),
        call_cost=_g(call_cost, 2),
        day=v.day,
        days_left_in_month=obs.days_left_in_month,
        budget=_money(obs.budget),
        allocation=_money(obs.monthly_allocation),
        cash=_money(obs.cash),
        skill=_g(obs.profile.skill, 3),
        brier=_g(obs.recent_brier, 3) if math.isfinite(obs.recent_brier) else "none yet",
        indices=_indices(obs),
        costs=costs,
        signals=_signals(obs),
        questions=_questions(obs, qkeys),
        example=_example(qkeys, gkeys, has_units),
    )
    return Prompt([{"role": "system", "content": system}, {"role": "user", "content": user}], spec)


def retry_message(errors: list[str], version: str = TEMPLATE_VERSION) -> str:
    """The user message that sends a refused reply's errors back to the model."""
    text = "\n".join(f"- {e}" for e in errors)
    return load_template(version, "retry").substitute(errors=text)
