"""News and research: where the teams' signals come from.

Three sources, all noisy readings ``y = z + e`` of one future daily shock ``z`` of one index (see
:mod:`~llm_market.information.beliefs`):

* **Public news** arrives as a Poisson process per index and reaches every team.
* **Private news** arrives as a Poisson process per team; a team's skill divides the noise sd.
  On the social graph, a private item passes to each neighbour with ``diffusion_prob`` one step
  later (each item travels one hop: the neighbour heard it second-hand and does not retell it, which
  keeps cascades bounded on large graphs).
* **Research** buys readings of every future day of every index at a total precision that grows
  with spend with diminishing returns, ``pi(s) = productivity * skill * log(1 + s / cost)``,
  spread evenly over the cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PUBLIC, PRIVATE, RELAYED = 0, 1, 2


def research_precision(spend, productivity: float, cost: float, skill=1.0) -> np.ndarray:
    """Total signal precision bought with research ``spend``: concave, zero at zero spend."""
    return productivity * np.asarray(skill) * np.log1p(np.maximum(spend, 0.0) / cost)


@dataclass
class SignalBatch:
    """Signals to deliver: one row per (receiving team, reading), with the reading's news id."""

    team: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ahead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0))
    precision: np.ndarray = field(default_factory=lambda: np.zeros(0))
    news_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class NewsProcess:
    """Draws public and private news and relays private news over the graph.

    Args:
        rng: The news stream.
        n_teams: Number of teams.
        n_indices: Number of indices.
        public_rate: Public items per index per day.
        public_noise: Noise sd of public items.
        private_rate: Private items per team per day.
        private_noise: Noise sd of private items (before skill).
        diffusion_prob: Chance an item reaches each neighbour.
        skill: Each team's skill, shape (teams,).
        neighbours: CSR adjacency ``(indptr, indices)`` of the graph, or None without a graph.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_teams: int,
        n_indices: int,
        public_rate: float,
        public_noise: float,
        private_rate: float,
        private_noise: float,
        diffusion_prob: float,
        skill: np.ndarray,
        neighbours: tuple[np.ndarray, np.ndarray] | None,
    ):
        self.rng = rng
        self.n_teams, self.n_indices = n_teams, n_indices
        self.public_rate, self.public_noise = public_rate, public_noise
        self.private_rate, self.private_noise = private_rate, private_noise
        self.diffusion_prob = diffusion_prob
        self.skill = skill
        self.neighbours = neighbours
        self._next_id = 0
        self.relayed_today = 0
        # Private items waiting to be relayed next step: (news id, holder, index, day, y, prec).
        self._relay: tuple[np.ndarray, ...] | None = None

    def draw(self, day: int, shocks: np.ndarray) -> tuple[SignalBatch, dict[str, np.ndarray]]:
        """Draw the day's news.

        Args:
            day: Today's day number (items are logged with the absolute day they are about).
            shocks: The true future shocks, shape (indices, days ahead).

        Returns:
            The signals to deliver, and a columnar log of the news items (one row per item).
        """
        rng, horizon = self.rng, shocks.shape[1]
        relayed = self._relayed_batch(day)
        # Public: one batch of items, each delivered to every team.
        n_pub = rng.poisson(self.public_rate, self.n_indices)
        pub_k = np.repeat(np.arange(self.n_indices), n_pub)
        pub_j = rng.integers(0, horizon, pub_k.size)
        pub_y = shocks[pub_k, pub_j] + rng.normal(0.0, self.public_noise, pub_k.size)
        pub_prec = np.full(pub_k.size, 1.0 / self.public_noise**2)
        # Private: items per team; skill divides the noise sd.
        n_prv = rng.poisson(self.private_rate, self.n_teams)
        prv_team = np.repeat(np.arange(self.n_teams), n_prv)
        prv_k = rng.integers(0, self.n_indices, prv_team.size)
        prv_j = rng.integers(0, horizon, prv_team.size)
        prv_sd = self.private_noise / self.skill[prv_team]
        prv_y = shocks[prv_k, prv_j] + rng.normal(0.0, 1.0, prv_team.size) * prv_sd
        prv_prec = 1.0 / prv_sd**2
        pub_ids = self._next_id + np.arange(pub_k.size)
        prv_ids = self._next_id + pub_k.size + np.arange(prv_team.size)
        self._next_id += pub_k.size + prv_team.size
        self._queue_relay(prv_ids, prv_team, prv_k, day + 1 + prv_j, prv_y, prv_prec)

        n_t = self.n_teams
        batch = SignalBatch(
            team=np.concatenate([np.tile(np.arange(n_t), pub_k.size), prv_team, relayed.team]),
            index=np.concatenate([np.repeat(pub_k, n_t), prv_k, relayed.index]),
            ahead=np.concatenate([np.repeat(pub_j, n_t), prv_j, relayed.ahead]),
            value=np.concatenate([np.repeat(pub_y, n_t), prv_y, relayed.value]),
            precision=np.concatenate([np.repeat(pub_prec, n_t), prv_prec, relayed.precision]),
            news_id=np.concatenate([np.repeat(pub_ids, n_t), prv_ids, relayed.news_id]),
        )
        log = {
            "news_id": np.concatenate([pub_ids, prv_ids]),
            "kind": np.concatenate([np.full(pub_k.size, PUBLIC), np.full(prv_team.size, PRIVATE)]),
            "team": np.concatenate([np.full(pub_k.size, -1), prv_team]),
            "index": np.concatenate([pub_k, prv_k]),
            "about_day": day + 1 + np.concatenate([pub_j, prv_j]),
            "value": np.concatenate([pub_y, prv_y]),
            "noise_sd": np.concatenate([np.full(pub_k.size, self.public_noise), prv_sd]),
        }
        self.relayed_today = int(relayed.team.size)
        return batch, log

    def _queue_relay(self, ids, holder, index, about_day, y, prec) -> None:
        if self.neighbours is None or self.diffusion_prob <= 0 or ids.size == 0:
            self._relay = None
            return
        self._relay = (ids, holder, index, about_day, y, prec)

    def _relayed_batch(self, day: int) -> SignalBatch:
        if self._relay is None:
            return SignalBatch()
        ids, holder, index, about_day, y, prec = self._relay
        self._relay = None
        indptr, nbr = self.neighbours
        degree = indptr[holder + 1] - indptr[holder]
        item = np.repeat(np.arange(ids.size), degree)
        # Neighbour list of each holder, concatenated in holder order.
        offsets = np.arange(item.size) - np.repeat(np.cumsum(degree) - degree, degree)
        receiver = nbr[indptr[holder][item] + offsets]
        keep = self.rng.random(item.size) < self.diffusion_prob
        item, receiver = item[keep], receiver[keep]
        ahead = about_day[item] - (day + 1)
        alive = ahead >= 0
        item, receiver, ahead = item[alive], receiver[alive], ahead[alive]
        return SignalBatch(
            team=receiver,
            index=index[item],
            ahead=ahead,
            value=y[item],
            precision=prec[item],
            news_id=ids[item],
        )

    def research(
        self, spend: np.ndarray, shocks: np.ndarray, productivity: float, cost: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw research readings for every team with positive spend.

        Args:
            spend: Research spend of each team today, shape (teams,).
            shocks: True future shocks, shape (indices, days ahead).
            productivity: Precision bought at spend = cost * (e - 1).
            cost: Spend scale of the diminishing returns.

        Returns:
            Teams that receive readings, their readings of every cell, and each team's precision
            per cell.
        """
        team = np.flatnonzero(spend > 0)
        total = research_precision(spend[team], productivity, cost, self.skill[team])
        per_cell = total / shocks.size
        noise = self.rng.standard_normal((team.size, *shocks.shape))
        with np.errstate(divide="ignore"):
            sd = np.where(per_cell > 0, 1.0 / np.sqrt(per_cell), 0.0)
        # shocks + noise * sd, in the noise's own array (the same sums, no temporaries)
        values = np.add(shocks[None], np.multiply(noise, sd[:, None, None], out=noise), out=noise)
        return team, values, per_cell
