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

from .lmsr import (
    LMSRMarket,
    binary_buy_within_cash,
    binary_quote,
    cost_to_buy,
    shares_within_cash,
)

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
        # What each team has paid into each market, as floats (the fast path adds to it per bet).
        self._spent: dict[int, list[float]] = {}

    def open(self, qids: np.ndarray) -> None:
        """Open a market for each new question id."""
        for qid in qids.tolist():
            if qid not in self.markets:
                self.markets[qid] = LMSRMarket(2, funding=self.funding)
                self._spent[qid] = [0.0] * self.n_teams

    def prices(self, qids: np.ndarray) -> np.ndarray:
        """Price of "yes" in each question's market (0.5 for a market that has not traded)."""
        out = []
        for q in qids.tolist():
            market = self.markets[q]
            q0, q1 = market.q.tolist()
            out.append(binary_quote(q0, q1, market.b)[0])
        return np.array(out, dtype=float)

    def trade(
        self, qids: np.ndarray, teams: list[int], forecasts: np.ndarray, cash: np.ndarray
    ) -> np.ndarray:
        """Let teams, in the given order, buy toward their forecasts.

        The markets are binary, so each bet is computed on floats (:func:`~.lmsr.binary_quote`,
        :func:`~.lmsr.binary_buy_within_cash`): to the bit what the general numpy maker gives
        (:meth:`_trade_reference`), at about a twentieth of its cost.

        Args:
            qids: Open question ids, in the forecasts' column order.
            teams: Team indices in the order they trade.
            forecasts: Each trading team's forecast per question, shape (len(teams), Q).
            cash: Cash of every team; read, not changed.

        Returns:
            What each team paid the makers today, shape (n_teams,).
        """
        paid = [0.0] * self.n_teams
        cash = np.asarray(cash, dtype=float).tolist()
        rows = np.asarray(forecasts, dtype=float).tolist()
        stake, band = self.stake, self.dead_band
        lo, hi = 1e-6, 1 - 1e-6
        # Per market: q0, q1 and their quote, kept as floats between bets (each sum exactly the
        # one the maker's own vector would make, written back at the end), and the maker's parts.
        books = []
        for q in qids.tolist():
            m = self.markets[q]
            q0, q1 = m.q.tolist()
            books.append([q0, q1, binary_quote(q0, q1, m.b), m, m.b, m.tick, self._spent[q]])
        try:
            for r, team in enumerate(teams):
                row, have, spent_so_far = rows[r], cash[team], paid[team]
                for f, book in zip(row, books, strict=False):
                    budget = have - spent_so_far
                    if not budget < stake:  # min(stake, budget)
                        budget = stake
                    if budget <= 0:
                        break
                    p = lo if f < lo else hi if f > hi else f  # np.clip, NaN included
                    q0, q1, quote, market, b, tick, spent = book
                    yes = quote[0]
                    if abs(p - yes) <= band:
                        continue
                    if p > yes:
                        side, target, log_p, log_1mp = YES, p, quote[1], quote[2]
                    else:
                        side, target, log_p, log_1mp = NO, 1.0 - p, quote[3], quote[4]
                    got = binary_buy_within_cash(
                        q0, q1, b, side, log_p, log_1mp, target, budget, tick
                    )
                    if got is None:
                        # The rare bisection (or an error to raise): the vector maker does it.
                        v = np.array([q0, q1])
                        shares = shares_within_cash(v, side, target, budget, b, tick)
                        charge = cost_to_buy(v, side, shares, b, tick) if shares > 0 else 0.0
                    else:
                        shares, charge = got
                    if shares <= 0:
                        continue
                    # LMSRMarket.trade's bookkeeping, q0 and q1 standing in for market.q.
                    held = market.positions.get(team)
                    if held is None:
                        held = market.positions[team] = np.zeros(2)
                    held[side] += shares
                    market.collected += charge
                    if side == YES:
                        q0 += shares
                    else:
                        q1 += shares
                    book[0], book[1], book[2] = q0, q1, binary_quote(q0, q1, b)
                    spent_so_far += charge
                    paid[team] = spent_so_far
                    spent[team] += charge
        finally:
            for q0, q1, _, market, *_ in books:
                market.q[0], market.q[1] = q0, q1
        return np.array(paid, dtype=float)

    def _prices_reference(self, qids: np.ndarray) -> np.ndarray:
        """:meth:`prices` through the general numpy maker: the reference the fast path matches."""
        return np.array([self.markets[q].price()[YES] for q in qids.tolist()], dtype=float)

    def _trade_reference(
        self, qids: np.ndarray, teams: list[int], forecasts: np.ndarray, cash: np.ndarray
    ) -> np.ndarray:
        """:meth:`trade` through the general numpy maker, one vector call per step.

        Kept as the specification of :meth:`trade`, which must give bit-identical results (the
        tests and ``benchmarks/bench_prediction_market.py`` compare them); some twenty times
        slower.
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
            spent += np.array(self._spent.pop(qid))
        return payout, payout - spent
