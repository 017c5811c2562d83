"""Checking a language model's reply and turning it into a team's action.

:func:`check_reply` parses the reply against the action schema (:class:`ActionReply`), the day's
question and good keys and the team's money, and says what is wrong in lines a re-prompt can send
back; :func:`to_action` turns a checked reply into the :class:`~.base.Action` the model applies.
Nothing here talks to a server: :mod:`.llm` does.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .base import Action, Observation
from .heuristic import MARKUP_BOUNDS
from .prompt import PromptSpec

# Slack for comparing money: a reply that spends its budget to the cent is not overspending.
MONEY_TOLERANCE = 1e-9
# Lines of errors sent back in a re-prompt: enough to fix a reply, bounded for small contexts.
MAX_ERROR_LINES = 8
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


_Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
_Price = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class ActionReply(BaseModel):
    """The JSON a model must reply with (its shape; the day's keys and money are checked after).

    ``reasoning`` (asked for by v2 prompts) is optional here and never refused for its length: a
    reply whose reasons run long is still a valid decision, so :func:`to_action` cuts the text to
    the prompt's limit instead (servers may ignore the schema's ``maxLength``).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    reasoning: str = ""
    research_spend: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    forecasts: dict[str, _Prob]
    asks: dict[str, _Price | None] = Field(default_factory=dict)


_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one reply.

    Attributes:
        reply: The parsed reply when it passed every check, else None.
        kind: The failure's kind when it did not (the most basic problem found).
        errors: Human-readable problems, sent back to the model in a re-prompt.
    """

    reply: ActionReply | None
    kind: str | None = None
    errors: tuple[str, ...] = ()


def _strip_fence(text: str) -> str:
    # Chat models often wrap JSON in a Markdown fence; that is packaging, not a wrong answer.
    m = _FENCE.match(text)
    return m.group(1) if m else text


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "reply"
    if err["type"] == "json_invalid":
        return f"not valid JSON ({err.get('ctx', {}).get('error', err['msg'])})"
    if err["type"] == "missing":
        return f"{loc}: missing"
    if err["type"] == "extra_forbidden":
        return f"{loc}: not an allowed field"
    got = err.get("input")
    shown = json.dumps(got) if isinstance(got, int | float | str | bool | None) else type(got)
    return f"{loc}: {err['msg'].lower()} (got {shown})"


def check_reply(
    content: str | None, spec: PromptSpec, limit: float, finish_reason: str | None = None
) -> Verdict:
    """Check a reply against the action schema, the day's keys and the team's money.

    Args:
        content: The reply text.
        spec: What the prompt asked for.
        limit: The most the team may spend on research today (budget left minus call costs).
        finish_reason: The server's finish reason (``length`` explains a cut-off reply).

    Returns:
        The verdict: the parsed reply, or the kind of failure and its errors.
    """
    if not content or not content.strip():
        return Verdict(None, "not_json", ("the reply was empty; send the JSON object",))
    try:
        reply = ActionReply.model_validate_json(_strip_fence(content))
    except ValidationError as err:
        errs = err.errors(include_url=False)
        types = {e["type"] for e in errs}
        if "json_invalid" in types or "json_type" in types:
            kind = "not_json"
        elif types <= _RANGE_ERRORS:
            kind = "range"
        else:
            kind = "fields"
        lines = [_describe(e) for e in errs[:MAX_ERROR_LINES]]
        if kind == "not_json" and finish_reason == "length":
            lines.append("the reply was cut off at the token limit: keep it short")
        return Verdict(None, kind, tuple(lines))

    lines = []
    for name, got, want in (
        ("forecasts", reply.forecasts, spec.question_keys),
        ("asks", reply.asks, spec.good_keys if spec.marginal_cost.size else ()),
    ):
        if len(got) == len(want) and tuple(got) == want:
            continue  # the keys asked for, in the order asked (a dict's keys are distinct)
        missing = [k for k in want if k not in got]
        wanted = set(want)
        unknown = [k for k in got if k not in wanted]
        if missing:
            lines.append(f"{name}: missing {', '.join(missing)}")
        if unknown:
            lines.append(f"{name}: unknown keys {', '.join(unknown)}")
    if lines:
        return Verdict(None, "fields", tuple(lines[:MAX_ERROR_LINES]))

    if reply.research_spend > limit + MONEY_TOLERANCE:
        return Verdict(
            None,
            "budget",
            (
                f"research_spend {reply.research_spend:g} is more than the budget left today, "
                f"{max(limit, 0.0):.4f}",
            ),
        )
    if spec.marginal_cost.size:
        floor = float(spec.marginal_cost[0])
        low = [k for k, p in reply.asks.items() if p is not None and p < floor - MONEY_TOLERANCE]
        if low:
            return Verdict(
                None,
                "cash",
                tuple(
                    f"asks.{k}: {reply.asks[k]:g} is below the cheapest report's marginal cost "
                    f"{floor:.2f}; a sale would lose cash"
                    for k in low
                ),
            )
    return Verdict(reply)


def to_action(reply: ActionReply, obs: Observation, spec: PromptSpec) -> Action:
    """Turn a checked reply into the model's action.

    One price per good applies to every unit, floored at each unit's marginal cost. The markup
    becomes the log of the price over the last close, so a team that falls back to the heuristic
    on a later day continues from the LLM's pricing rather than an old markup. The reply's
    reasoning, cut to ``spec.reasoning_chars``, becomes the action's note (logged).
    """
    view = obs.market
    forecasts = reply.forecasts
    q = np.array([forecasts[k] for k in spec.question_keys], dtype=float)
    k_goods, units = view.ref_price.size, spec.marginal_cost.size
    markup = np.array(obs.markup, dtype=float, copy=True)
    low, high = MARKUP_BOUNDS
    nan = math.nan
    prices = [nan] * k_goods
    if units:
        refs = view.ref_price.tolist()
        got = reply.asks
        for k, key in enumerate(spec.good_keys):
            price = got.get(key)
            if price is None:
                continue
            prices[k] = price
            ref = refs[k]
            if ref > 0 and math.isfinite(ref):
                # np.clip on one number, without its overhead (NaN stays NaN, as with np.clip).
                x = math.log(price / ref)
                markup[k] = low if x < low else high if x > high else x
    # Each priced good's row is max(price, marginal cost); a good without a price stays NaN
    # (np.maximum keeps a NaN), as does every row when there are no units.
    asks = np.maximum(np.array(prices, dtype=float)[:, None], spec.marginal_cost[None, :])
    return Action(
        research_spend=float(reply.research_spend),
        forecasts=q,
        ask_prices=asks,
        markup=markup,
        note=reply.reasoning.strip()[: spec.reasoning_chars],
    )
