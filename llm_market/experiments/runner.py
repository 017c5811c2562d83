"""The one run loop: step a model to its end, keeping what was simulated when it is cut short.

The command line, the mechanism comparison and the sweeps all step models through
:func:`run_steps`, so what "a run" means (how many days, when it stops early, what an interrupted
run keeps) is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import EXIT_FAILURE, EXIT_USAGE, LLMUnavailable


@dataclass
class RunOutcome:
    """How a run ended.

    Attributes:
        days: Days completed.
        interrupted: The run stopped before its last day (Ctrl-C or a stopping error).
        stopped_by: The stopping error's message, when one ended the run.
        error: The stopping error itself.
    """

    days: int
    interrupted: bool = False
    stopped_by: str | None = None
    error: Exception | None = None

    @property
    def exit_code(self) -> int:
        """The exit status the run asks for.

        0, or 1 for an unavailable language model (:class:`~llm_market.errors.LLMUnavailable`),
        2 for any other stopping error.
        """
        if self.error is None:
            return 0
        return EXIT_FAILURE if isinstance(self.error, LLMUnavailable) else EXIT_USAGE


def stopping_errors() -> tuple[type[Exception], ...]:
    """The errors that end a run early but keep its days.

    A replay miss, an endpoint that refuses every call, one that keeps failing, a reply cache
    another process keeps locked.
    """
    from ..policies.cache import CacheError
    from ..policies.client import EndpointError
    from ..policies.llm import ReplayMiss

    return (ReplayMiss, EndpointError, LLMUnavailable, CacheError)


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
        outcome.error = err
    return outcome
