"""The compiled kernels against their plain-Python references: same numbers, same draws."""

from __future__ import annotations

import time

import numpy as np
import pytest

from llm_market.information.beliefs import question_sums
from llm_market.market.efficiency import best_surplus
from llm_market.market.mechanisms.cda import differentiated_day

kernel = pytest.importorskip("llm_market.market.mechanisms.cda_kernel")
programme = pytest.importorskip("llm_market.market.efficiency_kernel")


def random_day(seed: int, n_books: int, n_ask: int, n_bid: int, grid: bool):
    """A day's inputs; ``grid`` puts qualities, values and prices on coarse grids (many ties)."""
    rng = np.random.default_rng(seed)
    if grid:
        quality = rng.integers(0, 4, n_books) / 4.0  # some worthless (0) sellers, many equal
        ask_price = rng.integers(1, 8, n_ask).astype(float)
        value = rng.integers(1, 10, n_bid).astype(float)
    else:
        quality = rng.uniform(0.0, 1.0, n_books)
        quality[rng.random(n_books) < 0.05] = 0.0
        ask_price = rng.lognormal(1.0, 0.5, n_ask)
        value = rng.lognormal(1.5, 0.5, n_bid)
    ask_price[rng.random(n_ask) < 0.1] = np.nan  # units that do not quote
    of_ask = rng.integers(0, n_books, n_ask)
    bid_price = value * rng.uniform(0.5, 1.0, n_bid)
    bid_market = rng.random(n_bid) < 0.4
    arrival = rng.permutation(n_ask + n_bid)
    return arrival, n_ask, ask_price, of_ask, bid_price, bid_market, value, quality


def both(inputs, frontier_from):
    """Both days from the same generator state; their results and the generators after."""
    py_rng, nb_rng = np.random.default_rng(7), np.random.default_rng(7)
    expected = differentiated_day(*inputs, py_rng)
    got = kernel.clear_day(*inputs, nb_rng, frontier_from)
    return expected, got, py_rng, nb_rng


@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("frontier_from", [1, 10**9])  # the frontier, and the full scan
@pytest.mark.parametrize("seed", range(12))
def test_compiled_day_matches_python(seed, frontier_from, grid):
    n_books = [1, 3, 40, 150, 700][seed % 5]
    inputs = random_day(seed, n_books, n_ask=4 * n_books + 5, n_bid=6 * n_books + 7, grid=grid)
    expected, got, py_rng, nb_rng = both(inputs, frontier_from)
    names = ("bid", "ask", "price", "resting_bid", "resting_ask")
    for name, e, g in zip(names, expected, got, strict=True):
        np.testing.assert_array_equal(g, e, err_msg=name)
        assert g.dtype == e.dtype, name
    # The same draws: the generators are in the same state afterwards.
    assert nb_rng.random() == py_rng.random()
    if grid:
        assert expected[0].size > 0


def test_ties_are_drawn_in_both():
    """On the grid most choices are ties, so the draw itself is compared, not only its absence."""
    inputs = random_day(3, 200, 800, 1200, grid=True)
    rng = np.random.default_rng(7)
    differentiated_day(*inputs, rng)
    assert rng.bit_generator.state != np.random.default_rng(7).bit_generator.state
    expected, got, _, _ = both(inputs, 1)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_no_valued_seller_trades_nothing():
    inputs = list(random_day(1, 5, 20, 30, grid=False))
    inputs[7] = np.zeros(5)  # every seller worthless
    expected, got, _, _ = both(tuple(inputs), 1)
    assert got[0].size == expected[0].size == 0
    np.testing.assert_array_equal(got[4], expected[4])


@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("seed", range(60))
def test_compiled_programme_matches_numpy(seed, grid):
    """Updating only the slots that can matter gives the full numpy update's answer, to the bit."""
    rng = np.random.default_rng(seed)
    n_units, n_clients = rng.integers(1, 400, 2)
    if grid:  # many equal qualities, stakes and costs: ties everywhere
        q = rng.integers(0, 5, n_units) / 4.0
        c = rng.integers(0, 6, n_units) / 2.0
        s = rng.integers(1, 8, n_clients).astype(float)
    else:
        q = rng.uniform(0, 1, n_units)
        c = rng.exponential(0.5, n_units)
        s = rng.lognormal(0.5, 0.6, n_clients)
    s = np.sort(s)[::-1][: min(n_units, n_clients)]
    order = np.argsort(-q, kind="stable")
    q, c = q[order], c[order]
    expected = best_surplus(s, q, c)
    got = programme.best_surplus(s, q, c)
    assert (float(got[0]), int(got[1])) == expected


@pytest.mark.parametrize("seed", range(20))
def test_compiled_question_sums_match_numpy(seed):
    """The questions' belief sums, compiled, are the plain prefix sums to the bit."""
    beliefs_kernel = pytest.importorskip("llm_market.information.beliefs_kernel")
    rng = np.random.default_rng(seed)
    teams, indices, days = rng.integers(1, 40), rng.integers(1, 4), rng.integers(1, 25)
    scale = 10.0 ** rng.integers(-8, 8, (teams, indices, days))
    mean = rng.normal(size=(teams, indices, days)) * scale
    mean[rng.random(mean.shape) < 0.05] = -0.0  # a sum that starts from -0.0 keeps its sign
    prec = rng.lognormal(0.0, 2.0, (teams, indices, days))
    n_q = rng.integers(0, 20)
    index, last_day = rng.integers(0, indices, n_q), rng.integers(0, days, n_q)
    want = question_sums(mean, prec, index, last_day)
    got = beliefs_kernel.question_sums(mean, prec, index, last_day)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.tobytes() == w.tobytes()


def test_kernels_run_for_large_days_once_the_plain_paths_have_cost_their_loading(monkeypatch):
    from llm_market.market import jit

    monkeypatch.delenv("LLM_MARKET_JIT", raising=False)
    monkeypatch.setattr(jit, "_loaded", {})
    monkeypatch.setattr(jit, "_plain_seconds", 0.0)
    monkeypatch.setattr(jit, "PAYBACK_SECONDS", 0.05)
    big = jit.JIT_FROM
    assert jit.kernel("efficiency_kernel", "best_surplus", big) is None  # nothing spent yet
    calls = []

    def plain(x):
        calls.append(x)
        end = time.process_time() + 0.02
        while time.process_time() < end:  # CPU time, as the plain path spends it
            pass
        return "plain"

    results = [jit.run("efficiency_kernel", "best_surplus", big - 1, plain, i) for i in range(4)]
    assert results == ["plain"] * 4  # a small day never loads it, however long it runs
    assert jit.kernel("efficiency_kernel", "best_surplus", big - 1) is None
    while jit.kernel("efficiency_kernel", "best_surplus", big) is None:
        jit.run("efficiency_kernel", "best_surplus", big, plain, 0)
    assert len(calls) <= 4 + 4  # paid back within about 0.05 s of plain days
    assert jit.kernel("efficiency_kernel", "best_surplus", big) is programme.best_surplus
    # The rent is shared: the CDA's kernel loads too, its plain path never having run.
    assert jit.kernel("mechanisms.cda_kernel", "clear_day", big) is kernel.clear_day
    assert jit.kernel("mechanisms.cda_kernel", "clear_day", big - 1) is None
    monkeypatch.setenv("LLM_MARKET_JIT", "0")
    assert jit.kernel("efficiency_kernel", "best_surplus", big) is None
    monkeypatch.setenv("LLM_MARKET_JIT", "1")
    assert jit.kernel("mechanisms.cda_kernel", "clear_day", 1) is kernel.clear_day


def test_a_run_is_the_same_compiled_or_not(monkeypatch):
    """The whole model, every market day compiled, against every day in plain Python."""
    from llm_market import MarketModel

    digests = []
    for setting in ("1", "0"):
        monkeypatch.setenv("LLM_MARKET_JIT", setting)
        model = MarketModel(n_teams=70, n_clients=700, seed=3)  # the frontier from 64 sellers
        for _ in range(45):  # past the first month, when records set the sellers apart
            model.step()
        digests.append(model.digest())
    assert digests[0] == digests[1]
