"""The market model: one step is one trading day, staged as in the seed's ``model_step``.

0. Agents act: each team (in a seeded random order) chooses its research spend, forecasts every
   open question and posts asks; clients' bids are drawn from the demand curve.
1. Market dynamics: match asks and bids, settle cash, record trades and surplus, move the demand
   regime one Markov step.
2. Information dynamics: advance the indices, resolve and score the questions due, open new ones,
   deliver news and research.
3. Validation and budgets: check spending against budgets; at a month end the principals pivot.
4. Time: advance the calendar, check that money is conserved, collect data.

See ``docs/model.md`` for the choices behind each part.
"""

from __future__ import annotations

from typing import Any

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import Network

from . import __version__
from .agents import Principal, Team
from .budgets.ledger import Ledger
from .budgets.pivot import RollingSum, gini, hhi
from .budgets.validation import affordable_research, fines, overspend
from .information.beliefs import Beliefs
from .information.indices import GarchIndexProcess, IndexProcess
from .information.news import NewsProcess
from .information.questions import QuestionBook
from .information.scoring import ScoreBoard
from .market.demand import ClientPopulation, DemandRegime
from .market.efficiency import allocative_efficiency, competitive_equilibrium
from .market.goods import marginal_costs
from .market.mechanisms import OrderFlow, make_mechanism
from .market.prediction_market import PredictionMarkets
from .market.zero_intelligence import ZIQuotes
from .params import Params, make_params
from .policies.base import MarketView, Profile, Questions
from .policies.heuristic import HeuristicPolicy
from .recording.logs import ColumnLog, digest
from .rng import Streams

# Smoothing of the realised volatility that drives the value of information (about a month).
VOL_SMOOTHING = 1.0 / 21


class MarketModel(mesa.Model):
    """A market for probability forecasts on financial indices.

    Every parameter is a keyword with a default (see :class:`~llm_market.params.Params` or
    ``llm-market params``); ``scenario`` names a preset whose values explicit keywords override.

    Args:
        scenario: Name of a preset in :data:`~llm_market.params.SCENARIOS`.
        seed: The integer that fixes the run.
        **params: Parameter values that override the scenario's.

    Raises:
        ParameterError: A parameter is unknown or out of range.
    """

    def __init__(self, scenario: str = "default", seed: int = 42, **params: Any):
        self.params: Params = make_params(scenario, **params)
        self.scenario = scenario
        seed = int(seed)
        super().__init__(rng=seed)
        self.seed = seed
        self.streams = Streams(seed)
        p = self.params
        self.day = 0
        self.n_teams, self.n_goods = p.n_teams, p.n_indices
        self.horizon = max(p.horizons)

        self._build_information()
        self._build_market()
        self._build_graph()
        self._build_agents()
        self._build_logs()
        self.ledger = Ledger(self.money_held())
        self.money_error = 0.0
        self.overbudget_count = 0

        self._open_questions(self.day)
        for principal in self.principals:
            principal.fund()
        self.budget_hhi = hhi([t.monthly_allocation for t in self.teams])
        self._update_views()
        self.datacollector = self._build_datacollector()
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ construction

    def _build_information(self) -> None:
        p = self.params
        args = (
            self.streams["indices"],
            p.n_indices,
            p.index_drift,
            p.index_volatility,
            p.index_correlation,
            p.index_initial,
            self.horizon,
            p.trading_days_per_year,
        )
        if p.index_process == "garch":
            self.indices = GarchIndexProcess(
                *args, omega=p.garch_omega, alpha=p.garch_alpha, beta=p.garch_beta, nu=p.garch_nu
            )
        else:
            self.indices = IndexProcess(*args)
        self.realised_vol = np.full(p.n_indices, self.indices.unconditional_sd)
        self.beliefs = Beliefs(p.n_teams, p.n_indices, self.horizon)
        # Forecaster columns: the teams, the crowd (mean forecast of the active teams) and, when it
        # runs, the prediction market's price of "yes".
        self.crowd_col = p.n_teams
        self.market_col = p.n_teams + 1 if p.prediction_market else None
        names = [f"team_{i}" for i in range(p.n_teams)] + ["crowd"]
        names += ["market"] if p.prediction_market else []
        self.questions = QuestionBook(
            len(names), p.horizons, p.question_interval, p.question_threshold
        )
        self.scores = ScoreBoard(names, p.pivot_window)
        self.prediction_markets = (
            PredictionMarkets(p.n_teams, p.pm_funding, p.pm_stake) if p.prediction_market else None
        )
        self.team_brier = np.full(p.n_teams, np.nan)
        self.team_skill = np.full(p.n_teams, np.nan)
        self.crowd_brier = np.nan
        self.market_brier = np.nan

    def _build_market(self) -> None:
        p = self.params
        options = {"rounds": p.cda_rounds} if p.mechanism == "cda" else {}
        self.mechanism = make_mechanism(p.mechanism, p.n_indices, **options)
        self.demand = DemandRegime(
            self.streams["demand"], p.demand_states, p.demand_levels, p.transition_matrix()
        )
        self.clients = ClientPopulation(
            self.streams["clients"],
            p.n_clients,
            p.client_base_value,
            p.client_value_sd,
            p.client_participation,
            p.bid_shading,
            p.market_order_share,
        )
        self.marginal_cost = marginal_costs(p.units_per_team, p.cost_linear, p.cost_quadratic)
        k = p.n_indices
        self.ref_price = np.full(k, p.client_base_value)
        self.close = np.full(k, np.nan)
        self.volume = np.zeros(k, dtype=np.int64)
        self.spread = np.full(k, np.nan)
        self.efficiency = np.full(k, np.nan)
        self.ce_price = np.full(k, np.nan)
        self.info_value = np.ones(k)
        self.level_value = np.ones(k)
        self.day_surplus = {"buyer": 0.0, "seller": 0.0, "realised": 0.0, "maximum": 0.0}

    def _build_graph(self) -> None:
        p = self.params
        self.graph = make_graph(p, self.streams["network"])
        self.network = None
        self.adjacency = None
        if self.graph is not None:
            self.network = Network(self.graph, capacity=1, random=self.random)
            adj = nx.to_scipy_sparse_array(self.graph, nodelist=range(p.n_teams), format="csr")
            self.adjacency = adj.astype(float)
            self.degree = np.asarray(adj.sum(axis=1)).ravel()
            # Clients are not on the graph; each has a home team and, where trade is bilateral,
            # deals only with it and its neighbours.
            self.client_home = self.streams["client_homes"].integers(0, p.n_teams, p.n_clients)
            if hasattr(self.mechanism, "allowed"):
                self.mechanism.allowed = self.trade_allowed

    def _build_agents(self) -> None:
        p = self.params
        rng = self.streams["teams"]
        n = p.n_teams
        self.principals = [Principal(self, i) for i in range(p.n_principals)]
        skill = rng.lognormal(0.0, p.skill_sd, n)
        confidence = rng.lognormal(0.0, p.confidence_sd, n)
        herding = np.clip(rng.normal(p.herding_weight, 0.1 * (p.herding_weight > 0), n), 0, 1)
        intensity = rng.lognormal(0.0, p.research_intensity_sd, n)
        self.teams: list[Team] = []
        for i in range(n):
            owner = self.principals[i % p.n_principals]
            profile = Profile(
                float(skill[i]), float(confidence[i]), float(herding[i]), float(intensity[i])
            )
            team = Team(self, i, owner, profile, p.n_indices, p.markup_initial)
            owner.teams.append(team)
            if self.network is not None:
                team.cell = self.network[i]
            self.teams.append(team)
        for owner in self.principals:
            for team in owner.teams:
                team.share = 1.0 / len(owner.teams)
        self.capital = np.full(p.n_principals, p.principal_capital)
        self.budget = np.zeros(n)
        self.cash = np.full(n, p.initial_team_cash)
        self.active = np.ones(n, dtype=bool)
        self.profit_window = RollingSum(n, p.pivot_window)
        self.msr_window = RollingSum(n, p.pivot_window)
        self._trading_profit = np.zeros(n)
        self._acting: list[int] = []
        self._overspend_seen = np.zeros(n)
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
            None if self.adjacency is None else (self.adjacency.indptr, self.adjacency.indices),
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
        self.neighbour_forecasts = np.full((n, 0), np.nan)

    def _build_logs(self) -> None:
        self.trade_log = ColumnLog(
            "trades",
            {
                "step": "int64",
                "good": "int64",
                "buyer": "int64",
                "seller": "int64",
                "price": "float64",
                "value": "float64",
                "cost": "float64",
            },
        )
        self.prediction_log = ColumnLog(
            "predictions",
            {
                "question": "int64",
                "forecaster": "int64",
                "index": "int64",
                "horizon": "int64",
                "open_step": "int64",
                "resolve_step": "int64",
                "mean_p": "float64",
                "last_p": "float64",
                "n_forecasts": "int64",
                "outcome": "int64",
                "brier": "float64",
            },
        )
        self.budget_log = ColumnLog(
            "budgets",
            {
                "step": "int64",
                "principal": "int64",
                "team": "int64",
                "kind": "str",
                "amount": "float64",
                "share": "float64",
            },
        )
        self.news_log = ColumnLog(
            "news",
            {
                "step": "int64",
                "news_id": "int64",
                "kind": "int64",
                "team": "int64",
                "index": "int64",
                "about_day": "int64",
                "value": "float64",
                "noise_sd": "float64",
            },
        )

    def _build_datacollector(self) -> mesa.DataCollector:
        reporters: dict[str, Any] = {
            "day": "day",
            "demand_regime": lambda m: m.demand.state,
            "demand_level": lambda m: m.demand.level,
            "crowd_brier": lambda m: m.crowd_brier,
            "market_brier": lambda m: m.market_brier,
            "mean_team_brier": lambda m: m.mean_team_brier,
            "mean_team_skill": lambda m: m.mean_team_skill,
            "budget_hhi": "budget_hhi",
            "budget_gini": lambda m: gini([t.monthly_allocation for t in m.teams if t.active]),
            "active_teams": lambda m: int(m.active.sum()),
            "overbudget_count": "overbudget_count",
            "money_error": "money_error",
            "efficiency": lambda m: allocative_efficiency(
                m.day_surplus["realised"], m.day_surplus["maximum"]
            ),
            "buyer_surplus": lambda m: m.day_surplus["buyer"],
            "seller_surplus": lambda m: m.day_surplus["seller"],
        }
        for k in range(self.n_goods):
            reporters[f"price_{k}"] = lambda m, k=k: m.close[k]
            reporters[f"volume_{k}"] = lambda m, k=k: int(m.volume[k])
            reporters[f"spread_{k}"] = lambda m, k=k: m.spread[k]
            reporters[f"efficiency_{k}"] = lambda m, k=k: m.efficiency[k]
            reporters[f"ce_price_{k}"] = lambda m, k=k: m.ce_price[k]
            reporters[f"index_{k}"] = lambda m, k=k: m.indices.level[k]
        team_reporters = {
            "budget": "budget",
            "cash": "cash",
            "share": "share",
            "allocation": "monthly_allocation",
            "brier": "rolling_brier",
            "skill": "rolling_skill",
            "profit": "profit",
            "overbudget_days": "overbudget_days",
            "active": "active",
            "principal": lambda t: t.principal.idx,
        }
        reporters.update(self.extra_reporters())
        return mesa.DataCollector(
            model_reporters=reporters,
            agenttype_reporters={Team: team_reporters} if self.record_teams else None,
        )

    # Subclasses (a sweep's model) may record less or more.
    record_teams: bool = True

    def extra_reporters(self) -> dict[str, Any]:
        """Model reporters a subclass adds to the data collector (none here)."""
        return {}

    # ------------------------------------------------------------------ the step

    def step(self) -> None:
        """Advance the economy one trading day (the seed's ``model_step``)."""
        self.agents_act()
        self.run_market_dynamics()
        self.run_information_dynamics()
        self.validate_expenditures()
        self.allocate_budgets()
        self.advance_time()

    def agents_act(self) -> None:
        """Stage 0: teams decide in a seeded random order; actions are applied in that order."""
        order = self.streams["activation"].permutation(self.n_teams)
        acting = [self.teams[i] for i in order if self.teams[i].active]
        actions = self.policy.decide_all([t.observe() for t in acting])
        for team, action in zip(acting, actions, strict=True):
            team.apply(action)
        self._acting = [t.idx for t in acting]
        self._record_forecasts()

    def run_market_dynamics(self) -> None:
        """Stage 1: match each good's asks and bids, settle money, record trades and surplus."""
        rng = self.streams["market"]
        totals = dict.fromkeys(self.day_surplus, 0.0)
        sold = np.zeros((self.n_teams, self.n_goods), dtype=np.int64)
        trading_profit = np.zeros(self.n_teams)
        for k in range(self.n_goods):
            flow = self._order_flow(k)
            trades = self.mechanism.clear(k, flow, rng)
            seller, price = flow.ask_team[trades.ask], trades.price
            value, cost = flow.bid_value[trades.bid], sale_costs(seller, self.marginal_cost)
            trading_profit += self._settle(seller, price, cost)
            sold[:, k] = np.bincount(seller, minlength=self.n_teams)
            eq = competitive_equilibrium(flow.bid_value, flow.ask_cost)
            realised = float((value - cost).sum())
            totals["buyer"] += float((value - price).sum())
            totals["seller"] += float((price - cost).sum())
            totals["realised"] += realised
            totals["maximum"] += eq.max_surplus
            self.volume[k] = len(trades)
            self.efficiency[k] = allocative_efficiency(realised, eq.max_surplus)
            self.ce_price[k] = eq.price
            self.spread[k] = self.mechanism.quotes[k].spread
            if len(trades):
                # The day's price: the last trade, or (daily_price="vwap") the geometric mean of
                # the day's trade prices, which is what teams then price their reports from.
                vwap = self.params.daily_price == "vwap"
                day_price = np.exp(np.log(price).mean()) if vwap else price[-1]
                self.close[k] = day_price
                self.ref_price[k] = day_price
            self.trade_log.append(
                step=self.steps,
                good=k,
                buyer=flow.bid_client[trades.bid],
                seller=seller,
                price=price,
                value=value,
                cost=cost,
            )
        for team in self.teams:
            team.units_sold = sold[team.idx]
        self.day_surplus = totals
        self._trading_profit = trading_profit
        self._trade_predictions()
        self.demand.step()

    def run_information_dynamics(self) -> None:
        """Stage 2: indices move, questions resolve and open, news and research arrive."""
        r = self.indices.advance()
        self.beliefs.advance()
        if self.params.value_level_elasticity:
            # A report on an index is worth more when the index is high (more is at stake), and
            # sellers reprice their reference with the index's move.
            gamma = self.params.value_level_elasticity
            self.level_value = (self.indices.level / self.params.index_initial) ** gamma
            self.ref_price = self.ref_price * np.exp(gamma * r)
        self.realised_vol = np.sqrt(
            (1 - VOL_SMOOTHING) * self.realised_vol**2 + VOL_SMOOTHING * r**2
        )
        day = self.indices.day
        self._score(self.questions.resolve(day, self.indices.level))
        self._open_questions(day)
        self._deliver_news(day)
        self._buy_research()

    def validate_expenditures(self) -> None:
        """Stage 3a: flag teams over budget and fine them under ``overbudget="penalize"``."""
        p = self.params
        over = overspend(self.budget) * self.active
        fine = np.minimum(
            fines(over - self._overspend_seen, p.overbudget, p.overbudget_penalty),
            np.maximum(self.cash, 0.0),
        )
        self._overspend_seen = np.maximum(self._overspend_seen, over)
        for i in np.flatnonzero(over > 0):
            self.teams[i].overbudget_days += 1
        for i in np.flatnonzero(fine > 0):
            self.transfer_to_principal(self.teams[i], fine[i], "fine", from_cash=True)
        self.overbudget_count = int(np.count_nonzero(over > 0))

    def allocate_budgets(self) -> None:
        """Stage 3b: at a month end the principals collect, pivot and fund their teams."""
        if self.indices.day % self.params.steps_per_month:
            return
        metric = self.performance()
        for principal in self.principals:
            principal.collect()
            teams = principal.active_teams
            if teams:
                principal.pivot(metric[[t.idx for t in teams]])
            principal.fund()
        self._overspend_seen[:] = 0.0
        self.budget_hhi = hhi([t.monthly_allocation for t in self.teams])

    def advance_time(self) -> None:
        """Stage 4: the calendar moves on, the money check runs, data is collected."""
        self.day = self.indices.day
        self.money_error = self.ledger.discrepancy(self.money_held())
        self._update_views()
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ stage helpers

    def _record_forecasts(self) -> None:
        """Store today's forecasts of every team and the crowd in the question book."""
        q = len(self.questions)
        f = np.full((q, self.questions.n_forecasters), 0.5)
        for team in self.teams:
            if team.active and team.action is not None:
                f[:, team.idx] = team.action.forecasts
        teams = f[:, : self.n_teams]
        f[:, self.crowd_col] = teams[:, self.active].mean(axis=1) if q else 0.5
        if self.market_col is not None:
            # The market's forecast for the day is its price when the teams decide.
            f[:, self.market_col] = self.prediction_markets.prices(self.questions.qid)
        self.questions.record(f)

    def _order_flow(self, k: int) -> OrderFlow:
        p = self.params
        units = self.marginal_cost.size
        asks = [t.action.ask_prices[k] for t in self.teams if t.active]
        teams = np.repeat([t.idx for t in self.teams if t.active], units)
        prices = np.concatenate(asks) if asks else np.zeros(0)
        offered = np.isfinite(prices)
        # Round to the cent so equal prices meet at one price level of the book.
        prices = np.round(prices, 2)
        costs = np.tile(self.marginal_cost, len(asks))
        bids = self.clients.bids(self.demand.level * self.info_value[k] * self.level_value[k])
        if p.zi_traders != "off":
            return self._zi_flow(teams[offered], costs[offered], bids)
        return OrderFlow(
            ask_team=teams[offered],
            ask_price=prices[offered],
            ask_cost=costs[offered],
            bid_client=bids.client,
            # Floor to the cent so that rounding never lifts a bid above the client's value.
            bid_price=np.maximum(np.floor(bids.price * 100) / 100, 0.01),
            bid_value=bids.value,
            bid_market=bids.market,
        )

    def _zi_flow(self, teams: np.ndarray, costs: np.ndarray, bids) -> OrderFlow:
        """The classroom's order flow: zero-intelligence quotes on induced values and costs."""
        p = self.params
        quotes = ZIQuotes(bids.value, costs, teams, p.zi_traders == "zi_c", p.zi_price_max)
        ask_price, bid_price = quotes(
            self.streams["zi"], np.arange(costs.size), np.arange(bids.value.size)
        )
        return OrderFlow(
            ask_team=teams,
            ask_price=ask_price,
            ask_cost=costs,
            bid_client=bids.client,
            bid_price=bid_price,
            bid_value=bids.value,
            bid_market=np.zeros(bids.value.size, bool),
            requote=quotes,
        )

    def trade_allowed(self, client: np.ndarray, team: np.ndarray) -> np.ndarray:
        """Whether each (client, team) pair may trade bilaterally on the graph.

        A pair may trade when the team is the client's home team or one of its neighbours.
        """
        home = self.client_home[client]
        linked = np.asarray(self.adjacency[home, team]).ravel() > 0
        return linked | (home == team)

    def _settle(self, seller: np.ndarray, price: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Clients pay the price (money enters), sellers pay the production cost (money leaves).

        Returns:
            Each team's profit on these trades.
        """
        profit = np.bincount(seller, weights=price - cost, minlength=self.n_teams)
        self.cash += profit
        self.ledger.inflow("client_payments", price.sum())
        self.ledger.outflow("production", cost.sum())
        return profit

    def _trade_predictions(self) -> None:
        """Teams bet their forecasts in the prediction markets, in the day's acting order."""
        if self.prediction_markets is None:
            return
        forecasts = np.array([self.teams[i].action.forecasts for i in self._acting])
        paid = self.prediction_markets.trade(
            self.questions.qid, self._acting, forecasts.reshape(len(self._acting), -1), self.cash
        )
        self.cash -= paid
        self.ledger.outflow("prediction_market_stakes", paid.sum())

    def _open_questions(self, day: int) -> None:
        before = self.questions._next_qid
        self.questions.open_questions(day, self.indices.level)
        if self.prediction_markets is not None:
            self.prediction_markets.open(self.questions.qid[self.questions.qid >= before])

    def _settle_predictions(self, res) -> None:
        """Pay the winning prediction-market shares and book each team's scoring-rule earnings."""
        if self.prediction_markets is None:
            return
        payout, earnings = self.prediction_markets.resolve(res.qid, res.outcome)
        self.cash += payout
        self.ledger.inflow("prediction_market_payouts", payout.sum())
        self.msr_window.add(earnings)

    def _score(self, res) -> None:
        self._settle_predictions(res)
        self.scores.add_day(res)
        if len(res):
            n_f = self.questions.n_forecasters
            forecaster = np.tile(np.arange(n_f), len(res))
            # Extra forecasters get negative ids: -1 the crowd, -2 the market.
            forecaster[forecaster >= self.n_teams] = (
                self.n_teams - 1 - forecaster[forecaster >= self.n_teams]
            )
            self.prediction_log.append(
                question=np.repeat(res.qid, n_f),
                forecaster=forecaster,
                index=np.repeat(res.index, n_f),
                horizon=np.repeat(res.horizon, n_f),
                open_step=np.repeat(res.open_day, n_f),
                resolve_step=np.repeat(res.resolve_day, n_f),
                mean_p=res.mean_p.ravel(),
                last_p=res.last_p.ravel(),
                n_forecasts=np.repeat(res.n_forecasts, n_f),
                outcome=np.repeat(res.outcome, n_f),
                brier=res.brier.ravel(),
            )
        brier = self.scores.rolling_brier()
        skill = self.scores.rolling_skill()
        self.team_brier = brier[: self.n_teams]
        self.team_skill = skill[: self.n_teams]
        self.crowd_brier = float(brier[self.crowd_col])
        if self.market_col is not None:
            self.market_brier = float(brier[self.market_col])

    def _deliver_news(self, day: int) -> None:
        batch, log = self.news.draw(day, self.indices.buffer)
        self.beliefs.observe(batch.team, batch.index, batch.ahead, batch.value, batch.precision)
        self.news_log.append(step=self.steps, **log)

    def _buy_research(self) -> None:
        p = self.params
        wanted = np.zeros(self.n_teams)
        for team in self.teams:
            if team.active and team.action is not None:
                wanted[team.idx] = max(team.action.research_spend, 0.0)
        llm_cost = self._charge_llm_calls()
        spend = affordable_research(wanted, self.budget, p.overbudget)
        self.budget -= spend
        self.ledger.outflow("research", spend.sum())
        team, values, precision = self.news.research(
            spend, self.indices.buffer, p.research_productivity, p.research_cost
        )
        self.beliefs.observe_all_days(team, values, precision)
        self.profit_window.add(self._trading_profit - llm_cost - spend)

    def _charge_llm_calls(self) -> np.ndarray:
        """Charge today's language-model calls to each team's research budget.

        The calls are made before research is bought, so their cost is paid first: under
        ``overbudget="clip"`` research is cut to what is left, and like research the cost counts
        against the team's profit and its budget checks.
        """
        if self.params.policy != "llm":
            return np.zeros(self.n_teams)
        llm_cost = np.array([self.policy.step_cost(i) for i in range(self.n_teams)])
        self.budget -= llm_cost
        self.ledger.outflow("llm", llm_cost.sum())
        return llm_cost

    def _update_views(self) -> None:
        """Refresh what teams observe tomorrow: market view, questions, neighbours' forecasts."""
        p, q = self.params, self.questions
        level = self.indices.level
        self.market_view = MarketView(
            day=self.day,
            step_mean=np.broadcast_to(self.indices.step_mean, level.shape).copy(),
            step_sd=np.broadcast_to(self.indices.step_sd, level.shape).copy(),
            ref_price=self.ref_price.copy(),
            marginal_cost=self.marginal_cost,
            steps_per_month=p.steps_per_month,
            index_level=level.copy(),
            questions=Questions(
                qid=q.qid.copy(),
                index=q.index.copy(),
                horizon=q.horizon.copy(),
                days_left=q.days_left(self.day),
                log_moneyness=np.log(q.strike / level[q.index]),
            ),
        )
        last = q.last_forecasts()  # (Q, teams + 1), NaN for questions opened today
        if self.adjacency is not None:
            # Exited teams no longer forecast: their neighbours do not herd on them.
            seen = (np.isfinite(last[:, : self.n_teams]) & self.active).T.astype(float)
            team_last = np.where(seen > 0, last[:, : self.n_teams].T, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.neighbour_forecasts = (self.adjacency @ team_last) / (self.adjacency @ seen)
        else:
            crowd = last[:, self.n_teams]
            self.neighbour_forecasts = np.broadcast_to(crowd, (self.n_teams, len(q)))
        quality = self.mean_team_skill
        quality = max(quality, 0.0) if np.isfinite(quality) else 0.0
        vol_ratio = (
            self.realised_vol / self.indices.unconditional_sd
        ) ** p.value_volatility_elasticity
        self.info_value = np.clip(vol_ratio * (1.0 + p.value_quality_weight * quality), 0.25, 4.0)

    # ------------------------------------------------------------------ budgets and money

    def performance(self) -> np.ndarray:
        """Each team's pivot metric over the window (higher is better)."""
        metric = self.params.pivot_metric
        skill = np.nan_to_num(self.team_skill, nan=0.0)
        if metric == "brier_skill":
            return skill
        if metric == "profit":
            return self.team_profit
        if metric == "msr":
            return self.team_msr
        # "mix": the sum of the teams' ranks on each metric, so that no unit dominates.
        parts = [skill, self.team_profit]
        if self.prediction_markets is not None:
            parts.append(self.team_msr)
        return sum(np.argsort(np.argsort(x)) for x in parts).astype(float)

    @property
    def team_profit(self) -> np.ndarray:
        """Each team's trading profit minus research spend over the pivot window."""
        return self.profit_window.total.copy()

    @property
    def team_msr(self) -> np.ndarray:
        """Each team's prediction-market earnings (payouts minus stakes) over the pivot window."""
        return self.msr_window.total.copy()

    def transfer_to_principal(self, team: Team, amount: float, kind: str, from_cash: bool) -> None:
        """Move money from a team (its cash or its budget) to its principal and log it."""
        (self.cash if from_cash else self.budget)[team.idx] -= amount
        self.capital[team.principal.idx] += amount
        self.budget_log.append(
            step=self.steps,
            principal=team.principal.idx,
            team=team.idx,
            kind=kind,
            amount=-amount,
            share=team.share,
        )

    def transfer_to_team(self, team: Team, amount: float, kind: str) -> None:
        """Move money from a team's principal into the team's research budget and log it."""
        self.capital[team.principal.idx] -= amount
        self.budget[team.idx] += amount
        self.budget_log.append(
            step=self.steps,
            principal=team.principal.idx,
            team=team.idx,
            kind=kind,
            amount=amount,
            share=team.share,
        )

    def exit_team(self, team: Team) -> None:
        """Defund a team for good: it stops acting and its money goes back to its principal."""
        team.active = False
        team.share = 0.0
        self.active[team.idx] = False
        if self.budget[team.idx]:
            self.transfer_to_principal(team, self.budget[team.idx], "exit", from_cash=False)
        if self.cash[team.idx]:
            self.transfer_to_principal(team, self.cash[team.idx], "exit", from_cash=True)

    def money_held(self) -> float:
        """All money held by principals and teams."""
        return float(self.capital.sum() + self.budget.sum() + self.cash.sum())

    # ------------------------------------------------------------------ results

    @property
    def days_left_in_month(self) -> int:
        """Trading days until the next reallocation."""
        spm = self.params.steps_per_month
        return spm - self.day % spm

    @property
    def mean_team_brier(self) -> float:
        """Mean rolling Brier score of the active teams."""
        return _nanmean(self.team_brier[self.active])

    @property
    def mean_team_skill(self) -> float:
        """Mean rolling Brier skill score of the active teams."""
        return _nanmean(self.team_skill[self.active])

    @property
    def logs(self) -> dict[str, ColumnLog]:
        """The event logs by name."""
        return {
            log.name: log
            for log in (self.trade_log, self.prediction_log, self.budget_log, self.news_log)
        }

    def digest(self) -> str:
        """SHA-256 over the trade and prediction logs in canonical form."""
        return digest(self.trade_log.to_frame(), self.prediction_log.to_frame())

    def summary(self) -> dict[str, Any]:
        """Headline results of the run so far, JSON-serialisable."""
        df = self.datacollector.get_model_vars_dataframe()
        skill = self.scores.skill()
        brier = self.scores.mean_brier()
        team_brier, team_skill = brier[: self.n_teams], skill[: self.n_teams]
        market = self.market_col
        trades = self.trade_log.rows
        return {
            "package_version": __version__,
            "scenario": self.scenario,
            "seed": self.seed,
            "steps": int(self.day),  # days completed (a failed step does not count)
            "digest": self.digest(),
            "results": {
                "trades": int(trades),
                "mean_efficiency": _finite(df["efficiency"].mean()),
                "questions_resolved": int(self.scores.total_questions),
                "base_rate": _finite(self.scores.base_rate),
                "crowd_brier": _finite(brier[self.crowd_col]),
                "mean_team_brier": _finite(_nanmean(team_brier)),
                "crowd_skill": _finite(skill[self.crowd_col]),
                "mean_team_skill": _finite(_nanmean(team_skill)),
                "best_team_skill": _finite(
                    np.nanmax(team_skill) if np.isfinite(team_skill).any() else None
                ),
                "market_brier": _finite(brier[market]) if market is not None else None,
                "market_skill": _finite(skill[market]) if market is not None else None,
                "final_budget_hhi": _finite(self.budget_hhi),
                "active_teams": int(self.active.sum()),
                "overbudget_team_days": int(sum(t.overbudget_days for t in self.teams)),
                "money_error_max": _finite(df["money_error"].abs().max()),
                "money_in": {k: round(v, 6) for k, v in sorted(self.ledger.inflows.items())},
                "money_out": {k: round(v, 6) for k, v in sorted(self.ledger.outflows.items())},
            },
            **({"llm": self.policy.summary()} if self.params.policy == "llm" else {}),
        }


def make_graph(params: Params, rng: np.random.Generator) -> nx.Graph | None:
    """Build the teams' social graph from the parameters (None when ``network="none"``)."""
    n, k, net = params.n_teams, params.network_degree, params.network
    if isinstance(net, nx.Graph):
        return nx.convert_node_labels_to_integers(net, ordering="sorted")
    if net == "none":
        return None
    seed = int(rng.integers(2**31 - 1))
    if net == "erdos_renyi":
        return nx.gnp_random_graph(n, min(1.0, k / max(n - 1, 1)), seed=seed)
    if net == "watts_strogatz":
        if n < 4:
            return nx.complete_graph(n)
        ring = min(max(2, k - k % 2), n - 2 + n % 2)  # even, and below n
        return nx.watts_strogatz_graph(n, ring, params.network_rewire, seed=seed)
    return (
        nx.barabasi_albert_graph(n, max(1, min(k // 2, n - 1)), seed=seed)
        if n > 1
        else (nx.empty_graph(n))
    )


def sale_costs(seller: np.ndarray, marginal_cost: np.ndarray) -> np.ndarray:
    """Production cost of each sale, in execution order: a team's k-th sale costs the k-th MC.

    Costs are convex in the quantity a team sells, ``c(q) = sum of the first q marginal costs``,
    whichever of its asks happened to fill, so the cost booked follows the order of sales.
    """
    n = seller.size
    if n == 0:
        return np.zeros(0)
    order = np.argsort(seller, kind="stable")
    grouped = seller[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    cost = np.empty(n)
    cost[order] = marginal_cost[rank]
    return cost


def _nanmean(x: np.ndarray) -> float:
    """Mean of the finite entries, NaN when there are none (without NumPy's warning)."""
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _finite(x) -> float | None:
    """A float for JSON, or None when missing or not finite."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None
