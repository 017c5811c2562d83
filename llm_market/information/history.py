"""What a team remembers: its past forecasts, outcomes, sales, prices and headlines.

A language-model team has no memory of its own between days, so the model keeps a short one for
it (:class:`HistoryBook`) and hands it over in
:attr:`~llm_market.policies.base.Observation.history`.
Every part is bounded (the constants below) and is kept only for the teams whose policy reads it
(:meth:`~llm_market.policies.base.Policy.history_teams`): a run of heuristic teams keeps nothing
but the last days' prices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from ..policies.base import ResolvedForecast, TeamHistory
from .headlines import relayed
from .questions import Resolution

# Days of prices, index levels and sales remembered.
HISTORY_DAYS = 10
# Resolved questions remembered per team.
RESOLVED_KEPT = 5
# Own daily forecasts remembered per open question.
FORECASTS_KEPT = 5
# News headlines and research headlines remembered per team.
HEADLINES_KEPT = 8
RESEARCH_KEPT = 6


class _Memory:
    """One team's memory."""

    def __init__(self):
        self.forecasts: dict[int, deque[float]] = {}
        self.resolved: deque[ResolvedForecast] = deque(maxlen=RESOLVED_KEPT)
        self.revenue: deque[float] = deque(maxlen=HISTORY_DAYS)
        self.units: deque[int] = deque(maxlen=HISTORY_DAYS)
        # (day received, text, last day it is about)
        self.headlines: deque[tuple[int, str, int]] = deque(maxlen=HEADLINES_KEPT)
        self.research: deque[tuple[int, str, int]] = deque(maxlen=RESEARCH_KEPT)


class HistoryBook:
    """The teams' memories and the market's recent prices.

    Args:
        n_goods: Number of goods (indices).
    """

    def __init__(self, n_goods: int):
        self.n_goods = n_goods
        self._prices: deque[np.ndarray] = deque(maxlen=HISTORY_DAYS)
        self._levels: deque[np.ndarray] = deque(maxlen=HISTORY_DAYS)
        self._teams: dict[int, _Memory] = {}
        # Yesterday's private headlines by news id: the items a neighbour relays today.
        self._private: dict[int, str] = {}

    def _memory(self, team: int) -> _Memory:
        return self._teams.setdefault(int(team), _Memory())

    def record_prices(self, close: np.ndarray, level: np.ndarray) -> None:
        """Remember a day's closing report prices (NaN: no trade) and index levels."""
        self._prices.append(np.array(close, dtype=float))
        self._levels.append(np.array(level, dtype=float))

    def record_forecasts(self, teams: Iterable[int], qid: np.ndarray, forecasts) -> None:
        """Remember each team's forecasts of the day.

        Args:
            teams: The teams to remember for.
            qid: The open questions' ids.
            forecasts: A mapping (or sequence) from team id to its forecasts in ``qid`` order.
        """
        for t in teams:
            memory = self._memory(t)
            for q, p in zip(
                qid.tolist(), np.asarray(forecasts[t], dtype=float).tolist(), strict=True
            ):
                memory.forecasts.setdefault(q, deque(maxlen=FORECASTS_KEPT)).append(p)

    def record_sales(self, team: int, units: int, revenue: float) -> None:
        """Remember one team's reports sold and revenue of the day."""
        memory = self._memory(team)
        memory.units.append(int(units))
        memory.revenue.append(float(revenue))

    def record_resolutions(self, teams: Iterable[int], res: Resolution, crowd_col: int) -> None:
        """Remember the day's resolved questions with each team's forecast and score."""
        if not len(res):
            return
        for t in teams:
            memory = self._memory(t)
            for j in range(len(res)):
                memory.resolved.append(
                    ResolvedForecast(
                        qid=int(res.qid[j]),
                        index=int(res.index[j]),
                        horizon=int(res.horizon[j]),
                        resolve_day=int(res.resolve_day[j]),
                        outcome=int(res.outcome[j]),
                        last_p=float(res.last_p[j, t]),
                        brier=float(res.brier[j, t]),
                        crowd_brier=float(res.brier[j, crowd_col]),
                    )
                )
                memory.forecasts.pop(int(res.qid[j]), None)

    def record_news(
        self,
        teams: frozenset[int],
        day: int,
        receiver: np.ndarray,
        news_id: np.ndarray,
        about_day: np.ndarray,
        today: dict[int, str],
        private_ids: Iterable[int],
    ) -> None:
        """Deliver the day's headlines to the teams that remember.

        Args:
            teams: The teams to remember for.
            day: The day the news arrived.
            receiver: The receiving team of each delivered reading.
            news_id: The news id of each reading (today's items, or yesterday's relayed).
            about_day: The day each reading is about.
            today: Headline of each of today's items by news id.
            private_ids: Today's private items (a neighbour may relay them tomorrow).
        """
        if teams:
            mine = np.isin(receiver, np.fromiter(teams, dtype=np.int64))
            rows = zip(
                receiver[mine].tolist(),
                news_id[mine].tolist(),
                about_day[mine].tolist(),
                strict=True,
            )
            for t, i, until in rows:
                text = today.get(i)
                if text is None:
                    text = relayed(self._private[i]) if i in self._private else None
                if text is not None:
                    self._memory(t).headlines.append((day, text, until))
        self._private = {i: today[i] for i in private_ids}

    def record_research(self, team: int, day: int, headlines: list[tuple[str, int]]) -> None:
        """Remember one team's research of the day: each headline with the last day it covers."""
        self._memory(team).research.extend((day, h, until) for h, until in headlines)

    def history(self, team: int, qid: np.ndarray, today: int) -> TeamHistory:
        """What ``team`` remembers on day ``today``.

        Its forecasts on the questions ``qid`` still open, and only the headlines about days
        still to come (news about the past is in the prices already).
        """
        memory = self._memory(team)
        k = self.n_goods
        prices = np.array(self._prices).T if self._prices else np.zeros((k, 0))
        levels = np.array(self._levels).T if self._levels else np.zeros((k, 0))
        return TeamHistory(
            forecasts={
                q: tuple(memory.forecasts[q]) for q in qid.tolist() if q in memory.forecasts
            },
            resolved=tuple(memory.resolved),
            revenue=tuple(memory.revenue),
            units=tuple(memory.units),
            prices=prices,
            levels=levels,
            headlines=tuple((d, h) for d, h, until in memory.headlines if until > today),
            research=tuple((d, h) for d, h, until in memory.research if until > today),
        )
