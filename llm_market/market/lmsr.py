"""Hanson's logarithmic market scoring rule (LMSR) market maker for an n-outcome question.

The maker quotes every outcome from the vector ``q`` of shares sold so far (Hanson 2003, 2007).
Its cost function is ``C(q) = b ln sum_i exp(q_i / b)``; a trade that changes ``q`` to ``q'`` costs
``C(q') - C(q)``, and the instantaneous prices ``p_i = exp(q_i / b) / sum_j exp(q_j / b)`` (the
softmax of ``q / b``) are positive and sum to one, so they read as probabilities. Each share of
the outcome that occurs pays 1. Starting from ``q = 0`` the maker's loss is
``max_i q_i - (C(q) - C(0)) <= C(0) = b ln n`` whatever the traders do, so a maker funded with
``b ln n`` can always pay out: :func:`b_from_funding` inverts that.

Numerics: ``C`` is a max-shifted log-sum-exp (the algorithm of :func:`scipy.special.logsumexp`,
inlined because SciPy's version costs tens of microseconds a call on short vectors, some 20 times
this one), so ``|q| / b`` in the thousands neither overflows nor loses the small terms. The cost
of a trade is not taken as the difference of two large ``C`` values but as
``b ln(1 - p_i + p_i exp(s / b))`` evaluated in log space, which stays accurate for small trades
on a large ``q``.

Rounding is in the maker's favour: a trade's signed cost is rounded *up* to a multiple of ``tick``
(default ``1e-9``), so a buyer is charged at least the exact cost and a seller receives at most the
exact proceeds, and before rounding the cost is nudged up by a bound on its floating-point error.
Payouts at resolution are rounded *down* to the tick. The maker's loss therefore never exceeds
``b ln n``.

Two outcomes, fast: :func:`binary_quote` and :func:`binary_buy_within_cash` take ``q`` as two
floats and repeat the vector functions' floating-point steps one by one, so they give the same
bits at a small fraction of the cost (numpy's per-call overhead dominates two-element vectors).
The prediction market uses them; the vector functions remain the reference and the general case.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable

import numpy as np

__all__ = [
    "DEFAULT_TICK",
    "LMSRMarket",
    "b_from_funding",
    "binary_buy_within_cash",
    "binary_quote",
    "cost",
    "cost_to_buy",
    "prices",
    "round_down",
    "round_up",
    "shares_for_target_price",
    "shares_within_cash",
]

DEFAULT_TICK = 1e-9
"""Money is rounded to multiples of this tick, always in the maker's favour."""

_EPS = np.finfo(float).eps


def _q(q) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.ndim != 1 or q.size < 2:
        raise ValueError(f"q must be a vector of at least 2 outcomes, got shape {q.shape}")
    return q


def _logsumexp(x: np.ndarray) -> float:
    """``ln sum exp(x)`` for a finite vector, shifted by its maximum so nothing overflows."""
    m = float(x.max())
    return m + math.log(float(np.exp(x - m).sum()))


def _check_b(b: float) -> float:
    b = float(b)
    if not 0.0 < b < math.inf:
        raise ValueError(f"b must be finite and > 0, got {b!r}")
    return b


@functools.lru_cache(maxsize=16)
def _ticks(tick: float) -> tuple[float, float]:
    """Return ``(scale, step)`` with ``k * step / scale`` the float of ``k`` ticks.

    For a tick like ``1e-9`` whose inverse is a whole number, ``k / 1e9`` is the float nearest the
    decimal multiple, where ``k * 1e-9`` can land one unit off it.
    """
    inv = round(1.0 / tick)
    if inv >= 1 and abs(inv * tick - 1.0) < 1e-12:
        return float(inv), 1.0
    return 1.0, tick


def round_up(x: float, tick: float = DEFAULT_TICK) -> float:
    """Return the smallest multiple of ``tick`` that is not below ``x`` (``x`` itself if tick 0).

    The multiple is checked as a float, so representation error cannot leave it below ``x``.
    """
    if tick <= 0:
        return float(x)
    scale, step = _ticks(tick)
    k = math.ceil(x * scale / step)
    # Both the division and the multiple round; step to the neighbour that really is >= x.
    if (k - 1) * step / scale >= x:
        k -= 1
    elif k * step / scale < x:
        k += 1
    return k * step / scale + 0.0


def round_down(x: float, tick: float = DEFAULT_TICK) -> float:
    """Return the largest multiple of ``tick`` that is not above ``x`` (``x`` itself if tick 0)."""
    # Adding 0.0 turns the -0.0 that negating a zero gives into 0.0.
    return -round_up(-x, tick) + 0.0


def b_from_funding(funding: float, n_outcomes: int) -> float:
    """Liquidity ``b`` whose worst-case loss ``b ln n`` equals ``funding``.

    Args:
        funding: Money the maker can lose, > 0.
        n_outcomes: Number of outcomes, at least 2.

    Returns:
        ``funding / ln(n_outcomes)``.
    """
    if n_outcomes < 2:
        raise ValueError(f"n_outcomes must be at least 2, got {n_outcomes}")
    if not 0.0 < funding < math.inf:
        raise ValueError(f"funding must be finite and > 0, got {funding!r}")
    return funding / math.log(n_outcomes)


def cost(q, b: float) -> float:
    """The cost function ``C(q) = b ln sum_i exp(q_i / b)``, overflow-free.

    Args:
        q: Shares outstanding per outcome.
        b: Liquidity parameter.
    """
    b = _check_b(b)
    return float(b * _logsumexp(_q(q) / b))


def prices(q, b: float) -> np.ndarray:
    """Instantaneous prices ``softmax(q / b)``: positive and summing to one."""
    b = _check_b(b)
    x = _q(q) / b
    e = np.exp(x - x.max())
    return e / e.sum()


def _log_p(q: np.ndarray, outcome: int, b: float) -> tuple[float, float]:
    """Return ``(ln p_i, ln(1 - p_i))``, each accurate even when the other is near zero."""
    x = q / b
    total = _logsumexp(x)
    others = _logsumexp(np.delete(x, outcome))
    return float(x[outcome] - total), float(others - total)


def _exact_cost(q: np.ndarray, outcome: int, shares: float, b: float) -> float:
    """``C(q + shares e_i) - C(q)`` without rounding, as ``b ln(1 - p_i + p_i e^{s/b})``."""
    if shares == 0:
        return 0.0
    log_p, log_1mp = _log_p(q, outcome, b)
    return b * float(np.logaddexp(log_1mp, log_p + shares / b))


def _error_bound(q: np.ndarray, shares: float, b: float) -> float:
    """A generous bound on the floating-point error of :func:`_exact_cost`."""
    # ln p_i is a difference of numbers of size max |q| / b, so its error scales with that.
    return 16 * _EPS * (b + float(np.abs(q).max()) + abs(shares))


def _index(q: np.ndarray, outcome: int) -> int:
    outcome = int(outcome)
    if not 0 <= outcome < q.size:
        raise ValueError(f"outcome must be in [0, {q.size}), got {outcome}")
    return outcome


def cost_to_buy(q, outcome: int, shares: float, b: float, tick: float = DEFAULT_TICK) -> float:
    """What a trader pays the maker for ``shares`` of ``outcome``: ``C(q + s e_i) - C(q)``.

    Negative ``shares`` sell, and the (negative) cost is then what the trader receives. The cost
    is rounded up to ``tick`` after adding a bound on its float error, so a buyer never pays less
    and a seller never receives more than the exact amount.

    Args:
        q: Shares outstanding per outcome.
        outcome: Outcome traded.
        shares: Shares bought (> 0) or sold (< 0).
        b: Liquidity parameter.
        tick: Money tick; 0 turns rounding off.

    Returns:
        The signed amount the trader pays.
    """
    b = _check_b(b)
    q = _q(q)
    outcome = _index(q, outcome)
    shares = float(shares)
    if not math.isfinite(shares):
        raise ValueError(f"shares must be finite, got {shares!r}")
    if shares == 0:
        return 0.0
    exact = _exact_cost(q, outcome, shares, b)
    if tick <= 0:
        return exact
    return round_up(exact + _error_bound(q, shares, b), tick)


def shares_for_target_price(q, outcome: int, p_target: float, b: float) -> float:
    """Shares of ``outcome`` that move its price to ``p_target``, other outcomes unchanged.

    Buying ``s`` shares of ``i`` raises ``logit(p_i)`` by ``s / b``, so the closed form is
    ``s = b (logit(p_target) - logit(p_i))``; for two outcomes this is
    ``b logit(p_target) + q_j - q_i``. The result is negative when the target is below the current
    price (shares to sell).

    Args:
        q: Shares outstanding per outcome.
        outcome: Outcome traded.
        p_target: Target price, strictly between 0 and 1.
        b: Liquidity parameter.

    Returns:
        The signed number of shares.
    """
    b = _check_b(b)
    q = _q(q)
    outcome = _index(q, outcome)
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target!r}")
    log_p, log_1mp = _log_p(q, outcome, b)
    target_logit = math.log(p_target) - math.log1p(-p_target)
    return b * (target_logit - (log_p - log_1mp))


def shares_within_cash(
    q, outcome: int, p_target: float, cash: float, b: float, tick: float = DEFAULT_TICK
) -> float:
    """Shares to buy toward ``p_target`` without the rounded cost exceeding ``cash``.

    The trader buys :func:`shares_for_target_price` shares if it can afford them; otherwise as
    many as ``cash`` pays for, from the closed form ``s = b ln(1 + (e^{cash/b} - 1) / p_i)``
    (evaluated in log space), trimmed until :func:`cost_to_buy` fits. A target at or below the
    current price, or no cash, buys nothing: this helper never sells.

    Args:
        q: Shares outstanding per outcome.
        outcome: Outcome bought.
        p_target: Target price, strictly between 0 and 1.
        cash: Money available.
        b: Liquidity parameter.
        tick: Money tick, as in :func:`cost_to_buy`.

    Returns:
        Shares to buy, >= 0, with ``cost_to_buy(q, outcome, shares, b, tick) <= cash``.
    """
    b = _check_b(b)
    q = _q(q)
    outcome = _index(q, outcome)
    want = shares_for_target_price(q, outcome, p_target, b)
    if want <= 0 or not cash > 0:
        return 0.0
    if cost_to_buy(q, outcome, want, b, tick) <= cash:
        return want
    log_p, _ = _log_p(q, outcome, b)

    def shares_for_spend(spend: float) -> float:
        # Exact spend c buys s with e^{s/b} = 1 + (e^{c/b} - 1) / p_i, i.e. s = b softplus(y) with
        # y = ln(e^{c/b} - 1) - ln p_i; each step stays finite for tiny p_i and any c / b.
        x = spend / b
        if not x > 0:
            return 0.0
        y = x + math.log(-math.expm1(-x)) - log_p
        return min(b * float(np.logaddexp(0.0, y)), want)

    s = shares_for_spend(float(cash))
    if cost_to_buy(q, outcome, s, b, tick) <= cash:
        return s
    # Rounding up and the float-error nudge can push the charge past cash by a couple of ticks:
    # aim that much lower, which fits, and bisect only should it not.
    margin = 4 * max(tick, 0.0) + 2 * _error_bound(q, s, b) + 4 * _EPS * cash
    lo, hi = shares_for_spend(cash - margin), s
    if cost_to_buy(q, outcome, lo, b, tick) <= cash:
        return lo
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if cost_to_buy(q, outcome, mid, b, tick) <= cash:
            lo = mid
        else:
            hi = mid
    return lo


# --------------------------------------------------------------------------- binary fast path
#
# The functions above work on numpy vectors of any length; on two outcomes numpy's per-call
# overhead is most of their cost. The functions below take the two quantities as floats and do
# the same floating-point operations in the same order, so their results are bit-identical: every
# ``np.exp`` of the vector code stays an ``np.exp`` here (numpy's SIMD exp can differ from libm's
# in the last bit), and everything the vector code computes with ``math`` or with numpy's scalar
# C loops (``np.logaddexp`` calls libm's exp and log1p) is computed with ``math``. Tests compare
# the two paths on random markets.

_EPS_F = float(_EPS)
_EPS16 = 16 * _EPS_F  # _error_bound's factor; a power of two times eps, so exact
_EPS4 = 4 * _EPS_F
_LOGE2 = 0.693147180559945309417232121458176568  # numpy's NPY_LOGE2, as np.logaddexp adds it
_np_exp = np.exp


def binary_quote(q0: float, q1: float, b: float) -> tuple[float, float, float, float, float]:
    """Price and log prices of a two-outcome market, bit-identical to the vector functions.

    Args:
        q0: Shares outstanding of outcome 0.
        q1: Shares outstanding of outcome 1.
        b: Liquidity parameter, finite and > 0 (not checked).

    Returns:
        ``(p0, ln p0, ln(1 - p0), ln p1, ln(1 - p1))``: ``prices([q0, q1], b)[0]`` and the pairs
        ``_log_p`` gives for outcome 0 and for outcome 1.
    """
    x0 = q0 / b
    x1 = q1 / b
    # prices() and _logsumexp() shift by the maximum: the larger term is exp(0) = 1 exactly and
    # the smaller is numpy's exp of the (non-positive) difference.
    if x0 >= x1:
        m, e0, e1 = x0, 1.0, float(_np_exp(x1 - x0))
    else:
        m, e0, e1 = x1, float(_np_exp(x0 - x1)), 1.0
    total = e0 + e1
    lse = m + math.log(total)
    # _log_p takes ln(1 - p_i) as the log-sum-exp of the other term alone: x_j + ln(1.0).
    return e0 / total, x0 - lse, (x1 + 0.0) - lse, x1 - lse, (x0 + 0.0) - lse


def binary_buy_within_cash(
    q0: float,
    q1: float,
    b: float,
    outcome: int,
    log_p: float,
    log_1mp: float,
    p_target: float,
    cash: float,
    tick: float = DEFAULT_TICK,
) -> tuple[float, float] | None:
    """:func:`shares_within_cash` and the charge for it, on a two-outcome market, to the bit.

    The steps of :func:`shares_within_cash` and :func:`cost_to_buy` inlined on floats: the shares
    wanted, then the closed form for ``cash``, then the closed form for ``cash`` less the
    rounding margin, each kept if its rounded charge fits.

    Args:
        q0: Shares outstanding of outcome 0.
        q1: Shares outstanding of outcome 1.
        b: Liquidity parameter, finite and > 0 (not checked).
        outcome: Outcome bought, 0 or 1 (its logs are what matters).
        log_p: ``ln p`` of ``outcome``, from :func:`binary_quote`.
        log_1mp: ``ln(1 - p)`` of ``outcome``, from :func:`binary_quote`.
        p_target: Target price.
        cash: Money available.
        tick: Money tick.

    Returns:
        ``(shares, charge)`` equal to ``shares_within_cash([q0, q1], outcome, p_target, cash, b,
        tick)`` and ``cost_to_buy`` of those shares; ``(0.0, 0.0)`` when nothing is bought; or
        ``None`` when the vector functions are needed: they would raise, the tick is 0, or the
        search falls through to their bisection (which these steps do not repeat).
    """
    if not 0.0 < p_target < 1.0 or not tick > 0:
        return None
    log, log1p, exp, ceil = math.log, math.log1p, math.exp, math.ceil
    want = b * ((log(p_target) - log1p(-p_target)) - (log_p - log_1mp))
    if want <= 0 or not cash > 0:
        return 0.0, 0.0
    if not math.isfinite(want):
        return None
    scale, step = _ticks(tick)
    # _error_bound's b + max|q|, summed in its order.
    a0, a1 = abs(q0), abs(q1)
    bq = b + (a0 if a0 >= a1 else a1)
    shares = want
    attempt = 0
    while True:
        if shares == 0:
            return 0.0, 0.0
        # cost_to_buy: b * logaddexp(ln(1 - p), ln p + s / b), plus the error bound, rounded up.
        y = log_p + shares / b
        t = log_1mp - y
        if t > 0:
            lae = log_1mp + log1p(exp(-t))
        elif t < 0:
            lae = y + log1p(exp(t))
        elif log_1mp == y:
            lae = log_1mp + _LOGE2
        else:  # t is 0 from unequal infinities, or NaN
            lae = y + log1p(exp(t)) if t <= 0 else t
        bound = _EPS16 * (bq + (shares if shares >= 0 else -shares))
        x = b * lae + bound
        k = ceil(x * scale / step)
        if (k - 1) * step / scale >= x:
            k -= 1
        elif k * step / scale < x:
            k += 1
        charge = k * step / scale + 0.0
        if charge <= cash:
            return shares, charge
        if attempt == 0:
            spend = cash
        elif attempt == 1:
            # The margin of shares_within_cash, with the bound of the closed-form shares.
            spend = cash - (4 * tick + 2 * bound + _EPS4 * cash)
        else:
            return None
        attempt += 1
        # shares_for_spend: s = b softplus(ln(e^{c/b} - 1) - ln p), at most the shares wanted.
        xs = spend / b
        if not xs > 0:
            shares = 0.0
            continue
        z = xs + log(-math.expm1(-xs)) - log_p
        # np.logaddexp(0.0, z) by numpy's steps.
        if z < 0:
            sp = 0.0 + log1p(exp(z))
        elif z > 0:
            sp = z + log1p(exp(-z))
        elif z == 0:
            sp = 0.0 + _LOGE2
        else:
            sp = z
        shares = b * sp
        if want < shares:
            shares = want


class LMSRMarket:
    """One question's LMSR market maker with per-trader positions.

    The maker starts at ``q = 0`` with prices ``1 / n``. Traders buy and sell shares through
    :meth:`trade`; a trader cannot sell more of an outcome than it holds, so positions, and hence
    payouts, are never negative. :meth:`resolve` pays 1 per winning share (rounded down to the
    tick). Money is conserved: the traders' total payments minus their payouts equals
    :attr:`maker_pnl`, which is never below ``-worst_case_loss``.

    Args:
        n_outcomes: Number of outcomes, at least 2.
        b: Liquidity parameter; give this or ``funding``.
        funding: The maker's subsidy; sets ``b = funding / ln n``.
        tick: Money tick for rounding in the maker's favour.

    Attributes:
        q: Shares outstanding per outcome (the sum of all positions).
        b: Liquidity parameter.
        funding: Worst-case loss ``b ln n``.
        tick: Money tick.
        positions: Trader id -> shares held per outcome, in order of each trader's first trade.
        collected: Net money received from traders through trades.
        paid: Money paid out at resolution.
        outcome: The resolved outcome, or None while trading is open.
    """

    def __init__(
        self,
        n_outcomes: int = 2,
        b: float | None = None,
        funding: float | None = None,
        tick: float = DEFAULT_TICK,
    ):
        if n_outcomes < 2:
            raise ValueError(f"n_outcomes must be at least 2, got {n_outcomes}")
        if (b is None) == (funding is None):
            raise ValueError("give exactly one of b and funding")
        self.b = _check_b(b) if b is not None else b_from_funding(funding, n_outcomes)
        self.funding = self.b * math.log(n_outcomes)
        self.tick = tick
        self.q = np.zeros(n_outcomes)
        self.positions: dict[Hashable, np.ndarray] = {}
        self.collected = 0.0
        self.paid = 0.0
        self.outcome: int | None = None

    @property
    def n_outcomes(self) -> int:
        """Number of outcomes."""
        return self.q.size

    @property
    def worst_case_loss(self) -> float:
        """The bound ``b ln n`` on the maker's loss."""
        return self.funding

    @property
    def maker_pnl(self) -> float:
        """Money collected minus money paid out (final once resolved)."""
        return self.collected - self.paid

    def price(self) -> np.ndarray:
        """Current prices, one per outcome, summing to one."""
        return prices(self.q, self.b)

    def cost(self, outcome: int, shares: float) -> float:
        """What :meth:`trade` would charge for ``shares`` of ``outcome`` now, without trading."""
        return cost_to_buy(self.q, outcome, shares, self.b, self.tick)

    def trade(self, trader: Hashable, outcome: int, shares: float) -> float:
        """Buy (``shares > 0``) or sell (``shares < 0``) shares of ``outcome`` for ``trader``.

        Args:
            trader: The trader's id.
            outcome: Outcome traded.
            shares: Signed number of shares.

        Returns:
            The signed amount the trader pays (negative when it receives money).

        Raises:
            ValueError: If the market is resolved, or a sale exceeds the trader's holding.
        """
        if self.outcome is not None:
            raise ValueError("the market is resolved")
        outcome = _index(self.q, outcome)
        shares = float(shares)
        held = self.positions.get(trader)
        if shares < 0 and (held is None or held[outcome] + shares < 0):
            have = 0.0 if held is None else float(held[outcome])
            raise ValueError(
                f"trader {trader!r} holds {have} of outcome {outcome}, sells {-shares}"
            )
        charge = cost_to_buy(self.q, outcome, shares, self.b, self.tick)
        if held is None:
            held = self.positions[trader] = np.zeros(self.q.size)
        held[outcome] += shares
        self.q[outcome] += shares
        self.collected += charge
        return charge

    def resolve(self, outcome: int) -> dict[Hashable, float]:
        """Close the market on ``outcome`` and pay 1 per winning share.

        Args:
            outcome: The outcome that occurred.

        Returns:
            Trader id -> payout (rounded down to the tick), for every trader in first-trade order.

        Raises:
            ValueError: If the market is already resolved.
        """
        if self.outcome is not None:
            raise ValueError("the market is resolved")
        outcome = _index(self.q, outcome)
        payouts = {
            t: round_down(float(pos[outcome]), self.tick) for t, pos in self.positions.items()
        }
        self.outcome = outcome
        self.paid = float(sum(payouts.values()))
        return payouts
