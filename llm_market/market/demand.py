"""Demand for forecast reports: a Markov demand regime and a vectorised client population.

Clients are many and alike in form, so they are arrays, not Mesa agents. Client ``i`` values a
report on index ``k`` at ``v = base * taste_i * level(regime) * info_value_k * noise``: ``taste`` is
fixed and log-normal (heterogeneous willingness to pay), the regime level moves with the Markov
demand regime, and ``info_value`` rises with the index's recent volatility and with the sellers'
recent forecast skill (information is worth more when markets move and when it is good). Each day
a client bids on each good with probability ``participation``; a zero-intelligence bid is uniform
on ``[(1 - shading) v, v]``, and a share of clients instead lift the best ask with a market order
when it is below their value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """Return the stationary distribution ``pi = pi P`` of a Markov transition matrix.

    Args:
        transition: Row-stochastic matrix, shape (n, n).

    Returns:
        The left eigenvector for eigenvalue 1, normalised to sum to 1.
    """
    vals, vecs = np.linalg.eig(np.asarray(transition, dtype=float).T)
    v = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    return v / v.sum()


class DemandRegime:
    """A Markov chain over demand states, each with a level that scales willingness to pay.

    Args:
        rng: The demand stream.
        states: Names of the states, ordered from low to high demand.
        levels: Willingness-to-pay multiplier of each state.
        transition: Row-stochastic transition matrix.
    """

    def __init__(self, rng: np.random.Generator, states, levels, transition: np.ndarray):
        self.rng = rng
        self.states = tuple(states)
        self.levels = np.asarray(levels, dtype=float)
        self.transition = np.asarray(transition, dtype=float)
        self._cum = np.cumsum(self.transition, axis=1)
        # Start in the most likely state of the stationary law (the "normal" regime by default).
        self.state = int(np.argmax(stationary_distribution(self.transition)))

    @property
    def level(self) -> float:
        """Willingness-to-pay multiplier of the current state."""
        return float(self.levels[self.state])

    @property
    def name(self) -> str:
        """Name of the current state."""
        return self.states[self.state]

    def step(self) -> int:
        """Move one Markov step and return the new state."""
        u = self.rng.random()
        self.state = min(
            int(np.searchsorted(self._cum[self.state], u, side="right")), len(self.states) - 1
        )
        return self.state


@dataclass
class Bids:
    """One good's client bids for one day."""

    client: np.ndarray
    value: np.ndarray
    price: np.ndarray
    market: np.ndarray


class ClientPopulation:
    """Clients with heterogeneous willingness to pay.

    Args:
        rng: The clients' stream.
        n_clients: Number of clients.
        base_value: Median willingness to pay at level 1.
        value_sd: Log-sd of the clients' tastes.
        participation: Chance a client bids on a good on a given day.
        shading: Bids are uniform on ``[(1 - shading) v, v]``.
        market_order_share: Share of clients that use market orders.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_clients: int,
        base_value: float,
        value_sd: float,
        participation: float,
        shading: float,
        market_order_share: float,
    ):
        self.rng = rng
        self.n = n_clients
        self.base_value = base_value
        self.taste = rng.lognormal(0.0, value_sd, n_clients)
        self.participation = participation
        self.shading = shading
        self.market_order_share = market_order_share

    def bids(self, multiplier: float) -> Bids:
        """Draw one good's bids for the day.

        Args:
            multiplier: Regime level times the good's information value.

        Returns:
            The participating clients, their values, bid prices and order types.
        """
        rng = self.rng
        n_bid = rng.binomial(self.n, self.participation)
        client = np.sort(rng.choice(self.n, n_bid, replace=False))
        value = self.base_value * multiplier * self.taste[client] * rng.lognormal(0, 0.1, n_bid)
        price = value * (1.0 - self.shading * rng.random(n_bid))
        market = rng.random(n_bid) < self.market_order_share
        return Bids(client=client, value=value, price=price, market=market)
