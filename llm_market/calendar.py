"""The model's one clock: trading days, months, and the stamp on everything logged.

A step is one trading day. :attr:`Calendar.day` counts the days completed; while a step is under
way, events are stamped with that day's number (:attr:`Calendar.stamp`, 1 for the first day), and
what happens at construction (the first funding) is stamped 0. The index process keeps its own
position in its buffer of shocks, but nothing else counts days.
"""

from __future__ import annotations


class Calendar:
    """Trading days and months.

    Args:
        steps_per_month: Trading days between budget reallocations.
    """

    def __init__(self, steps_per_month: int):
        self.steps_per_month = steps_per_month
        self.day = 0
        self._trading = False

    @property
    def stamp(self) -> int:
        """The number logged with today's events: the day under way, or 0 before the first."""
        return self.day + self._trading

    @property
    def closing_day(self) -> int:
        """The day whose close the current step reaches (the index level after today's move)."""
        return self.day + 1

    @property
    def days_left_in_month(self) -> int:
        """Trading days until the next reallocation."""
        return self.steps_per_month - self.day % self.steps_per_month

    @property
    def month_ends_today(self) -> bool:
        """Whether today's close ends a month (the principals then reallocate)."""
        return self.closing_day % self.steps_per_month == 0

    def open_day(self) -> None:
        """Start a trading day."""
        self._trading = True

    def close_day(self) -> None:
        """End the trading day: one more day completed."""
        self.day += 1
        self._trading = False
