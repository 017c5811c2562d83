"""Random pairwise bargaining ("horse trading"), optionally restricted to partners."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import (
    DEPTH_LEVELS,
    Allowed,
    Mechanism,
    OrderFlow,
    Trades,
    differentiated_quality,
    effective_bids,
    per_quality,
    resting_quote,
)


class BilateralBargaining(Mechanism):
    """Random pairwise bargaining ("horse trading") between buyers and sellers.

    Rule. Trading runs in rounds. In each round the buyers and sellers still in the market are
    put in uniformly random pairs (``rng``): each trader on the shorter side meets a distinct
    trader of the longer side drawn uniformly without replacement, and the rest of the longer side
    sits the round out. A pair trades when the bid is at least the ask and the pair is allowed
    (see ``allowed``), at the price that splits the difference, ``(bid + ask) / 2``; both then
    leave. Market-order bids bargain with the client's value as their bid, so a client never pays
    more than its value.

    Traders who cannot trade with anyone left at any price (a bid below every remaining ask, an
    ask above every remaining bid) leave before the next round, which keeps random meetings among
    traders who can still gain. Rounds continue until no feasible pair is left or ``max_rounds``
    rounds have run. Without ``allowed`` every round trades at least once (the highest bid, or
    the lowest ask, crosses whoever it meets), so the day ends with the remaining orders
    uncrossed unless the round limit binds.

    After clearing, :attr:`quotes` holds the unmatched bids (market-order bids at value) and asks.

    Differentiated goods (``flow.ask_quality``): the meetings are the same; a client's bid for
    the seller it meets is ``bid_price * quality`` (a market-order client's ``bid_value *
    quality``) and the pair trades when that bid is at least the ask (tested as bid per unit of
    quality ``>=`` ask per unit of quality, ``ask / quality``; a seller of quality 0 never trades)
    and the pair is allowed, at ``(bid * quality + ask) / 2``. The exit rule and the quote work
    per unit of quality (see :class:`~.base.Quote`), where the market reads like a homogeneous
    one; with all qualities 1 every number is the homogeneous one.

    Args:
        n_goods: Number of goods.
        allowed: Optional trading permission, e.g. a client-team network. Called with equal-length
            arrays of bid client ids (``flow.bid_client``) and ask team ids (``flow.ask_team``) of
            the pairs that met, it returns a boolean array, True where that pair may trade. None
            lets every pair trade. It may also be set later through the attribute of that name.
        max_rounds: Limit on bargaining rounds per good per day. Without ``allowed`` about 20
            rounds exhaust 10,000 bids against 15,000 asks, far below the limit; on a sparse
            ``allowed`` network meetings rarely succeed and the limit acts as a search friction.
        depth_levels: Price levels per side kept in each good's closing quote.

    Attributes:
        rounds: Bargaining rounds run in each good's last clearing.
    """

    name = "bilateral"

    # Below this many remaining (bid, ask) combinations the stopping test evaluates ``allowed`` on
    # all of them; above it, checking costs more than running the remaining rounds.
    dense_check_limit = 1 << 16

    def __init__(
        self,
        n_goods: int,
        allowed: Allowed | None = None,
        max_rounds: int = 200,
        depth_levels: int = DEPTH_LEVELS,
    ):
        super().__init__(n_goods)
        self.allowed = allowed
        self.max_rounds = max_rounds
        self.depth_levels = depth_levels
        self.rounds = np.zeros(n_goods, dtype=np.int64)

    @classmethod
    def from_params(cls, n_goods: int, params: Any, allowed: Allowed | None = None) -> Mechanism:
        """Bargaining of a run: on a social graph, a client deals with its team's neighbourhood."""
        return cls(n_goods, allowed=allowed)

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Bargain the good's orders in random pairs (see the class docstring)."""
        bid = effective_bids(flow)
        price = np.asarray(flow.ask_price, dtype=float)
        quality = differentiated_quality(flow)
        # Asks per unit of quality: then a pair crosses when bid >= ask, as for homogeneous goods.
        ask = price if quality is None else per_quality(price, quality)
        b_left = np.arange(bid.size)
        a_left = np.arange(ask.size)
        traded_b: list[np.ndarray] = []
        traded_a: list[np.ndarray] = []
        rounds = 0
        while rounds < self.max_rounds and b_left.size and a_left.size:
            lowest_ask, highest_bid = ask[a_left].min(), bid[b_left].max()
            if highest_bid < lowest_ask:
                break
            b_left = b_left[bid[b_left] >= lowest_ask]
            a_left = a_left[ask[a_left] <= highest_bid]
            if self.allowed is not None and not self._any_feasible(flow, bid, ask, b_left, a_left):
                break
            rounds += 1
            # Everyone on the short side meets a uniformly random member of the long side, drawn
            # without replacement in random order: a uniformly random pairing. Positions refer to
            # the remaining lists, kept in index order, so a round's draw depends only on who is
            # left.
            if b_left.size <= a_left.size:
                sb = np.arange(b_left.size)
                sa = rng.choice(a_left.size, b_left.size, replace=False)
            else:
                sb = rng.choice(b_left.size, a_left.size, replace=False)
                sa = np.arange(a_left.size)
            pb, pa = b_left[sb], a_left[sa]
            ok = bid[pb] >= ask[pa]
            if self.allowed is not None:
                ok &= np.asarray(self.allowed(flow.bid_client[pb], flow.ask_team[pa]), dtype=bool)
            if not ok.any():
                continue
            traded_b.append(pb[ok])
            traded_a.append(pa[ok])
            keep_b = np.ones(b_left.size, dtype=bool)
            keep_b[sb[ok]] = False
            keep_a = np.ones(a_left.size, dtype=bool)
            keep_a[sa[ok]] = False
            b_left, a_left = b_left[keep_b], a_left[keep_a]
        self.rounds[good] = rounds
        if traded_b:
            b_idx = np.concatenate(traded_b).astype(np.int64)
            a_idx = np.concatenate(traded_a).astype(np.int64)
        else:
            b_idx = a_idx = np.zeros(0, dtype=np.int64)
        # The quote shows every unmatched order, including those that gave up bargaining.
        open_b = np.ones(bid.size, dtype=bool)
        open_b[b_idx] = False
        open_a = np.ones(ask.size, dtype=bool)
        open_a[a_idx] = False
        if quality is not None:
            open_a &= quality > 0
        self.quotes[good] = resting_quote(bid[open_b], ask[open_a], self.depth_levels)
        if quality is None:
            return Trades(bid=b_idx, ask=a_idx, price=0.5 * (bid[b_idx] + ask[a_idx]))
        return Trades(
            bid=b_idx, ask=a_idx, price=0.5 * (bid[b_idx] * quality[a_idx] + price[a_idx])
        )

    def _any_feasible(
        self,
        flow: OrderFlow,
        bid: np.ndarray,
        ask: np.ndarray,
        b_left: np.ndarray,
        a_left: np.ndarray,
    ) -> bool:
        """Whether some remaining pair crosses and is allowed (True when too many to check)."""
        if b_left.size * a_left.size > self.dense_check_limit:
            return True
        bb, aa = np.meshgrid(b_left, a_left, indexing="ij")
        bb, aa = bb.ravel(), aa.ravel()
        cross = bid[bb] >= ask[aa]
        bb, aa = bb[cross], aa[cross]
        if bb.size == 0:
            return False
        return bool(np.asarray(self.allowed(flow.bid_client[bb], flow.ask_team[aa])).any())
