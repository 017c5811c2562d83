"""Expenditure validation: what happens when a team spends more than its budget.

A team's research budget is the money its principal gave it for the month; research (and, for
language-model teams, the cost of calls) is paid from it. A team is *over budget* when the balance
is negative. The rule (``overbudget=``) decides what follows:

* ``flag``: the overspend is allowed and counted; the principal absorbs it at the month end.
* ``clip``: research is never bought beyond the remaining balance (the research order is cut
  before it is paid), so only costs outside the team's control can overspend; those are flagged.
* ``penalize``: the overspend is allowed, flagged and fined: each day the team pays
  ``overbudget_penalty`` times the day's new overspend from its trading cash to its principal.
"""

from __future__ import annotations

import numpy as np


def affordable_research(spend: np.ndarray, budget: np.ndarray, rule: str) -> np.ndarray:
    """Return the research spend that will be paid: cut to the balance under ``clip``."""
    if rule == "clip":
        return np.minimum(spend, np.maximum(budget, 0.0))
    return spend


def overspend(budget: np.ndarray) -> np.ndarray:
    """Amount by which each team is over budget (0 when within it)."""
    return np.maximum(-np.asarray(budget, dtype=float), 0.0)


def fines(new_overspend: np.ndarray, rule: str, penalty: float) -> np.ndarray:
    """Fine each team pays for the day's new overspend (zero unless the rule is ``penalize``)."""
    if rule != "penalize":
        return np.zeros_like(new_overspend)
    return penalty * np.maximum(new_overspend, 0.0)
