"""The market model: one step is one trading day, staged as in the seed's ``model_step``.

0. Agents act: each team (in a seeded random order) chooses its research spend, forecasts every
   open question and posts asks; clients' bids are drawn from the demand curve.
1. Market dynamics: match asks and bids, settle cash, record trades and surplus, move the demand
   regime one Markov step.
2. Information dynamics: advance the indices, resolve and score the questions due, open new ones,
   deliver news and research.
3. Validation and budgets: check spending against budgets; at a month end the principals pivot.
4. Time: advance the calendar, check that money is conserved, collect data.

The model builds the parts and calls them in that order; each part lives in the module named
after it (``docs/architecture.md`` has the map, ``docs/model.md`` the choices behind each part).
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from .agents import DayView, Principal, Team, TeamState
from .budgets.accounts import Accounts
from .budgets.performance import Performance
from .budgets.pivot import hhi, target_shares
from .calendar import Calendar
from .information.beliefs import Beliefs, no_information_forecast
from .information.headlines import (
    item_headlines,
    log_headlines,
    make_generator,
    research_items,
)
from .information.history import HistoryBook
from .information.indices import make_index_process
from .information.news import NewsProcess
from .information.questions import QuestionBook, Resolution
from .information.scoring import ScoreBoard
from .market.prediction_market import PredictionMarkets
from .market.report_market import ReportMarket
from .network import SocialGraph, make_graph
from .params import Params, make_params
from .policies.base import MarketView, Profile, Questions, TeamHistory
from .policies.heuristic import HeuristicPolicy, TeamArrays
from .recording.collector import make_datacollector
from .recording.columns import CROWD_ID, MARKET_ID, NOINFO_ID
from .recording.logs import ColumnLog, EventLogs
from .recording.summary import nanmean, run_summary
from .rng import DEFAULT_SEED, Streams, resolve_seed


class MarketModel(mesa.Model):
    """A market for probability forecasts on financial indices.

    Every parameter is a keyword with a default (see :class:`~llm_market.params.Params` or
    ``llm-market params``); ``scenario`` names a preset whose values explicit keywords override.

    The preset's name is kept as :attr:`scenario_name`: from Mesa 3.5 on, ``Model.scenario`` is
    Mesa's own ``Scenario`` object, so this class never assigns ``scenario``.

    ``rng`` is Mesa's name for the seed (``MarketModel(rng=3)`` is ``MarketModel(seed=3)``), so
    the model runs under ``mesa.batch_run`` of every supported Mesa version. A seed of None, as
    Mesa 3.5's ``batch_run`` passes when it is given no ``rng``, draws a fresh seed from the
    operating system's entropy; the seed drawn is kept in :attr:`seed` (and ``summary.json``),
    so the run can be repeated.

    Args:
        scenario: Name of a preset in :data:`~llm_market.scenarios.SCENARIOS`.
        seed: The integer that fixes the run, or None for a fresh one.
        rng: Mesa's name for ``seed``: an integer, or None to use ``seed``. A ``seed`` other
            than the default that disagrees with it is an error.
        **params: Parameter values that override the scenario's.

    Attributes:
        scenario_name: The preset's name.
        seed: The integer seed of the run.

    Raises:
        ParameterError: A parameter is unknown or out of range, or ``seed`` and ``rng``
            disagree or are not integers.
    """

    # A subclass (a sweep's model) may record less or more.
    record_teams: bool = True

    def __init__(
        self,
        scenario: str = "default",
        seed: int | None = DEFAULT_SEED,
        rng: int | None = None,
        **params: Any,
    ):
        self.params: Params = make_params(scenario, **params)
        self.scenario_name = scenario
        seed = resolve_seed(seed, rng)
        super().__init__(rng=seed)
        self.seed = seed
        self.streams = Streams(seed)
        p = self.params
        self.calendar = Calendar(p.steps_per_month)
        self.n_teams, self.n_goods = p.n_teams, p.n_indices
        self.event_logs = EventLogs(index_market=self.params.index_process == "market")

        self._build_information()
        self.social = self._build_graph()
        self.market = ReportMarket(
            p,
            self.streams,
            self.indices.unconditional_sd,
            self.social.trade_allowed if self.social is not None else None,
        )
        self._build_agents()
        self.budget_hhi = float("nan")
        self.money_error = 0.0

        self.open_questions(0)
        for principal in self.principals:
            principal.fund()
        self.budget_hhi = hhi(self.accounts.allocation)
        self.view = self.prepare_day()
        self.datacollector = make_datacollector(self, self.extra_reporters(), self.record_teams)
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ construction

    def _build_information(self) -> None:
        p = self.params
        horizon = max(p.horizons)
        self.indices = make_index_process(p, self.streams, horizon)
        self.beliefs = Beliefs(p.n_teams, p.n_indices, horizon)
        # Forecaster columns: the teams, the crowd (mean forecast of the active teams), the
        # no-information forecaster (the index path alone) and, when it runs, the prediction
        # market's price of "yes".
        self.crowd_col = p.n_teams
        self.noinfo_col = p.n_teams + 1
        self.market_col = p.n_teams + 2 if p.prediction_market else None
        names = [f"team_{i}" for i in range(p.n_teams)] + ["crowd", "noinfo"]
        names += ["market"] if p.prediction_market else []
        self.forecaster_ids = np.r_[
            np.arange(p.n_teams), [CROWD_ID, NOINFO_ID], [MARKET_ID] if p.prediction_market else []
        ].astype(np.int64)
        self.questions = QuestionBook(
            len(names), p.horizons, p.question_interval, p.question_threshold
        )
        self.scores = ScoreBoard(names, p.pivot_window)
        self.prediction_markets = (
            PredictionMarkets(p.n_teams, p.pm_funding, p.pm_stake) if p.prediction_market else None
        )
        self.crowd_brier = np.nan
        self.market_brier = np.nan
        self.noinfo_brier = np.nan
        # News as text for the teams that read it; research headlines draw from their own
        # stream, so the news log's headlines do not depend on which teams buy research.
        self.headlines = make_generator(p.headline_generator, self.streams["headlines"])
        self.research_headlines = make_generator(
            p.headline_generator, self.streams["research_headlines"]
        )
        self.history = HistoryBook(p.n_indices)

    def _build_graph(self) -> SocialGraph | None:
        graph = make_graph(self.params, self.streams["network"])
        if graph is None:
            return None
        return SocialGraph(graph, self.params.n_clients, self.streams["client_homes"], self.random)

    def _build_agents(self) -> None:
        p = self.params
        rng = self.streams["teams"]
        n = p.n_teams
        owner = np.arange(n) % p.n_principals
        self.accounts = Accounts(
            owner,
            p.n_principals,
            p.principal_capital,
            p.initial_team_cash,
            self.event_logs.budgets,
            self.calendar,
        )
        self.record = Performance(n, p.pivot_window)
        self.principals = [Principal(self, i, self.accounts, p) for i in range(p.n_principals)]
        skill = rng.lognormal(0.0, p.skill_sd, n)
        confidence = rng.lognormal(0.0, p.confidence_sd, n)
        herding = np.clip(rng.normal(p.herding_weight, 0.1 * (p.herding_weight > 0), n), 0, 1)
        intensity = rng.lognormal(0.0, p.research_intensity_sd, n)
        self.teams: list[Team] = []
        books = (self.accounts, self.record)
        self.team_state = TeamState(n, p.n_indices, p.markup_initial)
        for i in range(n):
            principal = self.principals[owner[i]]
            profile = Profile(
                float(skill[i]), float(confidence[i]), float(herding[i]), float(intensity[i])
            )
            team = Team(self, i, principal, profile, self.team_state, *books)
            principal.adopt(team)
            if self.social is not None:
                team.cell = self.social.network[i]
            self.teams.append(team)
        # The traits as arrays (the profiles hold the same floats), for deciding all at once.
        self._traits = (skill, confidence, herding, intensity)
        self.news = NewsProcess(
            self.streams["news"],
            n,
            p.n_indices,
            p.public_news_rate,
            p.public_news_noise,
            p.private_news_rate,
            p.private_news_noise,
            p.diffusion_prob,
            skill,
            None if self.social is None else self.social.neighbour_lists,
        )
        self.policy = HeuristicPolicy(self.streams["policy"], p.markup_step, p.markup_decay)
        if p.policy == "llm":
            from .policies.llm import build_policy, config_from_params

            self.policy = build_policy(
                self.policy,
                n,
                p.llm_share,
                config_from_params(p, self.seed),
                self.streams["llm_teams"],
            )
        self._acting_idx = np.zeros(0, dtype=np.int64)
        self._trading_profit = np.zeros(n)
        # Who decides each team, kept with the run so that a league table needs only its files.
        for team in self.teams:
            self.policy.introduce(team.idx, team.profile)
        self.event_logs.record_roster(self.teams, self.policy)

    # Counts agents joining and leaving, so that the data collector checks its roster of teams
    # only when it may have changed (see RunCollector).
    roster_version: int = 0

    def register_agent(self, agent: mesa.Agent) -> None:
        """Mesa's registration of a new agent, counted in :attr:`roster_version`."""
        super().register_agent(agent)
        self.roster_version += 1

    def deregister_agent(self, agent: mesa.Agent) -> None:
        """Mesa's removal of an agent, counted in :attr:`roster_version`."""
        super().deregister_agent(agent)
        self.roster_version += 1

    def extra_reporters(self) -> dict[str, Any]:
        """Model reporters a subclass adds to the data collector (none here)."""
        return {}

    # ------------------------------------------------------------------ the step

    def step(self) -> None:
        """Advance the economy one trading day (the seed's ``model_step``)."""
        self.calendar.open_day()
        self.agents_act()
        self.run_market_dynamics()
        self.run_information_dynamics()
        self.validate_expenditures()
        self.allocate_budgets()
        self.advance_time()

    def agents_act(self) -> None:
        """Stage 0: teams decide in a seeded random order; actions are applied in that order.

        The heuristic policy decides every team in one pass over the model's arrays; any other
        policy (language models, a person at the app) is handed one observation per team.
        """
        order = self.streams["activation"].permutation(self.n_teams)
        acting = order[self.active[order]]
        self._acting_idx = acting
        state = self.team_state
        if type(self.policy) is HeuristicPolicy:
            if acting.size:
                # Decided in team order, so that with every team acting the model's arrays are
                # read as they are (no copy); the ask noise still follows the decision order.
                rows = np.sort(acting)
                d = self.policy.decide_arrays(
                    self.view.market, self.team_arrays(rows), np.searchsorted(rows, acting)
                )
                state.set_decisions(rows, d.research_spend, d.forecasts, d.ask_prices, d.markup)
            else:
                state.set_actions([], [])
            return
        teams = [self.teams[i] for i in acting.tolist()]
        remember = self.policy.history_teams(self.n_teams)
        actions = self.policy.decide_all(
            [t.observe(self.view, self.memory_of(t.idx, remember)) for t in teams]
        )
        state.set_actions(acting.tolist(), actions)
        if remember:
            self.record_decisions([t for t in teams if t.idx in remember])

    @property
    def _acting(self) -> list[Team]:
        """Today's deciding teams, in their order of decision."""
        return [self.teams[i] for i in self._acting_idx.tolist()]

    def team_arrays(self, teams: np.ndarray) -> TeamArrays:
        """What ``teams`` see today, as arrays (the rows of their observations).

        When ``teams`` is every team in order the rows are the model's own arrays, not copies
        (read-only to the policy).
        """
        view, state, a = self.view, self.team_state, self.accounts
        skill, confidence, herding, intensity = self._traits
        everyone = teams.size == self.n_teams and bool(np.all(teams == np.arange(self.n_teams)))

        def rows(x: np.ndarray) -> np.ndarray:
            return x if everyone else x[teams]

        return TeamArrays(
            team=teams,
            skill=rows(skill),
            confidence=rows(confidence),
            herding=rows(herding),
            research_intensity=rows(intensity),
            budget=rows(a.budget),
            monthly_allocation=rows(a.allocation),
            days_left_in_month=np.full(teams.size, view.days_left_in_month),
            recent_brier=rows(self.record.brier),
            recent_revenue=rows(state.recent_revenue),
            belief_mean=rows(view.belief_mean),
            belief_prec=rows(view.belief_prec),
            neighbour_forecast=rows(view.neighbour_forecasts),
            markup=rows(state.markup),
            units_sold=rows(state.units_sold),
        )

    def memory_of(self, team: int, remember: frozenset[int]) -> TeamHistory | None:
        """What ``team`` remembers today, if its policy reads it (else None: nothing built)."""
        if team not in remember:
            return None
        return self.history.history(team, self.view.market.questions.qid, self.calendar.day)

    def record_decisions(self, teams: list[Team]) -> None:
        """Log the day's decisions of the teams whose policy keeps a memory (LLM teams)."""
        rows = sorted(teams, key=lambda t: t.idx)
        forecasts = [t.action.forecasts for t in rows]
        self.event_logs.decisions.append(
            step=self.calendar.stamp,
            team=np.array([t.idx for t in rows], dtype=np.int64),
            persona=[self.policy.persona_of(t.idx) for t in rows],
            reasoning=[t.action.note for t in rows],
            fallback=[int(self.policy.fell_back(t.idx)) for t in rows],
            research_spend=[t.action.research_spend for t in rows],
            n_forecasts=[f.size for f in forecasts],
            mean_forecast=[float(f.mean()) if f.size else np.nan for f in forecasts],
        )

    def run_market_dynamics(self) -> None:
        """Stage 1: match each good's asks and bids, settle money, record trades and surplus."""
        sellers = np.flatnonzero(self.active)
        days = self.market.trade(
            sellers,
            self.team_state.ask_prices[sellers],
            self.streams["market"],
            self.view.market.quality,
        )
        sold = np.zeros((self.n_teams, self.n_goods), dtype=np.int64)
        revenue = np.zeros(self.n_teams)
        self._trading_profit = np.zeros(self.n_teams)
        for day in days:
            self._trading_profit += self.accounts.settle_sales(day.seller, day.price, day.cost)
            sold[:, day.good] = np.bincount(day.seller, minlength=self.n_teams)
            revenue += np.bincount(day.seller, weights=day.price, minlength=self.n_teams)
            reputation = self.view.market.reputation[day.seller]
            self.event_logs.record_trades(self.calendar.stamp, day, reputation)
            # A traded index: the day's buyers of reports trade on them as informed traders.
            self.indices.observe_reports(day.good, day.buyer, day.seller)
        self.team_state.record_sales(sold, revenue)
        self.trade_predictions()
        self.record_forecasts()

    def run_information_dynamics(self) -> None:
        """Stage 2: indices move, questions resolve and open, news and research arrive."""
        r = self.indices.advance()
        if self.params.index_process == "market":
            self.event_logs.record_index_market(self.calendar.stamp, self.indices)
        self.beliefs.advance()
        self.market.observe_index(r, self.indices.level, self.indices.report_gain)
        day = self.calendar.closing_day
        self.score(self.questions.resolve(day, self.indices.level))
        self.open_questions(day)
        self.deliver_news(day)
        self.buy_research()

    def validate_expenditures(self) -> None:
        """Stage 3a: flag teams over budget and fine them under ``overbudget="penalize"``."""
        self.accounts.validate(self.params.overbudget, self.params.overbudget_penalty)

    def allocate_budgets(self) -> None:
        """Stage 3b: at a month end the principals collect, pivot and fund their teams."""
        if not self.calendar.month_ends_today:
            return
        with self.accounts.batched_log():
            self._month_end()

    def _month_end(self) -> None:
        p = self.params
        metric = self.record.metric(p.pivot_metric, self.prediction_markets is not None)
        for principal in self.principals:
            principal.review(metric)
        # Investors move capital toward the principals whose teams earned the most, in
        # proportion to their rank (gentler than the principals' own pivot).
        returns = self.record.principal_returns(self.accounts.owner, self.accounts.capital)
        self.accounts.move_capital(target_shares(returns), p.investor_pivot)
        for principal in self.principals:
            principal.fund()
        self.budget_hhi = hhi(self.accounts.allocation)
        self.accounts.start_month()

    def advance_time(self) -> None:
        """Stage 4: the calendar moves on, the money check runs, data is collected."""
        self.calendar.close_day()
        self.money_error = self.accounts.money_error()
        self.view = self.prepare_day()
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ what the stages do

    def record_forecasts(self) -> None:
        """Store today's forecasts of every team, the crowd and the benchmarks."""
        q = len(self.questions)
        f = np.full((q, self.questions.n_forecasters), 0.5)
        acting = self._acting_idx
        if acting.size == self.n_teams:  # every team (in some order): its rows as they are
            f[:, : self.n_teams] = self.team_state.forecasts.T
        else:
            f[:, acting] = self.team_state.forecasts[acting].T
        teams = f[:, : self.n_teams]
        f[:, self.crowd_col] = teams[:, self.active].mean(axis=1) if q else 0.5
        f[:, self.noinfo_col] = no_information_forecast(self.view.market)
        if self.market_col is not None:
            # The market's forecast for the day is its price after the day's trades.
            f[:, self.market_col] = self.prediction_markets.prices(self.questions.qid)
        self.questions.record(f)
        wanted = self.policy.history_teams(self.n_teams)
        remember = [t for t in self._acting if t.idx in wanted] if wanted else []
        if remember:
            self.history.record_forecasts([t.idx for t in remember], self.questions.qid, f.T)
            for team in remember:
                units = int(np.sum(team.units_sold))
                self.history.record_sales(team.idx, units, team.revenue_today)

    def trade_predictions(self) -> None:
        """Teams bet their forecasts in the prediction markets, in the day's acting order."""
        if self.prediction_markets is None:
            return
        acting = self._acting_idx.tolist()
        forecasts = self.team_state.forecasts[self._acting_idx]
        paid = self.prediction_markets.trade(
            self.questions.qid, acting, forecasts.reshape(len(acting), -1), self.accounts.cash
        )
        self.accounts.pay_from_cash(paid, "prediction_market_stakes")

    def open_questions(self, day: int) -> None:
        """Open ``day``'s new questions (and their prediction markets)."""
        opened = self.questions.open_questions(day, self.indices.level)
        if self.prediction_markets is not None and opened:
            self.prediction_markets.open(self.questions.qid[-opened:])

    def score(self, res: Resolution) -> None:
        """Score the forecasts on the questions resolved today and settle their markets."""
        if self.prediction_markets is not None:
            payout, earnings = self.prediction_markets.resolve(res.qid, res.outcome)
            self.accounts.receive_cash(payout, "prediction_market_payouts")
            self.record.add_msr(earnings)
        self.scores.add_day(res)
        self.event_logs.record_resolutions(res, self.forecaster_ids)
        remember = self.policy.history_teams(self.n_teams)
        self.history.record_resolutions(sorted(remember), res, self.crowd_col)
        brier = self.scores.rolling_brier()
        skill = self.scores.rolling_skill()
        self.record.update_scores(brier[: self.n_teams], skill[: self.n_teams])
        self.crowd_brier = float(brier[self.crowd_col])
        self.noinfo_brier = float(brier[self.noinfo_col])
        if self.market_col is not None:
            self.market_brier = float(brier[self.market_col])

    def deliver_news(self, day: int) -> None:
        """Draw ``day``'s public and private news (and relays on the graph) and deliver it."""
        batch, log = self.news.draw(day, self.indices.buffer)
        self.beliefs.observe(batch.team, batch.index, batch.ahead, batch.value, batch.precision)
        # Every item gets its headline (logged beside the numbers); only the teams that read
        # headlines are handed them.
        log["headline"] = log_headlines(self.headlines, log)
        self.event_logs.news.append(step=self.calendar.stamp, **log)
        self.indices.observe_news(log)  # a traded index: public news publishes fundamentals
        remember = self.policy.history_teams(self.n_teams)
        if not remember:  # nobody reads headlines: nothing to deliver or to keep for relays
            return
        today = dict(zip(log["news_id"].tolist(), log["headline"], strict=True))
        private = log["news_id"][log["team"] >= 0].tolist()
        about = day + 1 + batch.ahead
        self.history.record_news(remember, day, batch.team, batch.news_id, about, today, private)

    def buy_research(self) -> None:
        """Teams pay for the research they chose (and their language-model calls) and learn."""
        p = self.params
        wanted = np.zeros(self.n_teams)
        acting = self._acting_idx
        spend = self.team_state.research_spend[acting]
        wanted[acting] = np.where(0.0 > spend, 0.0, spend)  # max(spend, 0.0), as Python takes it
        llm_cost = self.charge_llm_calls()
        spend = self.accounts.buy_research(wanted, p.overbudget)
        team, values, precision = self.news.research(
            spend, self.indices.buffer, p.research_productivity, p.research_cost
        )
        self.beliefs.observe_all_days(team, values, precision)
        self.indices.observe_research(team, precision)  # a traded index: report quality
        self.remember_research(team, values, precision)
        self.record.add_profit(self._trading_profit - llm_cost - spend)

    def remember_research(self, team: np.ndarray, values: np.ndarray, precision) -> None:
        """Give the teams that read headlines their research of the day as headlines."""
        remember = self.policy.history_teams(self.n_teams)
        if not remember:
            return
        day = self.calendar.closing_day + 1  # research is about tomorrow on
        spans = tuple(sorted({min(h, values.shape[-1]) for h in self.params.horizons}))
        # Every remembering team's items first, then their headlines in one pass (the same
        # draws, in the same order, as item by item).
        batches = [
            (t, research_items(t, day, values[j], float(precision[j]), spans))
            for j, t in enumerate(team.tolist())
            if t in remember
        ]
        every = [item for _, items in batches for item in items]
        headlines = iter(item_headlines(self.research_headlines, every))
        for t, items in batches:
            texts = [(next(headlines), day + i.span - 1) for i in items]
            self.history.record_research(t, self.calendar.closing_day, texts)

    def charge_llm_calls(self) -> np.ndarray:
        """Charge today's language-model calls to each team's research budget.

        The calls are made before research is bought, so their cost is paid first: under
        ``overbudget="clip"`` research is cut to what is left, and like research the cost counts
        against the team's profit and its budget checks.
        """
        if not self.policy.pays_for_calls:
            return np.zeros(self.n_teams)
        llm_cost = np.array([self.policy.step_cost(i) for i in range(self.n_teams)])
        self.accounts.charge_budget(llm_cost, "llm")
        return llm_cost

    def prepare_day(self) -> DayView:
        """Set what clients will pay tomorrow and what teams will see when they next decide."""
        q, level = self.questions, self.indices.level
        day = self.calendar.day
        p = self.params
        reputation = self.record.published_brier(self.scores.rolling_questions, p.reputation_prior)
        open_per_good = np.bincount(q.index, minlength=self.n_goods)
        quality = self.market.report_quality(reputation, self.noinfo_brier, open_per_good)
        market = MarketView(
            day=day,
            step_mean=np.broadcast_to(self.indices.step_mean, level.shape).copy(),
            step_sd=np.broadcast_to(self.indices.step_sd, level.shape).copy(),
            ref_price=self.market.ref_price.copy(),
            marginal_cost=self.market.marginal_cost,
            steps_per_month=self.params.steps_per_month,
            index_level=level.copy(),
            reputation=reputation,
            noinfo_brier=self.noinfo_brier,
            quality=quality,
            research_productivity=p.research_productivity,
            research_cost=p.research_cost,
            research_horizon=p.research_horizon,
            pivot_factor=p.pivot_factor,
            questions=Questions(
                qid=q.qid.copy(),
                index=q.index.copy(),
                horizon=q.horizon.copy(),
                days_left=q.days_left(day),
                log_moneyness=np.log(q.strike / level[q.index]),
            ),
        )
        last = q.last_forecasts()  # (Q, teams + 1), NaN for questions opened today
        if self.social is not None:
            neighbours = self.social.neighbour_forecasts(last[:, : self.n_teams], self.active)
        else:
            neighbours = np.broadcast_to(last[:, self.n_teams], (self.n_teams, len(q)))
        self.market.update_values(self.mean_team_skill)
        self.history.record_prices(self.market.close, level)
        return DayView(
            market=market,
            days_left_in_month=self.calendar.days_left_in_month,
            belief_mean=self.beliefs.mean,
            belief_prec=self.beliefs.prec,
            neighbour_forecasts=neighbours,
        )

    # ------------------------------------------------------------------ reading the model

    @property
    def day(self) -> int:
        """Trading days completed."""
        return self.calendar.day

    @property
    def active(self) -> np.ndarray:
        """Which teams are still funded."""
        return self.accounts.active

    @property
    def team_brier(self) -> np.ndarray:
        """Each team's rolling Brier score (NaN before its first resolved question)."""
        return self.record.brier

    @property
    def team_skill(self) -> np.ndarray:
        """Each team's rolling Brier skill score against the base rate."""
        return self.record.skill

    @property
    def mean_team_brier(self) -> float:
        """Mean rolling Brier score of the active teams."""
        return nanmean(self.team_brier[self.active])

    @property
    def mean_team_skill(self) -> float:
        """Mean rolling Brier skill score of the active teams."""
        return nanmean(self.team_skill[self.active])

    @property
    def demand(self):
        """The demand regime of the report market."""
        return self.market.demand

    @property
    def mechanism(self):
        """The report market's institution."""
        return self.market.mechanism

    @property
    def graph(self):
        """The teams' NetworkX graph, or None."""
        return None if self.social is None else self.social.graph

    @property
    def logs(self) -> dict[str, ColumnLog]:
        """The event logs by name."""
        return self.event_logs.by_name()

    def digest(self) -> str:
        """SHA-256 over the trade and prediction logs in canonical form."""
        return self.event_logs.digest()

    def summary(self) -> dict[str, Any]:
        """Headline results of the run so far, JSON-serialisable."""
        return run_summary(self)
