"""Gaussian beliefs about the indices' future daily shocks.

Every team holds, for each index ``k`` and each of the next ``H`` days ``j``, a Gaussian belief
``N(mean[k, j], 1 / prec[k, j])`` about that day's standard-normal shock ``z``. The prior is the
truth's law, ``N(0, 1)``. A signal is a noisy reading ``y = z + e`` with ``e ~ N(0, 1 / pi)``, and
the posterior after it is exact: ``prec += pi``, ``mean = (mean * prec_old + pi * y) / prec``.
Because every signal reads a single day's shock and shocks are independent over days, the beliefs
stay independent across days and the update needs no matrices. Cross-index correlation is ignored
by the teams (a simplification written in ``docs/model.md``).

A question on index ``k`` that resolves in ``n`` days asks whether the sum of the next ``n`` daily
log returns clears ``x = log(strike / level)``. Under the beliefs that sum is Gaussian with mean
``n * mu + sigma * sum(mean[k, :n])`` and variance ``sigma^2 * sum(1 / prec[k, :n])``, so the
Bayesian probability is ``Phi((mean - x) / sd)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..market import jit


class Beliefs:
    """The beliefs of all teams, shape (teams, indices, days ahead).

    Args:
        n_teams: Number of teams.
        n_indices: Number of indices.
        horizon: Days ahead the beliefs cover (the longest question horizon).
    """

    def __init__(self, n_teams: int, n_indices: int, horizon: int):
        self.mean = np.zeros((n_teams, n_indices, horizon))
        self.prec = np.ones((n_teams, n_indices, horizon))

    def observe(self, team, index, ahead, value, precision) -> None:
        """Update on a batch of signals (arrays of equal length).

        Args:
            team: Receiving team of each signal.
            index: Index each signal is about.
            ahead: Day each signal is about, 0 = tomorrow's shock.
            value: The noisy readings.
            precision: Precision of each reading's noise.
        """
        team = np.asarray(team, dtype=np.int64)
        if team.size == 0:
            return
        shape = self.mean.shape
        flat = np.ravel_multi_index((team, np.asarray(index), np.asarray(ahead)), shape)
        size = self.mean.size
        # Independent readings of one cell add their precisions and precision-weighted values.
        add_prec = np.bincount(flat, weights=precision, minlength=size).reshape(shape)
        add_wy = np.bincount(flat, weights=np.asarray(precision) * value, minlength=size)
        # (mean * prec + wy) / (prec + pi) into the sums' own new arrays: the same operations
        # without two more temporaries of the whole belief array (the old arrays are kept).
        new_prec = np.add(self.prec, add_prec, out=add_prec)
        mean = np.multiply(self.mean, self.prec)
        np.add(mean, add_wy.reshape(shape), out=mean)
        self.mean = np.divide(mean, new_prec, out=mean)
        self.prec = new_prec

    def observe_all_days(self, team, value, precision) -> None:
        """Update teams on readings of every (index, day) cell: research results.

        Args:
            team: Teams that receive readings, shape (n,).
            value: Readings, shape (n, indices, days).
            precision: Precision of each team's readings, shape (n,).
        """
        if len(team) == 0:
            return
        pi = np.asarray(precision, dtype=float)[:, None, None]
        # (mean * prec + pi * y) / (prec + pi), computed in the gathered rows' own arrays: the
        # same operations with fewer temporaries of the teams' whole beliefs.
        prec = self.prec[team]
        mean = np.multiply(self.mean[team], prec)
        mean += pi * value
        prec += pi
        self.mean[team] = np.divide(mean, prec, out=mean)
        self.prec[team] = prec

    def advance(self) -> None:
        """Move one day on: tomorrow's shock is now known, a new far day enters at the prior."""
        self.mean[:, :, :-1] = self.mean[:, :, 1:]
        self.prec[:, :, :-1] = self.prec[:, :, 1:]
        self.mean[:, :, -1] = 0.0
        self.prec[:, :, -1] = 1.0


def event_probability(
    mean: np.ndarray,
    prec: np.ndarray,
    index: np.ndarray,
    days_left: np.ndarray,
    log_moneyness: np.ndarray,
    step_mean: float | np.ndarray,
    step_sd: float | np.ndarray,
) -> np.ndarray:
    """Bayesian probability of each question's event under each team's beliefs.

    Args:
        mean: Posterior means of the shocks, shape (teams, indices, days).
        prec: Posterior precisions, same shape.
        index: Index of each question, shape (Q,).
        days_left: Days until each question resolves (>= 1), shape (Q,).
        log_moneyness: ``log(strike / current level)`` of each question, shape (Q,).
        step_mean: Daily drift of the log price (a scalar, or one per index).
        step_sd: Daily volatility of the log price (a scalar, or one per index, for example the
            current conditional volatility of a GARCH index).

    Returns:
        Probabilities, shape (teams, Q).
    """
    step_mean = np.asarray(step_mean, dtype=float)
    step_sd = np.asarray(step_sd, dtype=float)
    if step_mean.ndim:
        step_mean = step_mean[index]
    if step_sd.ndim:
        step_sd = step_sd[index]
    sum_mean, sum_var = jit.run(
        "..information.beliefs_kernel",
        "question_sums",
        mean.size,
        question_sums,
        mean,
        prec,
        np.asarray(index, dtype=np.int64),
        np.asarray(days_left, dtype=np.int64) - 1,
    )
    m = days_left * step_mean + step_sd * sum_mean
    sd = step_sd * np.sqrt(sum_var)
    return ndtr((m - log_moneyness) / sd)


def question_sums(
    mean: np.ndarray, prec: np.ndarray, index: np.ndarray, last_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each question's sums of the means and of the variances ``1 / prec`` over its days.

    The plain path of :func:`.beliefs_kernel.question_sums` (large markets run that, compiled;
    see :mod:`llm_market.market.jit`), with the same arguments and results.
    """
    return prefix_sums(mean, index, last_day + 1), prefix_sums(1.0 / prec, index, last_day + 1)


def prefix_sums(cells: np.ndarray, index: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``np.cumsum(cells, axis=2)[:, index, days - 1]``: each question's sum over its days.

    ``np.cumsum`` along a short last axis is slow in numpy; adding the days' slices one at a
    time makes the same sums in the same order (the same roundings), and stops at the last day
    a question needs.

    Args:
        cells: Shape (teams, indices, days).
        index: Index of each question, shape (Q,).
        days: Days each question sums, shape (Q,) (``days - 1`` indexes the last day as the
            cumsum's columns are indexed).

    Returns:
        Shape (teams, Q).
    """
    index = np.asarray(index)
    last_day = np.arange(cells.shape[2])[np.asarray(days) - 1]
    out = np.empty((cells.shape[0], last_day.size))
    questions_at: dict[int, list[int]] = {}
    for q, j in enumerate(last_day.tolist()):
        questions_at.setdefault(j, []).append(q)
    total = None
    for j in range(max(questions_at, default=-1) + 1):
        total = cells[:, :, 0].copy() if total is None else np.add(total, cells[:, :, j], out=total)
        if j in questions_at:
            at = questions_at[j]
            out[:, at] = total[:, index[at]]
    return out


def no_information_forecast(view) -> np.ndarray:
    """The benchmark forecaster's probability of each open question: the index path alone.

    It is the Bayesian probability under the prior (no signal, no research): the drift and
    volatility of the index over the days left, against the strike. It is what a client acts on
    without a report, so a report is worth what it improves on this.

    Args:
        view: The day's :class:`~llm_market.policies.base.MarketView`.

    Returns:
        One probability per open question.
    """
    q = view.questions
    if not q.qid.size:
        return np.zeros(0)
    k, horizon = view.step_mean.size, int(q.days_left.max())
    prior = np.zeros((1, k, horizon))
    return event_probability(
        prior, prior + 1.0, q.index, q.days_left, q.log_moneyness, view.step_mean, view.step_sd
    )[0]
