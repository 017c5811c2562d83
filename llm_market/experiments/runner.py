"""The one run loop: step a model to its end, keeping what was simulated when it is cut short.

The command line, the mechanism comparison and the sweeps all step models through
:func:`run_steps`, so what "a run" means (how many days, when it stops early, what an interrupted
run keeps) is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class RunOutcome:
    """How a run ended.

    Attributes:
        days: Days completed.
        interrupted: The run stopped before its last day (Ctrl-C or a stopping error).
        stopped_by: The stopping error's message, when one ended the run.
        stopped_error: The stopping error itself (its type says how a caller reports it).
    """

    days: int
    interrupted: bool = False
    stopped_by: str | None = None
    stopped_error: Exception | None = None


def stopping_errors() -> tuple[type[Exception], ...]:
    """The errors that end a run early but keep its days: a replay miss, a refused endpoint."""
    from ..policies.client import EndpointError
    from ..policies.llm import ReplayMiss

    return (ReplayMiss, EndpointError)


def run_steps(
    model: Any,
    steps: int,
    *,
    on_step: Callable[[], None] | None = None,
    keep_on_interrupt: bool = False,
) -> RunOutcome:
    """Step ``model`` ``steps`` times, or until it sets ``running = False``.

    Args:
        model: A :class:`~llm_market.model.MarketModel` (or a subclass).
        steps: Most days to simulate.
        on_step: Called after every completed day (a progress bar's advance).
        keep_on_interrupt: Treat Ctrl-C as the end of the run instead of raising it, so that the
            caller can write what was simulated.

    Returns:
        How the run ended. A stopping error (see :func:`stopping_errors`) ends the run with
        ``stopped_by`` set; any other error propagates.
    """
    interrupts = (KeyboardInterrupt,) if keep_on_interrupt else ()
    outcome = RunOutcome(days=0)
    try:
        for _ in range(steps):
            if not model.running:
                break
            model.step()
            outcome.days += 1
            if on_step is not None:
                on_step()
    except interrupts:
        outcome.interrupted = True
    except stopping_errors() as err:
        outcome.interrupted = True
        outcome.stopped_by = str(err)
        outcome.stopped_error = err
    return outcome
