"""The accounts: who holds what money, every transfer between holders, and the money check.

Money is held by principals (capital) and teams (research budget and trading cash). The accounts
keep those balances as arrays, so that a market day can settle thousands of trades at once, and
with them the rest of each team's funding state (active or exited, budget share, this month's
allocation, days over budget). The agents read their own entries; only the methods here change
them, and each change is booked: money entering or leaving the economy in the
:class:`~llm_market.budgets.ledger.Ledger`, transfers between holders in the budget log.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..calendar import Calendar
from ..errors import MoneyError
from ..recording.logs import ColumnLog
from .ledger import Ledger
from .validation import affordable_research, fines, overspend


class Accounts:
    """Balances and funding state of every principal and team.

    Args:
        owner: Each team's principal.
        n_principals: Number of principals.
        principal_capital: Starting capital of every principal.
        initial_team_cash: Starting trading cash of every team.
        budget_log: The log of transfers between principals and teams.
        calendar: The model's clock, which stamps the log.

    Attributes:
        capital: Money each principal holds.
        budget: Each team's research budget left this month (negative when over budget).
        cash: Each team's trading cash.
        active: Whether each team is still funded (an exited team never returns).
        share: Each team's share of its principal's funding.
        allocation: Each team's research funding this month.
        overbudget_days: Days each team ended over budget.
        ledger: Money that entered and left the economy, by source and sink.
    """

    def __init__(
        self,
        owner: np.ndarray,
        n_principals: int,
        principal_capital: float,
        initial_team_cash: float,
        budget_log: ColumnLog,
        calendar: Calendar,
    ):
        n = owner.size
        self.owner = owner
        self.capital = np.full(n_principals, principal_capital)
        self.budget = np.zeros(n)
        self.cash = np.full(n, initial_team_cash)
        self.active = np.ones(n, dtype=bool)
        self.share = np.zeros(n)
        self.allocation = np.zeros(n)
        self.overbudget_days = np.zeros(n, dtype=np.int64)
        self.penalty_due = np.zeros(n)
        self.start_capital = float(principal_capital)
        self.overbudget_count = 0
        self._overspend_seen = np.zeros(n)
        self.budget_log = budget_log
        self._batch: list[tuple] | None = None
        self.calendar = calendar
        self.ledger = Ledger(self.money_held())

    # ------------------------------------------------------------------ holdings and the check

    def money_held(self) -> float:
        """All money held by principals and teams."""
        return float(self.capital.sum() + self.budget.sum() + self.cash.sum())

    def money_error(self) -> float:
        """``held + out - in - start``: zero, up to rounding, when money is conserved.

        Raises:
            MoneyError: A balance, a flow or their sum is NaN or infinite (the check would then
                be NaN, and NaN compares as neither conserved nor not).
        """
        error = self.ledger.discrepancy(self.money_held())
        if not math.isfinite(error):
            raise MoneyError(f"money check failed on day {self.calendar.day}: {self._not_finite()}")
        return error

    def _not_finite(self) -> str:
        """Name the first holders or flows that are not finite, for the money error's message."""
        found = []
        for label, values in (
            ("principal capital", self.capital),
            ("team research budget", self.budget),
            ("team cash", self.cash),
        ):
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                found.append(f"{label} of #{int(bad[0])} is {values[bad[0]]}")
        for label, flows in (("inflow", self.ledger.inflows), ("outflow", self.ledger.outflows)):
            found += [f"{label} {k} is {v}" for k, v in flows.items() if not math.isfinite(v)]
        return "; ".join(found) or (
            f"the balances sum to {self.money_held()} (too large to add up in float64)"
        )

    # ------------------------------------------------------------------ transfers between holders

    def to_principal(self, team: int, amount: float, kind: str, from_cash: bool) -> None:
        """Move money from a team (its cash or its budget) to its principal and log it."""
        (self.cash if from_cash else self.budget)[team] -= amount
        self.capital[self.owner[team]] += amount
        self._log(team, -amount, kind)

    def to_team(self, team: int, amount: float, kind: str) -> None:
        """Move money from a team's principal into the team's research budget and log it."""
        self.capital[self.owner[team]] -= amount
        self.budget[team] += amount
        self._log(team, amount, kind)

    def _log(self, team: int, amount: float, kind: str) -> None:
        self._row(self.owner[team], team, kind, amount, self.share[team])

    def _row(self, principal, team, kind: str, amount, share) -> None:
        if self._batch is not None:
            self._batch.append((principal, team, kind, amount, share))
            return
        self.budget_log.append(
            step=self.calendar.stamp,
            principal=principal,
            team=team,
            kind=kind,
            amount=amount,
            share=share,
        )

    @contextmanager
    def batched_log(self) -> Iterator[None]:
        """Keep the budget log's rows while the block runs, then append them at once.

        The rows, and their order, are those the transfers would have logged one by one (a
        month end logs a few rows per team: one append for them all, not one each).
        """
        if self._batch is not None:  # already batching: the outer block appends
            yield
            return
        self._batch = []
        try:
            yield
        finally:
            rows, self._batch = self._batch, None
            if rows:
                principal, team, kind, amount, share = zip(*rows, strict=True)
                self.budget_log.append(
                    step=self.calendar.stamp,
                    principal=np.array(principal, dtype=np.int64),
                    team=np.array(team, dtype=np.int64),
                    kind=list(kind),
                    amount=np.array(amount, dtype=float),
                    share=np.array(share, dtype=float),
                )

    def fund(self, team: int, amount: float) -> float:
        """Fund a team's month; a penalty it owes is cut from the allocation and leaves.

        Returns:
            The allocation the team receives.
        """
        cut = min(self.penalty_due[team], amount)
        if cut > 0:
            self.penalty_due[team] -= cut
            self.capital[self.owner[team]] -= cut
            self.ledger.outflow("penalties", cut)
            self._log(team, -cut, "penalty_cut")
        self.allocation[team] = amount - cut
        self.to_team(team, amount - cut, "funding")
        return amount - cut

    def pay_dividend(self, principal: int, rate: float) -> float:
        """Pay the principal's investors ``rate`` of its capital above the start; it leaves.

        Returns:
            The dividend paid.
        """
        dividend = rate * max(self.capital[principal] - self.start_capital, 0.0)
        if dividend > 0:
            self.capital[principal] -= dividend
            self.ledger.outflow("dividends", dividend)
            self._log_principal(principal, -dividend, "dividend")
        return dividend

    def move_capital(self, target: np.ndarray, phi: float) -> None:
        """Investors move a share ``phi`` of all capital toward the target shares of principals.

        Money moves between principals only: the total is unchanged.
        """
        total = self.capital.sum()
        if phi <= 0 or total <= 0:
            return
        new = (1.0 - phi) * self.capital + phi * target * total
        flow = new - self.capital
        self.capital = new
        for principal in np.flatnonzero(flow):
            self._log_principal(int(principal), float(flow[principal]), "investor_flow")

    def _log_principal(self, principal: int, amount: float, kind: str) -> None:
        self._row(principal, -1, kind, amount, float("nan"))

    def exit(self, team: int) -> None:
        """Defund a team for good: it stops acting and its money goes back to its principal."""
        self.active[team] = False
        self.share[team] = 0.0
        if self.budget[team]:
            self.to_principal(team, self.budget[team], "exit", from_cash=False)
        if self.cash[team]:
            self.to_principal(team, self.cash[team], "exit", from_cash=True)

    # ------------------------------------------------------------------ money in and out

    def settle_sales(self, seller: np.ndarray, price: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Clients pay the price (money enters), sellers pay the production cost (money leaves).

        Returns:
            Each team's profit on these trades.
        """
        profit = np.bincount(seller, weights=price - cost, minlength=self.cash.size)
        self.cash += profit
        self.ledger.inflow("client_payments", price.sum())
        self.ledger.outflow("production", cost.sum())
        return profit

    def pay_from_cash(self, amounts: np.ndarray, sink: str) -> None:
        """Teams pay ``amounts`` out of their cash to outside the economy (``sink``)."""
        self.cash -= amounts
        self.ledger.outflow(sink, amounts.sum())

    def receive_cash(self, amounts: np.ndarray, source: str) -> None:
        """Teams receive ``amounts`` of cash from outside the economy (``source``)."""
        self.cash += amounts
        self.ledger.inflow(source, amounts.sum())

    def charge_budget(self, amounts: np.ndarray, sink: str) -> None:
        """Charge ``amounts`` to the teams' research budgets; the money leaves to ``sink``."""
        self.budget -= amounts
        self.ledger.outflow(sink, amounts.sum())

    def buy_research(self, wanted: np.ndarray, rule: str) -> np.ndarray:
        """Pay for the research the teams want, cut to their budgets under ``rule="clip"``.

        Returns:
            The research spend paid by each team.
        """
        spend = affordable_research(wanted, self.budget, rule)
        self.charge_budget(spend, "research")
        return spend

    # ------------------------------------------------------------------ validation

    def validate(self, rule: str, penalty: float) -> int:
        """Flag the teams over budget and, under ``rule="penalize"``, fine their new overspend.

        A fine is owed, not paid from cash: it is cut from the team's next allocations, and that
        money leaves the economy (see :meth:`fund`), so the principal does not get it back.

        Returns:
            How many teams are over budget today.
        """
        over = overspend(self.budget) * self.active
        self.penalty_due += fines(over - self._overspend_seen, rule, penalty)
        self._overspend_seen = np.maximum(self._overspend_seen, over)
        self.overbudget_days += over > 0
        self.overbudget_count = int(np.count_nonzero(over > 0))
        return self.overbudget_count

    def start_month(self) -> None:
        """Forget last month's overspends: a new month's budget starts the count again."""
        self._overspend_seen[:] = 0.0
