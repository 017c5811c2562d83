"""A person plays one team: the app's "play as a team" mode.

:class:`HumanPolicy` wraps the model's policy from outside (``model.policy``), so no core file
knows about it: every team decides as before, and on a day for which the person submitted an
action, that action replaces their team's. Running the wrapped policy for every team, the
person's included, keeps its random draws exactly as in a run without a person, so the other
teams' decisions do not change because someone is watching.

A submission is checked exactly as a language model's reply is
(:func:`~llm_market.policies.reply.check_reply`): a probability in [0, 1] for every open
question, research spend within the budget left, and asks no lower than the cheapest report's
marginal cost. The suggestion shown to the person is what the heuristic would do in their place
(:func:`suggestion`).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .base import Action, Observation, Policy
from .prompt import good_key, question_key, render
from .reply import check_reply, to_action

if TYPE_CHECKING:
    from ..model import MarketModel


@dataclass(frozen=True)
class Plan:
    """A team's decisions for a day as a person reads and edits them.

    Attributes:
        forecasts: Probability for each open question, by question key (``"q12"``).
        research_spend: Money to spend on research today.
        asks: Ask price per good, by good key (``"index_0"``); None offers nothing.
    """

    forecasts: dict[str, float]
    research_spend: float
    asks: dict[str, float | None]

    def to_json(self) -> str:
        """The plan as the JSON reply a policy's checks read."""
        return json.dumps(
            {
                "research_spend": float(self.research_spend),
                "forecasts": {k: float(v) for k, v in self.forecasts.items()},
                "asks": {k: (None if v is None else float(v)) for k, v in self.asks.items()},
            }
        )


class HumanPolicy(Policy):
    """The wrapped policy for every team, except a submitted action for the person's team.

    Args:
        inner: The policy every team follows (and the person's team on days with no submission).
        team: The team the person plays.
    """

    name = "human"

    def __init__(self, inner: Policy, team: int):
        self.inner = inner
        self.team = team
        self.pending: Action | None = None
        self.days_played = 0

    @property
    def pays_for_calls(self) -> bool:  # type: ignore[override]
        """Whether the wrapped policy's decisions cost money."""
        return self.inner.pays_for_calls

    def step_cost(self, team: int) -> float:
        """The wrapped policy's cost of ``team``'s decision."""
        return self.inner.step_cost(team)

    def decide_all(self, observations: list[Observation]) -> list[Action]:
        """The wrapped policy's actions, the person's submission in place of their team's."""
        actions = self.inner.decide_all(observations)
        if self.pending is not None:
            for i, obs in enumerate(observations):
                if obs.team == self.team:
                    actions[i] = self.pending
                    self.days_played += 1
            self.pending = None
        return actions

    def submit(self, obs: Observation, plan: Plan) -> list[str]:
        """Check ``plan`` for the day of ``obs`` and hold it for the next step.

        Returns:
            What is wrong with the plan (nothing when it was accepted).
        """
        if obs.team != self.team:
            return [f"this is team {obs.team}'s observation, not team {self.team}'s"]
        spec = render(obs).spec
        verdict = check_reply(plan.to_json(), spec, max(obs.budget, 0.0))
        if verdict.reply is None:
            return list(verdict.errors)
        self.pending = to_action(verdict.reply, obs, spec)
        return []


def play_team(model: MarketModel, team: int) -> HumanPolicy:
    """Let a person play ``team`` of ``model`` (wrapping ``model.policy`` once) and return it."""
    policy = model.policy
    if isinstance(policy, HumanPolicy):
        if policy.team != team:
            policy.team, policy.pending = team, None
        return policy
    model.policy = HumanPolicy(policy, team)
    return model.policy


def suggestion(model: MarketModel, team: int) -> Plan:
    """What the team's own policy would do today, as a :class:`Plan`.

    Decided by a copy of the policy (and of its random stream), so asking changes nothing.
    """
    policy = model.policy.inner if isinstance(model.policy, HumanPolicy) else model.policy
    obs = model.teams[team].observe(model.view)
    action = copy.deepcopy(policy).decide(obs)
    q = obs.market.questions
    forecasts = {
        question_key(x): round(float(np.clip(p, 0.0, 1.0)), 2)
        for x, p in zip(q.qid, action.forecasts, strict=True)
    }
    asks: dict[str, float | None] = {}
    floor = float(obs.market.marginal_cost[0]) if obs.market.marginal_cost.size else 0.0
    for k in range(obs.market.ref_price.size):
        prices = action.ask_prices[k] if action.ask_prices.size else np.zeros(0)
        finite = prices[np.isfinite(prices)]
        # One price per good applies to every unit (floored at each unit's cost): the first
        # unit's ask is the heuristic's price before that floor.
        asks[good_key(k)] = round(max(float(finite[0]), floor), 2) if finite.size else None
    spend = max(0.0, min(float(action.research_spend), max(obs.budget, 0.0)))
    return Plan(forecasts, math.floor(spend * 100) / 100, asks)
