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

import numpy as np
from scipy.special import ndtr, ndtri

from ..information.beliefs import event_probability
from .base import Action, Observation, Policy

MARKUP_BOUNDS = (-0.5, 2.0)
ASK_NOISE = 0.05


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
        view = observations[0].market
        q = view.questions
        n = len(observations)
        spend = research_spend(observations)

        forecasts = np.zeros((n, q.qid.size))
        if q.qid.size:
            mean = np.stack([o.belief_mean for o in observations])
            prec = np.stack([o.belief_prec for o in observations])
            p = event_probability(
                mean, prec, q.index, q.days_left, q.log_moneyness, view.step_mean, view.step_sd
            )
            conf = np.array([o.profile.confidence for o in observations])[:, None]
            p = ndtr(conf * ndtri(np.clip(p, 1e-9, 1 - 1e-9)))
            herd = np.array([o.profile.herding for o in observations])[:, None]
            nbr = np.stack([o.neighbour_forecast for o in observations])
            forecasts = np.where(np.isfinite(nbr), (1 - herd) * p + herd * nbr, p)

        markup = np.stack([o.markup for o in observations])
        sold = np.stack([o.units_sold for o in observations])
        units = view.marginal_cost.size
        markup = (1.0 - self.markup_decay) * markup
        markup = markup + self.markup_step * np.where(sold >= units, 1.0, -1.0)
        markup = np.clip(markup, *MARKUP_BOUNDS)
        noise = self.rng.normal(0.0, ASK_NOISE, (n, view.ref_price.size, units))
        # The reference is a price per unit of quality: a better record asks more.
        quality = view.quality[[o.team for o in observations]]
        asks = np.maximum(
            view.marginal_cost[None, None, :],
            (view.ref_price[None, :] * quality)[:, :, None] * np.exp(markup[:, :, None] + noise),
        )
        return [
            Action(
                research_spend=float(spend[i]),
                forecasts=forecasts[i],
                ask_prices=asks[i],
                markup=markup[i],
            )
            for i in range(n)
        ]


# Before any question has resolved a team has no record: it assumes the no-information
# forecast scores PRIOR_BRIER and that it beats it by PRIOR_GAP.
PRIOR_BRIER, PRIOR_GAP = 0.2, 0.05
MIN_GAP = 0.01
BISECTIONS = 40


def research_spend(observations: list[Observation]) -> np.ndarray:
    """Each team's research spend today, where its marginal gain meets the marginal cost.

    See the module docstring for the rule. The gain is concave in spend, so the first-order
    condition has one root, found by bisection for all teams at once.
    """
    view = observations[0].market
    a = view.research_productivity * np.array([o.profile.skill for o in observations])
    c = view.research_cost
    cells = float(np.prod(observations[0].belief_prec.shape))
    noinfo = view.noinfo_brier if np.isfinite(view.noinfo_brier) else PRIOR_BRIER
    brier = np.array([o.recent_brier for o in observations])
    gap = np.where(np.isfinite(brier), np.maximum(noinfo - brier, MIN_GAP), PRIOR_GAP)
    # Money a unit of Brier score is worth to the team: revenue over the horizon (clients pay
    # in proportion to the gap, so revenue / gap per unit), and the part of next month's funding
    # the principal moves by performance.
    revenue = np.array([o.recent_revenue for o in observations])
    funding = np.array([o.monthly_allocation for o in observations])
    intensity = np.array([o.profile.research_intensity for o in observations])
    per_brier = intensity * (
        view.research_horizon * revenue / gap + view.pivot_factor * funding / noinfo
    )
    k = np.maximum(per_brier, 0.0) * noinfo / cells

    def marginal_gain(s: np.ndarray) -> np.ndarray:
        x = a * np.log1p(s / c) / cells
        return k * a / ((c + s) * (1.0 + x) ** 2)

    lo = np.zeros(len(observations))
    hi = np.maximum(k * a - c, 0.0)  # beyond it the gain is below k a / (c + s) < 1
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = marginal_gain(mid) > 1.0
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    optimum = np.where(marginal_gain(np.zeros_like(lo)) > 1.0, 0.5 * (lo + hi), 0.0)
    # The month's budget spread over its days left is what the team plans with; its intensity
    # trait scales that plan (above 1 it overruns late in the month: validation then acts).
    budget = np.array([max(o.budget, 0.0) / o.days_left_in_month for o in observations])
    intensity = np.array([o.profile.research_intensity for o in observations])
    return np.minimum(optimum, intensity * budget)
