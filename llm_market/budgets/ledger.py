"""Money: every unit has a source and a sink that the model books.

Money is held by principals (capital) and teams (research budget and trading cash). It enters the
economy only as client payments and leaves only as costs (research, production, language-model
calls). Transfers between holders (funding, returned budgets, paid-up profits, fines) move money
without creating any. So at every step ``held + out - in == start``, up to rounding.
"""

from __future__ import annotations

from collections import defaultdict


class Ledger:
    """Books the money that enters and leaves the economy.

    Args:
        initial_total: Money held by all agents at the start.
    """

    def __init__(self, initial_total: float):
        self.initial_total = float(initial_total)
        self.inflows: dict[str, float] = defaultdict(float)
        self.outflows: dict[str, float] = defaultdict(float)

    def inflow(self, source: str, amount: float) -> None:
        """Book money entering the economy from ``source``."""
        self.inflows[source] += float(amount)

    def outflow(self, sink: str, amount: float) -> None:
        """Book money leaving the economy to ``sink``."""
        self.outflows[sink] += float(amount)

    @property
    def total_in(self) -> float:
        """All money that has entered."""
        return sum(self.inflows.values())

    @property
    def total_out(self) -> float:
        """All money that has left."""
        return sum(self.outflows.values())

    def discrepancy(self, held: float) -> float:
        """Return ``held + out - in - start``: zero, up to rounding, when money is conserved."""
        return held + self.total_out - self.total_in - self.initial_total
