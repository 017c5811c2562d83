"""The policy interface: a team's observation in, a validated action out.

Every team's daily decisions (how much research to buy, a probability for every open question,
the ask prices of its reports) come from a policy object. The model builds one
:class:`Observation` per team, hands a policy all the observations of its teams in the model's
seeded order, and applies the actions in that same order, so a policy that answers out of order
(concurrent language-model calls) cannot change the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    """A team's fixed traits, known to the team itself.

    Attributes:
        skill: Multiplies the precision of the team's private signals and research.
        confidence: Above 1 the team reports more extreme probabilities than its beliefs justify.
        herding: Weight on the neighbours' (or, without a graph, the crowd's) last forecast.
        research_intensity: Planned research spend as a multiple of the even daily budget.
    """

    skill: float = 1.0
    confidence: float = 1.0
    herding: float = 0.0
    research_intensity: float = 1.0


@dataclass(frozen=True)
class Questions:
    """The open questions, shared by every observation of a day.

    Attributes:
        qid: Question ids.
        index: Index each question is about.
        horizon: Horizon in days.
        days_left: Days until resolution (>= 1).
        log_moneyness: ``log(strike / current level)``: the log return needed for "yes".
    """

    qid: np.ndarray
    index: np.ndarray
    horizon: np.ndarray
    days_left: np.ndarray
    log_moneyness: np.ndarray


@dataclass(frozen=True)
class MarketView:
    """What every team knows about the market and the indices on a day.

    Attributes:
        day: Today's day number.
        step_mean: Daily drift of each index's log price (public knowledge), shape (K,).
        step_sd: Daily volatility of each index's log price, shape (K,).
        ref_price: Last closing price of each good.
        marginal_cost: Marginal cost of each report a team can offer per good, shape (U,).
        steps_per_month: Trading days per month.
        questions: The open questions.
        index_level: Current level of each index.
        reputation: Every team's published track record: its rolling Brier score shrunk toward
            the population's (NaN before any question has resolved).
        noinfo_brier: The published rolling Brier score of the no-information forecaster
            (the forecast from the index path alone), NaN before any resolution.
        quality: What a report from each team saves a client per unit of stake on each good:
            ``open questions * max(0, noinfo_brier - reputation)``, shape (teams, K).
        research_productivity: Precision research buys at spend ``cost * (e - 1)``
            (``pi(s) = productivity * skill * ln(1 + s / cost)``).
        research_cost: The spend scale of research's diminishing returns.
        research_horizon: Days over which a team weighs what research earns.
        pivot_factor: The share of funding principals move toward the teams that perform.
    """

    day: int
    step_mean: np.ndarray
    step_sd: np.ndarray
    ref_price: np.ndarray
    marginal_cost: np.ndarray
    steps_per_month: int
    questions: Questions
    index_level: np.ndarray
    reputation: np.ndarray
    noinfo_brier: float
    quality: np.ndarray
    research_productivity: float
    research_cost: float
    research_horizon: int
    pivot_factor: float


@dataclass(frozen=True)
class ResolvedForecast:
    """How a team did on one resolved question.

    Attributes:
        qid: The question's id.
        index: The index it was about.
        horizon: Its horizon in days.
        resolve_day: The day it resolved.
        outcome: 1 if the index closed at or above the strike, else 0.
        last_p: The team's last forecast.
        brier: The team's score on it (mean daily Brier score over the question's life).
        crowd_brier: The crowd's score on it.
    """

    qid: int
    index: int
    horizon: int
    resolve_day: int
    outcome: int
    last_p: float
    brier: float
    crowd_brier: float


@dataclass(frozen=True)
class TeamHistory:
    """What a team remembers, bounded in size (built only for policies that read it).

    Attributes:
        forecasts: The team's own past forecasts on each open question, by question id,
            oldest first (the last few days).
        resolved: The latest resolved questions with the team's forecast and score, oldest first.
        revenue: The team's revenue from reports on each of the last days, oldest first.
        units: Reports the team sold on each of those days (all goods).
        prices: Each good's closing price over the last days, shape (K, D), oldest first; NaN
            on a day without trades.
        levels: Each index's level over the same days, shape (K, D).
        headlines: The latest news headlines the team received, ``(day, text)``, oldest first.
        research: The latest research headlines, ``(day, text)``, oldest first.
    """

    forecasts: dict[int, tuple[float, ...]]
    resolved: tuple[ResolvedForecast, ...]
    revenue: tuple[float, ...]
    units: tuple[int, ...]
    prices: np.ndarray
    levels: np.ndarray
    headlines: tuple[tuple[int, str], ...] = ()
    research: tuple[tuple[int, str], ...] = ()


@dataclass
class Observation:
    """What one team sees when it decides.

    Attributes:
        team: The team's index (0-based position among teams).
        market: The shared market view.
        profile: The team's traits.
        budget: Research budget left this month (negative when over budget).
        cash: Trading cash.
        monthly_allocation: This month's research funding.
        days_left_in_month: Trading days until the principals reallocate.
        belief_mean: Posterior mean of each index's next shocks, shape (K, H).
        belief_prec: Posterior precision of those shocks, shape (K, H).
        neighbour_forecast: Mean last forecast of the team's neighbours per open question (NaN
            where there is none).
        markup: Current log markup on each good.
        units_sold: Reports sold per good yesterday.
        recent_brier: The team's rolling Brier score (NaN before any resolution).
        recent_revenue: The team's recent daily revenue from reports (a one-month average).
        history: The team's memory (past forecasts, outcomes, sales, prices, headlines), or
            None for a team whose policy does not read it (see :meth:`Policy.history_teams`).
    """

    team: int
    market: MarketView
    profile: Profile
    budget: float
    cash: float
    monthly_allocation: float
    days_left_in_month: int
    belief_mean: np.ndarray
    belief_prec: np.ndarray
    neighbour_forecast: np.ndarray
    markup: np.ndarray
    units_sold: np.ndarray
    recent_brier: float
    recent_revenue: float = 0.0
    history: TeamHistory | None = None


@dataclass
class Action:
    """One team's decisions for a day.

    Attributes:
        research_spend: Money to spend on research today (>= 0).
        forecasts: Probability for each open question, in the order of ``Questions``.
        ask_prices: Ask price of each report offered, shape (K, U); NaN where not offered.
        markup: The team's new log markups (heuristic bookkeeping), or None to keep them.
        note: Free text behind the decision (a language model's reasoning), logged with it.
    """

    research_spend: float
    forecasts: np.ndarray
    ask_prices: np.ndarray
    markup: np.ndarray | None = None
    note: str = ""


class Policy(ABC):
    """Turns observations into actions.

    Attributes:
        name: The policy's name in logs and league tables.
        pays_for_calls: Whether deciding costs money (language-model calls), charged to each
            team's research budget through :meth:`step_cost`.
        wants_history: Whether the policy reads :attr:`Observation.history`. The model builds
            histories only for the teams :meth:`history_teams` names, so a policy that does not
            read them costs nothing.
    """

    name: str = ""
    pays_for_calls: bool = False
    wants_history: bool = False

    def history_teams(self, n_teams: int) -> frozenset[int]:
        """The teams whose observations carry a history and whose decisions are logged."""
        return frozenset(range(n_teams)) if self.wants_history else frozenset()

    def introduce(self, team: int, profile: Profile) -> None:
        """Meet ``team`` before its first decision (a policy that plays personas picks one here)."""
        return None

    def persona_of(self, team: int) -> str:
        """The short name of the persona ``team`` is played with ("" for none)."""
        return ""

    def fell_back(self, team: int) -> bool:
        """Whether ``team``'s latest action came from a fallback rather than the policy itself."""
        return False

    def step_cost(self, team: int) -> float:
        """What ``team``'s decision cost today (nothing for a policy that makes no calls)."""
        return 0.0

    def describe_team(self, team: int) -> dict[str, str]:
        """Who decides ``team``: the policy's name, and the model and persona of an LLM team.

        The run records this for every team (the ``roster`` log), so that league tables group
        teams by policy from the run's files alone.
        """
        return {"policy": self.name or "heuristic", "model": "", "persona": ""}

    @abstractmethod
    def decide_all(self, observations: list[Observation]) -> list[Action]:
        """Decide for several teams at once, returning actions in the observations' order."""

    def decide(self, observation: Observation) -> Action:
        """Decide for one team."""
        return self.decide_all([observation])[0]
