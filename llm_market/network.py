"""The teams' optional social graph (NetworkX): who hears whom, and who may trade with whom.

On the graph, private news passes from a team to its neighbours, a team's herding weight applies
to its neighbours' last forecasts (without a graph, to the crowd's), and bilateral trade is
restricted: each client has a home team and deals only with it and its neighbours.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from mesa.discrete_space import Network

from .params import Params


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


class SocialGraph:
    """The graph with the arrays the model reads every day.

    Args:
        graph: The teams' graph, nodes ``0 .. n_teams - 1``.
        n_clients: Number of clients (each gets a home team).
        homes_rng: The stream that assigns clients their home teams.
        random: The model's Python RNG, for Mesa's :class:`~mesa.discrete_space.Network`.

    Attributes:
        graph: The NetworkX graph.
        network: Mesa's cell space on the graph; each team sits in its own cell.
        adjacency: Sparse adjacency matrix (CSR, floats).
        degree: Each team's number of neighbours.
        client_home: Each client's home team.
    """

    def __init__(self, graph: nx.Graph, n_clients: int, homes_rng: np.random.Generator, random):
        n = graph.number_of_nodes()
        self.graph = graph
        self.network = Network(graph, capacity=1, random=random)
        adj = nx.to_scipy_sparse_array(graph, nodelist=range(n), format="csr")
        self.adjacency = adj.astype(float)
        self.degree = np.asarray(adj.sum(axis=1)).ravel()
        self.client_home = homes_rng.integers(0, n, n_clients)

    @property
    def neighbour_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """The CSR pair ``(indptr, indices)``: ``indices[indptr[i]:indptr[i + 1]]`` neighbour i."""
        return self.adjacency.indptr, self.adjacency.indices

    def trade_allowed(self, client: np.ndarray, team: np.ndarray) -> np.ndarray:
        """Whether each (client, team) pair may trade bilaterally on the graph.

        A pair may trade when the team is the client's home team or one of its neighbours.
        """
        home = self.client_home[client]
        linked = np.asarray(self.adjacency[home, team]).ravel() > 0
        return linked | (home == team)

    def neighbour_forecasts(self, last: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Each team's mean of its active neighbours' last forecasts, shape (teams, questions).

        Args:
            last: The teams' last forecasts, shape (questions, teams), NaN where there is none.
            active: Which teams still forecast; exited teams are not herded on.
        """
        seen = (np.isfinite(last) & active).T.astype(float)
        team_last = np.where(seen > 0, last.T, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.adjacency @ team_last) / (self.adjacency @ seen)
