"""Matching mechanisms behind one interface, and the registry that names them.

A mechanism receives one good's order flow for the day (the teams' unit asks with their marginal
costs, the clients' unit bids with their values) and returns the trades as index pairs into that
flow with prices. The model then settles money and surplus the same way whatever the mechanism,
so allocative efficiency is comparable across institutions.

Four institutions are registered: the continuous double auction (``"cda"``), a uniform-price call
auction (``"call"``), random pairwise bargaining (``"bilateral"``) and posted prices
(``"posted"``). Every random choice draws on the ``rng`` passed to :meth:`Mechanism.clear`, never
on set or dict order, so a day's trades are a function of the flow and the stream's state.

A new mechanism is one subclass of :class:`~.base.Mechanism` in a module of this package plus its
line in :data:`MECHANISM_CLASSES`; the parameters, the CLI, the app and the comparisons read the
names from here.
"""

from __future__ import annotations

from typing import Any

from .base import DEPTH_LEVELS, Allowed, Mechanism, OrderFlow, Quote, Trades
from .bilateral import BilateralBargaining
from .call import CallAuction
from .cda import ContinuousDoubleAuction
from .posted import PostedPrices

MECHANISM_CLASSES: dict[str, type[Mechanism]] = {
    "cda": ContinuousDoubleAuction,
    "call": CallAuction,
    "bilateral": BilateralBargaining,
    "posted": PostedPrices,
}
# The mechanism names, in the order the CLI, the app and comparisons list them.
MECHANISMS: tuple[str, ...] = tuple(MECHANISM_CLASSES)


def make_mechanism(name: str, n_goods: int, **options: Any) -> Mechanism:
    """Create the mechanism called ``name`` for ``n_goods`` goods.

    Args:
        name: A key of :data:`MECHANISM_CLASSES`.
        n_goods: Number of goods.
        **options: Keyword arguments of that mechanism's constructor.
    """
    return MECHANISM_CLASSES[name](n_goods, **options)


def mechanism_for_run(params: Any, allowed: Allowed | None = None) -> Mechanism:
    """Create a run's mechanism from its parameters (each class reads the settings it has).

    Args:
        params: The run's :class:`~llm_market.params.Params`.
        allowed: Who may trade with whom, from the social graph (None: anyone).
    """
    return MECHANISM_CLASSES[params.mechanism].from_params(params.n_indices, params, allowed)


__all__ = [
    "DEPTH_LEVELS",
    "MECHANISMS",
    "MECHANISM_CLASSES",
    "Allowed",
    "BilateralBargaining",
    "CallAuction",
    "ContinuousDoubleAuction",
    "Mechanism",
    "OrderFlow",
    "PostedPrices",
    "Quote",
    "Trades",
    "make_mechanism",
    "mechanism_for_run",
]
