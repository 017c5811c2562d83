"""The traded index: fundamentalists, chartists and noise traders in a continuous double auction.

Each index has a *fundamental value* (the GBM or GARCH path of :mod:`~llm_market.information.
indices`) and a *price* formed in the project's limit order book
(:class:`~llm_market.market.orderbook.OrderBook`) by a population of index traders, after
Lux & Marchesi (1999, Nature 397:498-500; 2000, IJTAF 3:675-702):

* **Fundamentalists** trade toward their estimate of the fundamental: a buy (sell) limit order
  when the estimate is above (below) the price, of a size that grows with the log mispricing
  (LM's excess demand ``gamma (p_f - p) / p``).
* **Chartists**: *optimists* buy and *pessimists* sell with marketable limit orders (LM's
  ``n_+ - n_-`` excess demand of chartists).
* **Noise traders** (a fixed share) post limit orders scattered around the price: the book's
  liquidity, and LM's noise term.

*Switching* (LM 2000, eqs. 2.1-2.4). Each order round every switchable trader may change group.
A chartist reconsiders its opinion with probability ``v1 dt`` and turns optimist with
probability ``1 / (1 + exp(-2 U1))``, with the opinion index ``x = (n_+ - n_-) / n_c`` and
``U1 = a1 x + a2 trend + sentiment_sd * eta``: herding on the others' opinion, on the trend
(off by default) and a common mood ``eta`` of the day, standard normal, one per index (Franke &
Westerhoff's 2012 group-level noise of chartist demand). That split is the stationary one of
LM's opinion rates ``v1 (n_c / N) exp(+-U1)`` (their ratio is ``exp(2 U1)``), reached in one
step because ``v1`` is fast against the rounds. Between chartists and fundamentalists the rates are
``v2 (eps + n_X / N) exp(+-U2)``: a trader moves toward a group in proportion to its size
(imitation; ``eps`` is Kirman's 1993 idiosyncratic switching, which keeps any group from
emptying for good) and to the exponential of the fitness difference
``U2 = a3 x trend / v2 - s ((p_f - p) / p)^2``. Two departures from LM, both measured to matter
(docs/stylized-facts.md): the chartists are one group whose mean gain is ``x * trend`` (LM's
separate ``U2,1``/``U2,2`` for optimists and pessimists reward chartists for any large move,
``cosh(trend)``, and chartists then took the whole market in every run we tried), and the
mispricing enters squared, as in Franke & Westerhoff (2012, JEDC 36:1193-1211), instead of
LM's ``s |p_f - p| / p`` (which, linear, made the chartists die out or take over). A new
chartist joins the optimists or the pessimists in proportion to their numbers. LM's dividend
terms, which nearly cancel near the fundamental, are left out.
``market_switching=False`` freezes the groups; ``market_imitation=False`` sets ``a1 = 0`` and
replaces the group-size factors by a constant, so switching follows fitness alone.

*Informed traders: Grossman & Stiglitz (1980, AER 70:393-408).* Each day's move of the log
fundamental splits into a part everyone sees and a hidden part (a share ``hidden_share`` of its
variance); the *public estimate* ``P`` moves with the seen part, and the hidden parts add up until
the fundamental is published (every ``public_lag`` days, and on public news: :meth:`publish`).
Every fundamentalist anchors on ``P`` with an idiosyncratic error of sd ``uninformed_noise``; the
gap ``D = log F - P`` is common to the uninformed, a systematic error only the informed correct.
The clients who bought a report on an index today trade on it as informed fundamentalists for
``informed_days``: a report of quality ``rho`` (its seller's research, see
:class:`~llm_market.information.indices.MarketIndexProcess`) moves the estimate by
``rho (D + e)``, ``e`` the report's error, and replaces a share ``rho`` of the buyer's own noisy
opinion. A trader's order size grows with the precision of its estimate (CARA demand). Each day
:attr:`IndexMarket.value` books what the day's trades of informed and uninformed fundamentalists
are worth at the fundamental, and :attr:`IndexMarket.report_gain` smooths their gap: what a
report earns its buyer, the price clients pay under ``client_valuation="trading"``.
:attr:`IndexMarket.gain` keeps the mark-to-market gain of both groups.

*Speed.* The population is numpy arrays (type, cash, shares, estimate error), not Mesa agents.
Each day has ``market_rounds`` order rounds; in a round a random share ``market_activity`` of
the traders sends one order each, the orders are built in one vectorised pass, submitted in a
random order to the book (one Python call per order), settled with ``bincount`` and the book is
emptied, so that an order never outlives the cash and shares checked when it was sent.

*Conservation.* Every fill moves ``price * qty`` cash from the buyer to the seller and ``qty``
shares the other way; a buy is sent only when the trader has the cash for its whole limit
value and a sell only when it holds the shares, so cash and shares stay non-negative and their
sums are constant (tests assert it every step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .orderbook import OrderBook

FUNDAMENTALIST, OPTIMIST, PESSIMIST, NOISE = 0, 1, 2, 3
TYPE_NAMES = ("fundamentalist", "optimist", "pessimist", "noise")
# The switching rates count every group as at least this big (LM keep a minimum number in
# each group): the opinion index of two or three chartists is not worth herding on.
MIN_GROUP = 2
# Transition probabilities per round are capped below 1 (a rate times dt can exceed 1 in a
# frenzy, where the process is then simply "switch now").
MAX_SWITCH_PROB = 0.5
# Most shares in one order, and most times an uninformed trader's size a trader with a precise
# estimate orders (the CARA size ratio Var_U / Var_I is unbounded as a report becomes exact).
MAX_ORDER = 50
MAX_WEIGHT = 50.0


@dataclass(frozen=True)
class MarketConfig:
    """The index traders' parameters: the ``market_*`` fields of :class:`~.params.Params`.

    Attributes:
        traders: Index traders per index, N.
        noise_share: Share of them that are noise traders (never switch).
        rounds: Order rounds per day.
        activity: Chance a trader sends an order in a round.
        chartist_share: Initial share of chartists among the switchable traders.
        fundamentalist_gain: Shares per unit of log mispricing a fundamentalist orders.
        chartist_qty: Shares per chartist order.
        chartist_reach: Log distance above (below) the price of a chartist's buy (sell) limit.
        noise_spread: Sd of the log distance of a noise trader's limit from the price.
        v1, v2: Frequencies of opinion changes and of chartist-fundamentalist switches (per day).
        a1, a2, a3: Herding on opinion, on the trend, and sensitivity to profit differences.
        s: Weight of the squared log mispricing in the fitness of fundamentalists over
            chartists (LM's ``s``, here on the square, after Franke & Westerhoff 2012).
        trend_memory: Days over which chartists average the trend.
        uninformed_noise, informed_noise: Sd of the log fundamental estimate of uninformed and
            informed fundamentalists.
        informed_days: Days a report keeps its buyer informed.
        informed: Whether report buyers trade as informed traders (the ablation turns it off).
        public_lag: Days between the calendar's publications of each index's fundamental (an
            earnings calendar; public news on an index publishes it too). 0: the fundamental is
            public every day, so the uninformed err only idiosyncratically.
        hidden_share: Share of the variance of each day's fundamental move that is hidden
            until the next publication (0: none, the uninformed err only idiosyncratically;
            1: the public estimate stays at the last publication).
        gain_prior: What a report is believed to earn its buyer a day before the market has
            booked any informed trader's gain.
        gain_smoothing: Weight of the day's booked gain gap in the smoothed report gain.
        sentiment_sd: Sd of the chartists' common mood of the day, added to ``U1`` (the
            group-level noise of Franke & Westerhoff 2012).
        idiosyncratic: Switching that does not imitate (Kirman's 1993 epsilon): added to each
            group-size factor, so that no group is absorbing.
        fundamentalist_reach: Most log distance of a fundamentalist's limit from the price.
        switching, imitation: The mechanisms the ablations turn off.
        initial_shares: Shares each trader holds at the start (cash: their value at the start).
    """

    traders: int = 500
    noise_share: float = 0.1
    rounds: int = 8
    activity: float = 0.2
    chartist_share: float = 0.3
    fundamentalist_gain: float = 100.0
    fundamentalist_reach: float = 0.003
    chartist_qty: int = 1
    chartist_reach: float = 0.01
    noise_spread: float = 0.003
    v1: float = 30.0
    v2: float = 0.5
    a1: float = 0.55
    a2: float = 0.0
    a3: float = 5.0
    s: float = 200.0
    idiosyncratic: float = 0.0005
    sentiment_sd: float = 0.5
    trend_memory: float = 1.0
    uninformed_noise: float = 0.04
    informed_noise: float = 0.002
    informed_days: int = 1
    informed: bool = True
    public_lag: int = 21
    hidden_share: float = 0.5
    gain_prior: float = 1.0
    gain_smoothing: float = 1.0 / 21
    switching: bool = True
    imitation: bool = True
    initial_shares: int = 50


def config_from_params(p) -> MarketConfig:
    """The traders' parameters from a run's ``market_*`` parameters."""
    return MarketConfig(
        **{name: getattr(p, f"market_{name}") for name in MarketConfig.__dataclass_fields__}
    )


class IndexMarket:
    """K order books, one per index, and their trader populations.

    Args:
        config: The traders' parameters.
        rng: The index market's own random stream.
        initial: Starting price (and fundamental) of every index.
        n_indices: Number of indices, K.
        n_clients: Size of the report market's client population (client ``c`` trades on the
            index market as trader ``c mod N``).

    Attributes:
        price: Each index's last traded price, shape (K,).
        type: Each trader's group, shape (K, N).
        cash, shares: Each trader's holdings, shape (K, N).
        informed_until: Last day each trader is informed on each index (-1: never).
        informed_today: Who traded as informed on the last day, shape (K, N).
        trades: The fills of the last day, as columns (index, round, buyer, seller, price, qty).
        gain: Mark-to-market gain per trader of the last day, informed and uninformed
            fundamentalists, shape (K, 2).
        value: What the last day's trades of a trader are worth at the fundamental, mean per
            informed and uninformed fundamentalist, shape (K, 2).
        public_log: The public estimate of each log fundamental; ``public_age`` the days since
            its last publication and ``public_gap`` the last day's ``log F - P``.
        report_gain: The smoothed daily gain of a report (the value gap, times the share of
            buyers who trade on it), shape (K,).
    """

    def __init__(
        self,
        config: MarketConfig,
        rng: np.random.Generator,
        initial: float,
        n_indices: int,
        n_clients: int = 0,
    ):
        c = self.config = config
        self.rng = rng
        self.k, self.n = n_indices, c.traders
        self.n_noise = int(round(c.noise_share * c.traders))
        self.price = np.full(n_indices, float(initial))
        self.log_trend = np.zeros(n_indices)
        types = np.where(
            rng.random((n_indices, c.traders)) < c.chartist_share, OPTIMIST, FUNDAMENTALIST
        )
        flip = rng.random((n_indices, c.traders)) < 0.5
        types = np.where((types == OPTIMIST) & flip, PESSIMIST, types)
        types[:, : self.n_noise] = NOISE
        self.type = types.astype(np.int8)
        self.shares = np.full((n_indices, c.traders), c.initial_shares, dtype=np.int64)
        self.cash = np.full((n_indices, c.traders), c.initial_shares * float(initial))
        self.error = rng.standard_normal((n_indices, c.traders))
        self.informed_until = np.full((n_indices, c.traders), -1, dtype=np.int64)
        self.n_clients = n_clients
        self.day = 0
        self.book = OrderBook()
        self.trades: dict[str, np.ndarray] = {}
        self.gain = np.full((n_indices, 2), np.nan)
        self.sentiment = np.zeros(n_indices)
        self.informed_today = np.zeros((n_indices, c.traders), dtype=bool)
        self.volume = np.zeros(n_indices, dtype=np.int64)
        # The public estimate: each index's log fundamental as last published, and the
        # fundamental's steps since (its staleness).
        self.log_fundamental = np.full(n_indices, np.log(float(initial)))
        self.public_log = self.log_fundamental.copy()
        self.public_age = np.zeros(n_indices, dtype=np.int64)
        # The calendar publishes index k on the days d with (d + offset_k) % lag == 0: the
        # indices' publications are spread over the cycle, not on one day.
        lag = max(c.public_lag, 1)
        self.public_offset = (np.arange(n_indices) * lag) // max(n_indices, 1)
        # The report each trader holds: the share rho of the public estimate's staleness it
        # resolves, and its common error draw (one per report: its buyers share it).
        self.report_rho = np.zeros((n_indices, c.traders))
        self.report_z = np.zeros((n_indices, c.traders))
        self.public_gap = np.zeros(n_indices)
        self.report_gain = np.full(n_indices, float(c.gain_prior))
        self.trade_value = np.zeros((n_indices, c.traders))
        self.value = np.full((n_indices, 2), np.nan)

    # ------------------------------------------------------------------ informed traders

    def inform(
        self,
        good: int,
        clients: np.ndarray,
        rho: np.ndarray | float = 1.0,
        z: np.ndarray | float = 0.0,
    ) -> None:
        """Make the clients who bought a report on ``good`` today informed traders on it.

        Args:
            good: The index the reports are about.
            clients: The buyers (client ``c`` trades as trader ``c mod N``).
            rho: Each report's quality: the share of the public estimate's staleness it
                resolves, in [0, 1] (1: it reveals the fundamental).
            z: Each report's standard normal error draw (buyers of one report share it).
        """
        if clients.size == 0 or not self.config.informed:
            return
        traders = np.asarray(clients, dtype=np.int64) % self.n
        self.informed_until[good, traders] = self.day + self.config.informed_days - 1
        self.report_rho[good, traders] = np.clip(np.broadcast_to(rho, traders.shape), 0.0, 1.0)
        self.report_z[good, traders] = np.broadcast_to(z, traders.shape)

    def publish(self, indices: np.ndarray) -> None:
        """Public news on ``indices``: their fundamental as of today becomes public."""
        k = np.unique(np.asarray(indices, dtype=np.int64))
        self.public_log[k] = self.log_fundamental[k]
        self.public_age[k] = 0

    @property
    def informed(self) -> np.ndarray:
        """Which traders trade on a report today, shape (K, N)."""
        return self.informed_until >= self.day

    # ------------------------------------------------------------------ a trading day

    def trade_day(self, log_fundamental: np.ndarray, step_sd=None) -> np.ndarray:
        """Trade one day on every index; return each index's closing price.

        Args:
            log_fundamental: Today's log fundamental value of each index, shape (K,).
            step_sd: The fundamental's daily sd of log returns (scalar or (K,)): the variance
                of the public estimate's staleness is its square times the days since
                publication. None: the realised squared gap is taken as that variance.
        """
        c = self.config
        wealth_before = self.cash + self.shares * self.price[:, None]
        informed = self.informed_today = self.informed
        log_f = np.asarray(log_fundamental, dtype=float)
        self._move_public_estimate(log_f - self.log_fundamental, step_sd)
        self.log_fundamental = log_f.copy()
        if c.public_lag == 0:
            self.publish(np.arange(self.k))
        estimate, weight = self._estimates(informed, step_sd)
        # The chartists' common mood of the day (Franke & Westerhoff's group-level noise).
        self.sentiment = self.rng.standard_normal(self.k)
        cols = {name: [] for name in ("index", "round", "buyer", "seller", "price", "qty")}
        self.volume[:] = 0
        self.trade_value = np.zeros((self.k, self.n))
        for r in range(c.rounds):
            for k in range(self.k):
                self._round(k, r, estimate[k], weight[k], cols)
            if c.switching:
                self._switch()
        self.trades = {name: np.concatenate(v) if v else np.zeros(0) for name, v in cols.items()}
        wealth_after = self.cash + self.shares * self.price[:, None]
        self._book_gains(wealth_after - wealth_before, informed)
        self.day += 1
        if c.public_lag > 0:
            # The calendar's publications happen after the close, like the day's news.
            self.publish(np.flatnonzero((self.day + self.public_offset) % c.public_lag == 0))
        return self.price.copy()

    def _move_public_estimate(self, r: np.ndarray, step_sd) -> None:
        # The fundamental's move r splits into a part everyone sees and a hidden part
        # h r + sqrt(h (1 - h)) sd eps (variance h sd^2, uncorrelated with the seen part: the
        # conditional law of a share h of a Gaussian shock given the whole). The public estimate
        # moves by the seen part; the hidden parts add up until the next publication.
        h = self.config.hidden_share
        eps = self.rng.standard_normal(self.k)
        sd = 0.0 if step_sd is None else np.broadcast_to(step_sd, r.shape)
        hidden = h * r + np.sqrt(h * (1.0 - h)) * sd * eps
        self.public_log += r - hidden
        self.public_age += 1

    def _estimates(self, informed: np.ndarray, step_sd) -> tuple[np.ndarray, np.ndarray]:
        # Every fundamentalist anchors on the public estimate P (the last published log
        # fundamental) with an idiosyncratic error. The gap D = log F - P is common to all
        # uninformed: a systematic error only the informed correct (Grossman & Stiglitz 1980).
        # A report of quality rho is a Gaussian signal on D with posterior mean rho (D + e),
        # e ~ N(0, V (1 - rho) / rho), V = age * sd^2 the variance of the staleness: it
        # leaves (1 - rho) V of it. It also replaces a share rho of the buyer's own noisy
        # opinion (so a worthless report, rho = 0, earns nothing). Each trader's order size
        # grows with the precision of its estimate, as a CARA demand (E - p) / (a Var) does.
        c = self.config
        d = self.log_fundamental - self.public_log
        self.public_gap = d
        if step_sd is None:
            v = (d**2)[:, None]
        else:
            sd2 = c.hidden_share * np.broadcast_to(step_sd, d.shape) ** 2
            v = (self.public_age * sd2)[:, None]
        rho = np.where(informed, self.report_rho, 0.0)
        var_u = c.uninformed_noise**2 + v
        opinion_sd = np.sqrt((1.0 - rho) * c.uninformed_noise**2 + rho * c.informed_noise**2)
        self.error = self.rng.standard_normal((self.k, self.n))
        signal = rho * d[:, None] + np.sqrt(rho * (1.0 - rho) * v) * self.report_z
        estimate = self.public_log[:, None] + signal + opinion_sd * self.error
        var_i = (1.0 - rho) * var_u + rho * c.informed_noise**2
        with np.errstate(divide="ignore"):
            weight = np.where(var_i > 0, var_u / np.maximum(var_i, 1e-300), 1.0)
        return estimate, np.minimum(weight, MAX_WEIGHT)

    def _round(self, k: int, r: int, estimate, weight, cols) -> None:
        c = self.config
        rng = self.rng
        n = self.n
        p = self.price[k]
        q = np.log(p)
        active = np.flatnonzero(rng.random(n) < c.activity)
        if active.size == 0:
            return
        t = self.type[k, active]
        eps = rng.standard_normal(active.size)
        side = np.zeros(active.size, dtype=np.int64)
        logp = np.full(active.size, q)
        qty = np.ones(active.size, dtype=np.int64)
        # Fundamentalists: toward their estimate, more shares the larger the gap.
        f = t == FUNDAMENTALIST
        gap = estimate[active[f]] - q
        side[f] = np.sign(gap)
        # How far toward its estimate a fundamentalist bids: a random share of the reach, so
        # that limits (and trade prices) do not sit on a grid of q +- reach.
        step = np.minimum(np.abs(gap), c.fundamentalist_reach) * rng.random(gap.size)
        logp[f] = q + np.sign(gap) * step
        size = c.fundamentalist_gain * weight[active[f]] * np.abs(gap)
        qty[f] = np.minimum(1 + size.astype(np.int64), MAX_ORDER)
        # Chartists: marketable orders in the direction of their opinion.
        up, down = t == OPTIMIST, t == PESSIMIST
        side[up], side[down] = 1, -1
        logp[up] = q + c.chartist_reach
        logp[down] = q - c.chartist_reach
        qty[up | down] = c.chartist_qty
        # Noise traders: a random side, a limit scattered around the price.
        z = t == NOISE
        side[z] = np.where(rng.random(int(z.sum())) < 0.5, 1, -1)
        logp[z] = q + c.noise_spread * eps[z]
        limit = np.exp(logp)
        # What each trader can afford (cash for the whole limit value) or hold.
        who = active
        buy = side == 1
        qty = np.where(buy, np.minimum(qty, (self.cash[k, who] // limit).astype(np.int64)), qty)
        qty = np.where(side == -1, np.minimum(qty, self.shares[k, who]), qty)
        ok = (side != 0) & (qty > 0)
        order = rng.permutation(np.flatnonzero(ok))
        book = self.book
        submit = book.submit_limit
        for i, s, lp, qn in zip(
            who[order].tolist(),
            side[order].tolist(),
            limit[order].tolist(),
            qty[order].tolist(),
            strict=True,
        ):
            submit(s, lp, qn, i)
        book.expire()
        if not book.n_trades:
            return
        fills = book.take_trades()
        price = np.asarray(fills["trade_price"])
        fq = np.asarray(fills["trade_qty"], dtype=np.int64)
        buyer = np.asarray(fills["trade_buy_tag"], dtype=np.int64)
        seller = np.asarray(fills["trade_sell_tag"], dtype=np.int64)
        paid = price * fq
        self.cash[k] += np.bincount(seller, paid, n) - np.bincount(buyer, paid, n)
        self.shares[k] += np.bincount(buyer, fq, n).astype(np.int64) - np.bincount(
            seller, fq, n
        ).astype(np.int64)
        # What the round's trades are worth at the fundamental: the value they realise when
        # it is published (the informed traders' edge, in Grossman & Stiglitz's x (F - p)).
        worth = (np.exp(self.log_fundamental[k]) - price) * fq
        self.trade_value[k] += np.bincount(buyer, worth, n) - np.bincount(seller, worth, n)
        new = float(price[-1])
        # The trend chartists follow: an average of round returns, in log per day.
        ret = np.log(new / p) * c.rounds
        w = 1.0 / (c.trend_memory * c.rounds)
        self.log_trend[k] = (1 - w) * self.log_trend[k] + w * ret
        self.price[k] = new
        self.volume[k] += int(fq.sum())
        cols["index"].append(np.full(price.size, k, dtype=np.int64))
        cols["round"].append(np.full(price.size, r, dtype=np.int64))
        cols["buyer"].append(buyer)
        cols["seller"].append(seller)
        cols["price"].append(price)
        cols["qty"].append(fq)

    def _switch(self) -> None:
        # LM (2000) transition rates, per round (dt = 1 / rounds), vectorised over traders.
        c = self.config
        dt = 1.0 / c.rounds
        n_total = float(self.n)
        for k in range(self.k):
            t = self.type[k]
            n_f = max(int(np.sum(t == FUNDAMENTALIST)), MIN_GROUP)
            n_p = max(int(np.sum(t == OPTIMIST)), MIN_GROUP)
            n_m = max(int(np.sum(t == PESSIMIST)), MIN_GROUP)
            n_c = n_p + n_m
            trend = self.log_trend[k]
            # Fundamentalists see the mispricing against the public estimate they anchor on.
            mis = abs(self.public_log[k] - np.log(self.price[k]))
            a1 = c.a1 if c.imitation else 0.0
            x = (n_p - n_m) / n_c
            u1 = a1 * x + c.a2 * trend + c.sentiment_sd * self.sentiment[k]
            # The chartists' mean gain is x * trend (optimists gain the trend, pessimists lose
            # it); fundamentalists' is the mispricing they expect to close.
            u2 = (c.a3 * x * trend / c.v2 if c.v2 else 0.0) - c.s * mis**2
            e = c.idiosyncratic
            if c.imitation:
                frac_c, frac_f = e + n_c / n_total, e + n_f / n_total
                share_p = (e + n_p / n_c) / (2 * e + 1.0)
            else:
                frac_c = frac_f = 0.5
                share_p = 0.5
            p_fc = c.v2 * frac_c * np.exp(u2) * dt  # fundamentalist -> chartist
            p_cf = c.v2 * frac_f * np.exp(-u2) * dt  # chartist -> fundamentalist
            # Opinions: a chartist reconsiders with probability v1 dt and turns optimist with
            # probability 1 / (1 + exp(-2 U1)), the stationary split of LM's rates
            # v1 (n_c / N) exp(+-U1) (their ratio is exp(2 U1)), reached in one step.
            p_opt = 1.0 / (1.0 + np.exp(-2.0 * u1))
            u = self.rng.random(self.n)
            w = self.rng.random(self.n)
            new = t.copy()
            is_f = t == FUNDAMENTALIST
            a = min(p_fc, MAX_SWITCH_PROB)
            new[is_f & (u < a * share_p)] = OPTIMIST
            new[is_f & (u >= a * share_p) & (u < a)] = PESSIMIST
            is_c = (t == OPTIMIST) | (t == PESSIMIST)
            leave = is_c & (u < min(p_cf, MAX_SWITCH_PROB))
            rethink = is_c & ~leave & (w < min(c.v1 * dt, 1.0))
            new[leave] = FUNDAMENTALIST
            new[rethink] = np.where(
                self.rng.random(int(rethink.sum())) < p_opt, OPTIMIST, PESSIMIST
            )
            self.type[k] = new

    def _book_gains(self, change: np.ndarray, informed: np.ndarray) -> None:
        fund = self.type == FUNDAMENTALIST
        for j, mask in enumerate((fund & informed, fund & ~informed)):
            n = mask.sum(axis=1)
            total = np.where(mask, change, 0.0).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.gain[:, j] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        # What a report earned its buyer today: the gap between what the day's trades of
        # informed and of uninformed fundamentalists are worth at the fundamental, times the
        # share of buyers who trade on it (chartists and noise traders do not). Smoothed, it
        # is what clients pay for under "trading" valuation.
        value = np.full((self.k, 2), np.nan)
        for j, mask in enumerate((fund & informed, fund & ~informed)):
            n = mask.sum(axis=1)
            total = np.where(mask, self.trade_value, 0.0).sum(axis=1)
            value[:, j] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        self.value = value
        n_inf = informed.sum(axis=1)
        used = (fund & informed).sum(axis=1) / np.maximum(n_inf, 1)
        today = (value[:, 0] - value[:, 1]) * used
        ok = np.isfinite(today)
        w = self.config.gain_smoothing
        self.report_gain[ok] = (1 - w) * self.report_gain[ok] + w * today[ok]

    # ------------------------------------------------------------------ reading the market

    def counts(self) -> np.ndarray:
        """Traders of each group on each index, shape (K, 4) in :data:`TYPE_NAMES` order."""
        return np.stack([(self.type == g).sum(axis=1) for g in range(4)], axis=1)

    def total_cash(self) -> np.ndarray:
        """Cash held by all traders of each index (constant)."""
        return self.cash.sum(axis=1)

    def total_shares(self) -> np.ndarray:
        """Shares held by all traders of each index (constant)."""
        return self.shares.sum(axis=1)


def market_results(frame, traders: int, trades=None) -> dict[str, float | None]:
    """A traded run's headline figures, from its ``index_traders`` log (for ``summary.json``).

    Args:
        frame: The ``index_traders`` log as a DataFrame.
        traders: Index traders per index.
        trades: The report market's ``trades`` log (for ``report_price``), or None.

    Returns:
        ``informed_share`` and ``chartist_share`` (mean shares of the traders),
        ``rmse_log_gap`` (RMSE of log price - log fundamental: lower is a more informative
        price), ``return_corr`` (correlation of the price's and the fundamental's daily log
        returns), the mean daily gain per ``informed_gain`` and ``uninformed_gain``
        fundamentalist, and the mean daily ``volume`` per index; ``public_rmse`` (RMSE of the
        public estimate's gap to the log fundamental: what only the informed correct),
        ``report_gain`` (the smoothed gain of a report booked in the index market, mean over
        days and indices) and ``report_price`` (mean price of a report sold).
    """
    if frame is None or not len(frame):
        return {}
    gap = np.log(frame["price"].to_numpy()) - np.log(frame["fundamental"].to_numpy())
    rp, rf = [], []
    for _, g in frame.groupby("index"):
        rp.append(np.diff(np.log(g["price"].to_numpy())))
        rf.append(np.diff(np.log(g["fundamental"].to_numpy())))
    rp, rf = np.concatenate(rp), np.concatenate(rf)
    corr = float(np.corrcoef(rp, rf)[0, 1]) if rp.size > 2 and rp.std() > 0 else None

    def mean(col):
        v = frame[col].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        return round(float(v.mean()), 9) if v.size else None

    chart = (frame["optimists"] + frame["pessimists"]).to_numpy(dtype=float)
    return {
        "informed_share": round(float(frame["informed"].mean() / traders), 9),
        "chartist_share": round(float(chart.mean() / traders), 9),
        "rmse_log_gap": round(float(np.sqrt(np.mean(gap**2))), 9),
        "return_corr": None if corr is None else round(corr, 9),
        "informed_gain": mean("informed_gain"),
        "uninformed_gain": mean("uninformed_gain"),
        "volume": mean("volume"),
        "public_rmse": round(float(np.sqrt(np.mean(frame["public_gap"] ** 2))), 9)
        if "public_gap" in frame
        else None,
        "report_gain": mean("report_gain") if "report_gain" in frame else None,
        "report_price": round(float(trades["price"].mean()), 9)
        if trades is not None and len(trades)
        else None,
    }
