"""The Mesa agents: research teams and the principals that own and fund them.

Money balances and per-team scores live in the model's arrays (so that a market day can settle
thousands of trades at once); the agents read and write their own entries through properties, so
``team.budget`` and a DataCollector reporter ``"budget"`` mean what they say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent
from mesa.discrete_space import CellAgent

from .budgets.pivot import pivot_shares
from .policies.base import Action, Observation, Profile

if TYPE_CHECKING:
    from .model import MarketModel


class Team(CellAgent):
    """A research team: buys research, forecasts every open question and sells reports.

    Args:
        model: The model.
        idx: The team's position in the model's arrays.
        principal: The principal that owns the team.
        profile: The team's traits.
        n_goods: Number of goods (indices) the team sells reports on.
        markup: Initial log markup on its asks.
    """

    def __init__(
        self,
        model: MarketModel,
        idx: int,
        principal: Principal,
        profile: Profile,
        n_goods: int,
        markup: float,
    ):
        super().__init__(model)
        self.idx = idx
        self.principal = principal
        self.profile = profile
        self.active = True
        self.markup = np.full(n_goods, markup)
        self.units_sold = np.zeros(n_goods, dtype=np.int64)
        self.monthly_allocation = 0.0
        self.share = 0.0
        self.overbudget_days = 0
        self.action: Action | None = None

    @property
    def budget(self) -> float:
        """Research budget left this month (negative when over budget)."""
        return float(self.model.budget[self.idx])

    @property
    def cash(self) -> float:
        """Trading cash."""
        return float(self.model.cash[self.idx])

    @property
    def rolling_brier(self) -> float:
        """Mean Brier score over the pivot window's questions."""
        return float(self.model.team_brier[self.idx])

    @property
    def rolling_skill(self) -> float:
        """Brier skill score over the pivot window, against the base rate."""
        return float(self.model.team_skill[self.idx])

    @property
    def profit(self) -> float:
        """Trading profit minus research spend over the pivot window."""
        return float(self.model.team_profit[self.idx])

    def observe(self) -> Observation:
        """Build what the team sees today."""
        m = self.model
        return Observation(
            team=self.idx,
            market=m.market_view,
            profile=self.profile,
            budget=self.budget,
            cash=self.cash,
            monthly_allocation=self.monthly_allocation,
            days_left_in_month=m.days_left_in_month,
            belief_mean=m.beliefs.mean[self.idx],
            belief_prec=m.beliefs.prec[self.idx],
            neighbour_forecast=m.neighbour_forecasts[self.idx],
            markup=self.markup,
            units_sold=self.units_sold,
            recent_brier=self.rolling_brier,
        )

    def apply(self, action: Action) -> None:
        """Adopt the day's action (the model reads it when markets and research run)."""
        self.action = action
        if action.markup is not None:
            self.markup = action.markup


class Principal(Agent):
    """Owns teams, funds their research every month and pivots toward the best of them.

    Args:
        model: The model.
        idx: The principal's position in the model's capital array.
    """

    def __init__(self, model: MarketModel, idx: int):
        super().__init__(model)
        self.idx = idx
        self.teams: list[Team] = []

    @property
    def capital(self) -> float:
        """Money the principal holds."""
        return float(self.model.capital[self.idx])

    @property
    def active_teams(self) -> list[Team]:
        """The teams still funded."""
        return [t for t in self.teams if t.active]

    def collect(self) -> None:
        """Take back the month's unspent budgets (or absorb overspends) and surplus cash."""
        m = self.model
        for team in self.teams:
            returned = m.budget[team.idx]
            surplus = m.cash[team.idx] - (m.params.team_working_cash if team.active else 0.0)
            surplus = max(surplus, 0.0)
            m.transfer_to_principal(team, returned, "budget_return", from_cash=False)
            if surplus > 0:
                m.transfer_to_principal(team, surplus, "profit_payout", from_cash=True)

    def pivot(self, metric: np.ndarray) -> None:
        """Move shares toward the teams that perform (see :mod:`~llm_market.budgets.pivot`).

        Args:
            metric: Performance of each of the principal's active teams, in ``active_teams`` order.
        """
        teams = self.active_teams
        old = np.array([t.share for t in teams])
        old = old / old.sum() if old.sum() > 0 else np.full(len(teams), 1.0 / len(teams))
        p = self.model.params
        new, exits = pivot_shares(
            old, metric, p.pivot_factor, p.budget_floor, p.floor_rule, p.pivot_sharpness
        )
        for team, share, gone in zip(teams, new, exits, strict=True):
            team.share = float(share)
            if gone:
                self.model.exit_team(team)

    def fund(self) -> None:
        """Give each active team its share of this month's funding."""
        m = self.model
        teams = self.active_teams
        funding = min(m.params.monthly_funding * len(teams), max(m.capital[self.idx], 0.0))
        for team in teams:
            amount = funding * team.share
            team.monthly_allocation = amount
            m.transfer_to_team(team, amount, "funding")
