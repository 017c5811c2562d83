"""The Mesa agents: research teams and the principals that own and fund them.

Money and funding state live in the :class:`~llm_market.budgets.accounts.Accounts` (arrays, so
that a market day can settle thousands of trades at once); each agent reads its own entries
through properties, so ``team.budget`` and a DataCollector reporter ``"budget"`` mean what they
say, and changes them only through the accounts' methods. Agents never reach into the model:
what a team sees comes in a :class:`DayView`, and what a principal needs is given at
construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent
from mesa.discrete_space import CellAgent

from .budgets.accounts import Accounts
from .budgets.performance import Performance
from .budgets.pivot import pivot_shares
from .policies.base import Action, MarketView, Observation, Profile, TeamHistory

if TYPE_CHECKING:  # type-only: the model builds the agents, the agents never call the model
    from mesa import Model

    from .params import Params


# Weight of today's revenue in a team's moving average (about a month).
REVENUE_SMOOTHING = 1.0 / 21


@dataclass
class DayView:
    """What the teams can see when they decide, as arrays indexed by team.

    Attributes:
        market: The shared market view (prices, questions, index levels).
        days_left_in_month: Trading days until the principals reallocate.
        belief_mean: Posterior means of each team's beliefs, shape (teams, K, H).
        belief_prec: Posterior precisions, shape (teams, K, H).
        neighbour_forecasts: Mean last forecast of each team's neighbours (or the crowd) per
            open question, shape (teams, Q).
    """

    market: MarketView
    days_left_in_month: int
    belief_mean: np.ndarray
    belief_prec: np.ndarray
    neighbour_forecasts: np.ndarray


class TeamState:
    """The teams' own bookkeeping as arrays indexed by team (markups, sales, revenue).

    The model decides and settles every team at once on these arrays; each :class:`Team`
    reads and writes its own row through properties, so a team agent costs nothing per step.

    Args:
        n_teams: Number of teams.
        n_goods: Number of goods each team sells reports on.
        markup: Initial log markup on every ask.

    Attributes:
        markup: Each team's log markup per good, shape (teams, goods).
        units_sold: Reports each team sold per good on the last day, shape (teams, goods).
        revenue_today: Each team's revenue from reports on the last day.
        recent_revenue: Its one-month moving average.
    """

    def __init__(self, n_teams: int, n_goods: int, markup: float):
        self.markup = np.full((n_teams, n_goods), markup)
        self.units_sold = np.zeros((n_teams, n_goods), dtype=np.int64)
        self.revenue_today = np.zeros(n_teams)
        self.recent_revenue = np.zeros(n_teams)
        # The day's decisions, rows by team (see set_decisions); rows of teams that did not
        # decide today are never read.
        self.acted = np.zeros(n_teams, dtype=bool)
        self.research_spend = np.zeros(n_teams)
        self.forecasts = np.zeros((n_teams, 0))
        self.ask_prices = np.zeros((n_teams, n_goods, 0))
        self._actions: dict[int, Action] = {}

    def set_decisions(
        self,
        teams: np.ndarray,
        research_spend: np.ndarray,
        forecasts: np.ndarray,
        ask_prices: np.ndarray,
        markup: np.ndarray | None,
    ) -> None:
        """Adopt the day's decisions of ``teams`` (rows in the order of ``teams``)."""
        n = self.markup.shape[0]
        self.acted = np.zeros(n, dtype=bool)
        self.acted[teams] = True
        self._actions = {}
        self.research_spend = np.zeros(n)
        self.research_spend[teams] = research_spend
        self.forecasts = np.zeros((n, forecasts.shape[-1]))
        self.forecasts[teams] = forecasts
        self.ask_prices = np.full((n, *ask_prices.shape[1:]), np.nan)
        self.ask_prices[teams] = ask_prices
        if markup is not None:
            self.markup[teams] = markup

    def set_actions(self, teams: list[int], actions: list[Action]) -> None:
        """Adopt the day's actions of ``teams``, one object per team (a policy's own actions)."""
        if not actions:
            k = self.markup.shape[1]
            self.set_decisions(teams, np.zeros(0), np.zeros((0, 0)), np.zeros((0, k, 0)), None)
            return
        self.set_decisions(
            np.asarray(teams, dtype=np.int64),
            np.array([a.research_spend for a in actions]),
            np.array([a.forecasts for a in actions]).reshape(len(actions), -1),
            np.array([a.ask_prices for a in actions]),
            None,
        )
        for team, action in zip(teams, actions, strict=True):
            if action.markup is not None:
                self.markup[team] = action.markup
        self._actions = dict(zip(teams, actions, strict=True))

    def action_of(self, team: int) -> Action | None:
        """``team``'s action of the day (None if it did not decide)."""
        if team in self._actions:
            return self._actions[team]
        if not self.acted[team]:
            return None
        return Action(
            research_spend=float(self.research_spend[team]),
            forecasts=self.forecasts[team],
            ask_prices=self.ask_prices[team],
            markup=self.markup[team].copy(),
        )

    def record_sales(self, units: np.ndarray, revenue: np.ndarray) -> None:
        """Every team's sales of the day: units per good (teams, goods) and revenue (teams,)."""
        self.units_sold = units
        self.revenue_today = revenue
        # Elementwise, the same arithmetic as a team updating its own average.
        self.recent_revenue = self.recent_revenue + REVENUE_SMOOTHING * (
            revenue - self.recent_revenue
        )


class Team(CellAgent):
    """A research team: buys research, forecasts every open question and sells reports.

    Args:
        model: The model.
        idx: The team's position in the accounts' arrays.
        principal: The principal that owns the team.
        profile: The team's traits.
        state: The teams' markups and sales (the team's row is its own).
        accounts: Where the team's money and funding state are kept.
        record: The teams' performance record (scores and profit over the pivot window).
    """

    def __init__(
        self,
        model: Model,
        idx: int,
        principal: Principal,
        profile: Profile,
        state: TeamState,
        accounts: Accounts,
        record: Performance,
    ):
        super().__init__(model)
        self.idx = idx
        self.principal = principal
        self.profile = profile
        self.state = state
        self.accounts = accounts
        self.record = record

    @property
    def markup(self) -> np.ndarray:
        """Current log markup on each good (a copy: set it to change it)."""
        return self.state.markup[self.idx].copy()

    @markup.setter
    def markup(self, value: np.ndarray) -> None:
        self.state.markup[self.idx] = value

    @property
    def units_sold(self) -> np.ndarray:
        """Reports sold per good on the last day."""
        return self.state.units_sold[self.idx].copy()

    @property
    def revenue_today(self) -> float:
        """Revenue from reports on the last day."""
        return float(self.state.revenue_today[self.idx])

    @property
    def recent_revenue(self) -> float:
        """Revenue from reports, a one-month moving average."""
        return float(self.state.recent_revenue[self.idx])

    @property
    def active(self) -> bool:
        """Whether the team is still funded (an exited team never returns)."""
        return bool(self.accounts.active[self.idx])

    @property
    def budget(self) -> float:
        """Research budget left this month (negative when over budget)."""
        return float(self.accounts.budget[self.idx])

    @property
    def cash(self) -> float:
        """Trading cash."""
        return float(self.accounts.cash[self.idx])

    @property
    def share(self) -> float:
        """The team's share of its principal's funding."""
        return float(self.accounts.share[self.idx])

    @property
    def monthly_allocation(self) -> float:
        """This month's research funding."""
        return float(self.accounts.allocation[self.idx])

    @property
    def overbudget_days(self) -> int:
        """Days the team ended over budget."""
        return int(self.accounts.overbudget_days[self.idx])

    @property
    def rolling_brier(self) -> float:
        """Mean Brier score over the pivot window's questions."""
        return float(self.record.brier[self.idx])

    @property
    def rolling_skill(self) -> float:
        """Brier skill score over the pivot window, against the base rate."""
        return float(self.record.skill[self.idx])

    @property
    def profit(self) -> float:
        """Trading profit minus research spend over the pivot window."""
        return float(self.record.profit_window.total[self.idx])

    def observe(self, view: DayView, history: TeamHistory | None = None) -> Observation:
        """Build what the team sees today (with its memory, for a policy that reads one)."""
        i = self.idx
        return Observation(
            team=i,
            market=view.market,
            profile=self.profile,
            budget=self.budget,
            cash=self.cash,
            monthly_allocation=self.monthly_allocation,
            days_left_in_month=view.days_left_in_month,
            belief_mean=view.belief_mean[i],
            belief_prec=view.belief_prec[i],
            neighbour_forecast=view.neighbour_forecasts[i],
            markup=self.markup,
            units_sold=self.units_sold,
            recent_brier=self.rolling_brier,
            recent_revenue=self.recent_revenue,
            history=history,
        )

    @property
    def action(self) -> Action | None:
        """The team's decisions of the day (None before it has decided)."""
        return self.state.action_of(self.idx)


class Principal(Agent):
    """Owns teams, funds their research every month and pivots toward the best of them.

    Args:
        model: The model.
        idx: The principal's position in the accounts' capital array.
        accounts: Where the money is kept.
        params: The run's parameters (funding, pivot and floor rules).
    """

    def __init__(self, model: Model, idx: int, accounts: Accounts, params: Params):
        super().__init__(model)
        self.idx = idx
        self.accounts = accounts
        self.params = params
        self.teams: list[Team] = []

    @property
    def capital(self) -> float:
        """Money the principal holds."""
        return float(self.accounts.capital[self.idx])

    @property
    def active_teams(self) -> list[Team]:
        """The teams still funded."""
        return [t for t in self.teams if t.active]

    def adopt(self, team: Team) -> None:
        """Take on a team; the principal's funding is split equally among its teams."""
        self.teams.append(team)
        for t in self.teams:
            self.accounts.share[t.idx] = 1.0 / len(self.teams)

    def collect(self) -> None:
        """Take back the month's unspent budgets (or absorb overspends) and surplus cash."""
        a = self.accounts
        for team in self.teams:
            i = team.idx
            returned = a.budget[i]
            surplus = a.cash[i] - (self.params.team_working_cash if team.active else 0.0)
            surplus = max(surplus, 0.0)
            a.to_principal(i, returned, "budget_return", from_cash=False)
            if surplus > 0:
                a.to_principal(i, surplus, "profit_payout", from_cash=True)

    def pivot(self, metric: np.ndarray) -> None:
        """Move shares toward the teams that perform (see :mod:`~llm_market.budgets.pivot`).

        Args:
            metric: Performance of each of the principal's active teams, in ``active_teams`` order.
        """
        teams = self.active_teams
        a, p = self.accounts, self.params
        old = np.array([a.share[t.idx] for t in teams])
        old = old / old.sum() if old.sum() > 0 else np.full(len(teams), 1.0 / len(teams))
        new, exits = pivot_shares(
            old, metric, p.pivot_factor, p.budget_floor, p.floor_rule, p.pivot_sharpness
        )
        for team, share, gone in zip(teams, new, exits, strict=True):
            a.share[team.idx] = float(share)
            if gone:
                a.exit(team.idx)

    def review(self, metric: np.ndarray) -> None:
        """The month end: collect, pivot on ``metric`` (indexed by team id), pay dividends."""
        self.collect()
        teams = self.active_teams
        if teams:
            self.pivot(metric[[t.idx for t in teams]])
        self.accounts.pay_dividend(self.idx, self.params.dividend_rate)

    @property
    def monthly_budget(self) -> float:
        """This month's research funding for all of the principal's teams (the payout rule).

        ``payout_rule="capital"``: a share ``funding_rate`` of the capital, so funding grows with
        what the teams earn; ``"fixed"``: ``monthly_funding`` per active team. Never more than the
        capital.
        """
        p, capital = self.params, max(self.accounts.capital[self.idx], 0.0)
        if p.payout_rule == "capital":
            return p.funding_rate * capital
        return min(p.monthly_funding * len(self.active_teams), capital)

    def fund(self) -> None:
        """Give each active team its share of this month's funding (less penalties it owes)."""
        funding = self.monthly_budget
        for team in self.active_teams:
            self.accounts.fund(team.idx, funding * self.accounts.share[team.idx])
