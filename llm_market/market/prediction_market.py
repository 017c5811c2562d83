"""The prediction market: an LMSR market maker per open question, in which teams bet their beliefs.

Each question opens a binary market (outcome 0 = "yes, the index closes at or above the strike",
outcome 1 = "no") run by a Hanson LMSR maker funded with ``pm_funding``, so ``b = funding / ln 2``
and the maker can lose at most its funding (see :mod:`~llm_market.market.lmsr`). Every day, in the
model's seeded order, each team compares its forecast with the market's price of "yes" and buys the
side it finds cheap, moving the price toward its forecast, with at most ``pm_stake`` of its cash per
question per day (and never more than it holds). At resolution each winning share pays 1.

The maker stands outside the economy (a sponsor): what teams pay it leaves the economy and what it
pays out enters, so the money books balance. A team's *market-scoring earnings* on a question are
its payout minus what it paid; principals can pivot on them (``pivot_metric="msr"``).
"""

from __future__ import annotations

import numpy as np

from .lmsr import LMSRMarket, shares_within_cash

YES, NO = 0, 1


class PredictionMarkets:
    """The LMSR markets of the open questions.

    Args:
        n_teams: Number of teams.
        funding: Each maker's subsidy (its worst-case loss).
        stake: Most a team spends per question per day.
        dead_band: A team trades only when its forecast and the price differ by more than this.
    """

    def __init__(self, n_teams: int, funding: float, stake: float, dead_band: float = 0.01):
        self.n_teams = n_teams
        self.funding = funding
        self.stake = stake
        self.dead_band = dead_band
        self.markets: dict[int, LMSRMarket] = {}
        self._spent: dict[int, np.ndarray] = {}

    def open(self, qids: np.ndarray) -> None:
        """Open a market for each new question id."""
        for qid in qids.tolist():
            if qid not in self.markets:
                self.markets[qid] = LMSRMarket(2, funding=self.funding)
                self._spent[qid] = np.zeros(self.n_teams)

    def prices(self, qids: np.ndarray) -> np.ndarray:
        """Price of "yes" in each question's market (0.5 for a market that has not traded)."""
        return np.array([self.markets[q].price()[YES] for q in qids.tolist()], dtype=float)

    def trade(
        self, qids: np.ndarray, teams: list[int], forecasts: np.ndarray, cash: np.ndarray
    ) -> np.ndarray:
        """Let teams, in the given order, buy toward their forecasts.

        Args:
            qids: Open question ids, in the forecasts' column order.
            teams: Team indices in the order they trade.
            forecasts: Each trading team's forecast per question, shape (len(teams), Q).
            cash: Cash of every team; read, not changed.

        Returns:
            What each team paid the makers today, shape (n_teams,).
        """
        paid = np.zeros(self.n_teams)
        markets = [self.markets[q] for q in qids.tolist()]
        spent = [self._spent[q] for q in qids.tolist()]
        for row, team in enumerate(teams):
            for j, market in enumerate(markets):
                budget = min(self.stake, cash[team] - paid[team])
                if budget <= 0:
                    break
                p = float(np.clip(forecasts[row, j], 1e-6, 1 - 1e-6))
                yes = market.price()[YES]
                if abs(p - yes) <= self.dead_band:
                    continue
                side, target = (YES, p) if p > yes else (NO, 1.0 - p)
                shares = shares_within_cash(market.q, side, target, budget, market.b, market.tick)
                if shares <= 0:
                    continue
                charge = market.trade(team, side, shares)
                paid[team] += charge
                spent[j][team] += charge
        return paid

    def resolve(self, qids: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Close the questions' markets and pay the winners.

        Args:
            qids: Question ids resolving today.
            outcomes: 1 if the event happened, per question.

        Returns:
            Each team's payout and its market-scoring earnings (payout minus what it paid on these
            questions), both shape (n_teams,).
        """
        payout = np.zeros(self.n_teams)
        spent = np.zeros(self.n_teams)
        for qid, o in zip(qids.tolist(), outcomes.tolist(), strict=True):
            market = self.markets.pop(qid, None)
            if market is None:
                continue
            for team, amount in market.resolve(YES if o else NO).items():
                payout[team] += amount
            spent += self._spent.pop(qid)
        return payout, payout - spent
