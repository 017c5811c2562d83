"""The default team: a Bayesian forecaster with a few human traits and a simple pricing rule.

* **Research**: spend at a steady rate, ``research_intensity`` times the month's funding spread
  evenly over its days; teams with intensity above 1 overrun their budget late in the month.
* **Forecasts**: the exact Bayesian probability under the team's Gaussian beliefs (see
  :mod:`~llm_market.information.beliefs`), distorted by confidence (the z-score is multiplied by
  ``confidence``), then mixed with the neighbours' last forecasts with weight ``herding``.
* **Asks**: each report is offered at ``max(marginal cost, reference price * exp(markup + noise))``:
  never below cost. The markup learns from yesterday's sales: up when every report sold, down when
  none did, so prices discover what clients will pay.
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
        alloc = np.array([o.monthly_allocation for o in observations])
        intensity = np.array([o.profile.research_intensity for o in observations])
        spend = np.maximum(intensity * alloc / view.steps_per_month, 0.0)

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
        asks = np.maximum(
            view.marginal_cost[None, None, :],
            view.ref_price[None, :, None] * np.exp(markup[:, :, None] + noise),
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
