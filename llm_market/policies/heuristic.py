"""The default team: a Bayesian forecaster with a few human traits and a simple pricing rule.

* **Research**: bought at the margin. Research of ``s`` a day buys precision
  ``pi(s) = productivity * skill * ln(1 + s / cost)``, spread over the ``K x H`` days and indices
  the beliefs cover; it resolves a share ``x / (1 + x)`` of the uncertainty per cell that the
  index path leaves (``x = pi / (K H)``, the prior precision being 1), so the team expects its
  Brier score to fall by ``B_noinfo * x / (1 + x)``. A unit of Brier score is worth
  ``W = research_horizon * revenue / g + pivot_factor * funding / B_noinfo`` to it: clients pay
  in proportion to its gap ``g = B_noinfo - B`` to the free no-information forecast, so its
  recent daily revenue per unit of gap over the horizon, plus the share of next month's funding
  the principal moves by performance; its ``research_intensity`` trait scales ``W``. It buys
  where the marginal gain ``W B_noinfo pi'(s) / (K H (1 + x)^2)`` equals the marginal cost 1:
  nothing when productivity is zero, less when research is dearer. It plans within its budget:
  at most its balance spread over the month's days left (times its intensity).
* **Forecasts**: the exact Bayesian probability under the team's Gaussian beliefs (see
  :mod:`~llm_market.information.beliefs`), distorted by confidence (the z-score is multiplied by
  ``confidence``), then mixed with the neighbours' last forecasts with weight ``herding``.
* **Asks**: each report is offered at
  ``max(marginal cost, reference price * quality * exp(markup + noise))``: never below cost. The
  reference is the market's price of a report per unit of quality (what it saves a client), and
  the team's quality comes from its published record, so a better record asks more (with induced
  values every quality is 1). The markup learns from yesterday's sales: up when every report sold,
  down when none did, so prices discover what clients will pay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from ..information.beliefs import event_probability
from .base import Action, MarketView, Observation, Policy

MARKUP_BOUNDS = (-0.5, 2.0)
ASK_NOISE = 0.05


@dataclass
class TeamArrays:
    """What the deciding teams see, one row per team in decision order (arrays, not objects).

    The fields are those of :class:`~.base.Observation` stacked across teams; the model builds
    them straight from its arrays, and :meth:`HeuristicPolicy.decide_all` from observations.
    """

    team: np.ndarray
    skill: np.ndarray
    confidence: np.ndarray
    herding: np.ndarray
    research_intensity: np.ndarray
    budget: np.ndarray
    monthly_allocation: np.ndarray
    days_left_in_month: np.ndarray
    recent_brier: np.ndarray
    recent_revenue: np.ndarray
    belief_mean: np.ndarray
    belief_prec: np.ndarray
    neighbour_forecast: np.ndarray
    markup: np.ndarray
    units_sold: np.ndarray

    @classmethod
    def of(cls, observations: list[Observation]) -> TeamArrays:
        """Stack observations (all of one day) into arrays."""
        return cls(
            team=np.array([o.team for o in observations], dtype=np.int64),
            skill=np.array([o.profile.skill for o in observations]),
            confidence=np.array([o.profile.confidence for o in observations]),
            herding=np.array([o.profile.herding for o in observations]),
            research_intensity=np.array([o.profile.research_intensity for o in observations]),
            budget=np.array([o.budget for o in observations]),
            monthly_allocation=np.array([o.monthly_allocation for o in observations]),
            days_left_in_month=np.array([o.days_left_in_month for o in observations]),
            recent_brier=np.array([o.recent_brier for o in observations]),
            recent_revenue=np.array([o.recent_revenue for o in observations]),
            belief_mean=np.stack([o.belief_mean for o in observations]),
            belief_prec=np.stack([o.belief_prec for o in observations]),
            neighbour_forecast=np.stack([o.neighbour_forecast for o in observations]),
            markup=np.stack([o.markup for o in observations]),
            units_sold=np.stack([o.units_sold for o in observations]),
        )


@dataclass
class Decisions:
    """Every deciding team's actions as arrays, rows in decision order.

    Attributes:
        research_spend: Shape (n,).
        forecasts: Shape (n, Q).
        ask_prices: Shape (n, K, U).
        markup: The new log markups, shape (n, K).
    """

    research_spend: np.ndarray
    forecasts: np.ndarray
    ask_prices: np.ndarray
    markup: np.ndarray

    def actions(self) -> list[Action]:
        """One :class:`~.base.Action` per row."""
        return [
            Action(
                research_spend=float(self.research_spend[i]),
                forecasts=self.forecasts[i],
                ask_prices=self.ask_prices[i],
                markup=self.markup[i],
            )
            for i in range(self.research_spend.size)
        ]


class HeuristicPolicy(Policy):
    """Rule-based teams, decided for all teams at once with array operations.

    Args:
        rng: The policy's random stream (ask noise).
        markup_step: How far the markup moves after a day that sold out or left reports unsold.
        markup_decay: Share of the markup forgotten each day before it moves (0: none); a decay
            pulls prices back toward the reference and keeps markups from trending.
    """

    name = "heuristic"

    def __init__(
        self, rng: np.random.Generator, markup_step: float = 0.05, markup_decay: float = 0.0
    ):
        self.rng = rng
        self.markup_step = markup_step
        self.markup_decay = markup_decay

    def decide_all(self, observations: list[Observation]) -> list[Action]:
        """Decide research, forecasts and asks for every observed team (see module docstring)."""
        if not observations:
            return []
        return self.decide_arrays(observations[0].market, TeamArrays.of(observations)).actions()

    def decide_arrays(
        self, view: MarketView, teams: TeamArrays, draw_rows: np.ndarray | None = None
    ) -> Decisions:
        """Decide for the teams in ``teams`` at once (one numpy pass; same as ``decide_all``).

        Args:
            view: The day's market view.
            teams: The deciding teams, one row each.
            draw_rows: When the rows are not in decision order, the row of the team that
                decides first, second, ... (the ask noise is drawn in decision order, so each
                team gets the draws it would get deciding in that order). None: rows in order.
        """
        q = view.questions
        n = teams.team.size
        spend = spend_of(view, teams)

        forecasts = np.zeros((n, q.qid.size))
        if q.qid.size:
            p = event_probability(
                teams.belief_mean,
                teams.belief_prec,
                q.index,
                q.days_left,
                q.log_moneyness,
                view.step_mean,
                view.step_sd,
            )
            conf = teams.confidence[:, None]
            p = ndtr(conf * ndtri(np.clip(p, 1e-9, 1 - 1e-9)))
            herd = teams.herding[:, None]
            nbr = teams.neighbour_forecast
            forecasts = np.where(np.isfinite(nbr), (1 - herd) * p + herd * nbr, p)

        units = view.marginal_cost.size
        markup = (1.0 - self.markup_decay) * teams.markup
        markup = markup + self.markup_step * np.where(teams.units_sold >= units, 1.0, -1.0)
        markup = np.clip(markup, *MARKUP_BOUNDS)
        noise = self.rng.normal(0.0, ASK_NOISE, (n, view.ref_price.size, units))
        if draw_rows is not None:
            by_row = np.empty_like(noise)
            by_row[draw_rows] = noise
            noise = by_row
        # The reference is a price per unit of quality: a better record asks more.
        quality = view.quality[teams.team]
        asks = np.maximum(
            view.marginal_cost[None, None, :],
            (view.ref_price[None, :] * quality)[:, :, None] * np.exp(markup[:, :, None] + noise),
        )
        return Decisions(research_spend=spend, forecasts=forecasts, ask_prices=asks, markup=markup)


# Before any question has resolved a team has no record: it assumes the no-information
# forecast scores PRIOR_BRIER and that it beats it by PRIOR_GAP.
PRIOR_BRIER, PRIOR_GAP = 0.2, 0.05
MIN_GAP = 0.01
BISECTIONS = 40


def research_spend(observations: list[Observation]) -> np.ndarray:
    """Each observed team's research spend today (see :func:`spend_of`)."""
    return spend_of(observations[0].market, TeamArrays.of(observations))


def spend_of(view: MarketView, teams: TeamArrays) -> np.ndarray:
    """Each team's research spend today, where its marginal gain meets the marginal cost.

    See the module docstring for the rule. The gain is concave in spend, so the first-order
    condition has one root, found by bisection for all teams at once.
    """
    a = view.research_productivity * teams.skill
    c = view.research_cost
    cells = float(np.prod(teams.belief_prec.shape[1:]))
    noinfo = view.noinfo_brier if np.isfinite(view.noinfo_brier) else PRIOR_BRIER
    brier = teams.recent_brier
    gap = np.where(np.isfinite(brier), np.maximum(noinfo - brier, MIN_GAP), PRIOR_GAP)
    # Money a unit of Brier score is worth to the team: revenue over the horizon (clients pay
    # in proportion to the gap, so revenue / gap per unit), and the part of next month's funding
    # the principal moves by performance.
    revenue = teams.recent_revenue
    funding = teams.monthly_allocation
    intensity = teams.research_intensity
    per_brier = intensity * (
        view.research_horizon * revenue / gap + view.pivot_factor * funding / noinfo
    )
    k = np.maximum(per_brier, 0.0) * noinfo / cells

    ka = k * a

    def marginal_gain(s: np.ndarray) -> np.ndarray:
        x = a * np.log1p(s / c) / cells
        return ka / ((c + s) * (1.0 + x) ** 2)

    buys = marginal_gain(np.zeros(teams.team.size)) > 1.0
    # Only the teams that buy bisect (the others spend 0); each team's steps are its own, the
    # same operations on the same numbers as when every team bisects.
    a, ka = a[buys], ka[buys]
    lo = np.zeros(a.size)
    hi = np.maximum(ka - c, 0.0)  # beyond it the gain is below k a / (c + s) < 1
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = marginal_gain(mid) > 1.0
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    optimum = np.zeros(buys.size)
    optimum[buys] = 0.5 * (lo + hi)
    # The month's budget spread over its days left is what the team plans with; its intensity
    # trait scales that plan (above 1 it overruns late in the month: validation then acts).
    # max(budget, 0) as Python's max takes it (a NaN or -0.0 budget is kept as it is).
    budget = np.where(0.0 > teams.budget, 0.0, teams.budget) / teams.days_left_in_month
    return np.minimum(optimum, intensity * budget)
