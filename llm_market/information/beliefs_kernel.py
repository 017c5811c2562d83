"""The questions' sums over the teams' beliefs, compiled (:func:`.beliefs.event_probability`).

:func:`~.beliefs.prefix_sums` adds the belief arrays' day slices one at a time, a strided pass
over every team's beliefs per day; this kernel walks each team's beliefs once, in memory order,
making both of a question's sums (of the means and of the variances ``1 / prec``) with the same
additions in the same order, so the same roundings: only additions and divisions, which numba
and numpy round alike (``tests/test_kernels.py`` compares them).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def question_sums(mean, prec, index, last_day):
    """Each question's sums of the means and of ``1 / prec`` over its days, shape (teams, Q).

    Args:
        mean: Posterior means, shape (teams, indices, days).
        prec: Posterior precisions, same shape.
        index: Index of each question, shape (Q,).
        last_day: Each question's last day ahead (days left - 1), shape (Q,).
    """
    n_teams, n_indices = mean.shape[0], mean.shape[1]
    n_q = index.size
    need = 1  # the first day's sums, also with no question to write them to
    for q in range(n_q):
        need = max(need, last_day[q] + 1)
    sum_mean = np.empty((n_teams, n_q))
    sum_var = np.empty((n_teams, n_q))
    run_mean = np.empty((n_indices, need))
    run_var = np.empty((n_indices, need))
    for t in range(n_teams):
        for k in range(n_indices):
            # Started from the first day's cell, as prefix_sums copies it (0.0 + x is not x
            # when x is -0.0).
            m = mean[t, k, 0]
            v = 1.0 / prec[t, k, 0]
            run_mean[k, 0] = m
            run_var[k, 0] = v
            for j in range(1, need):
                m += mean[t, k, j]
                v += 1.0 / prec[t, k, j]
                run_mean[k, j] = m
                run_var[k, j] = v
        for q in range(n_q):
            sum_mean[t, q] = run_mean[index[q], last_day[q]]
            sum_var[t, q] = run_var[index[q], last_day[q]]
    return sum_mean, sum_var
