"""The model under every supported Mesa: 3.3.1 (Python 3.11) and 3.5 (Python >= 3.12).

``.ci/run`` runs the suite on both. What Mesa shows differently is named in
``tests/mesa_versions.py`` and in the README's "Mesa versions" section.
"""

import json

import mesa
import numpy as np
import pytest
from mesa_versions import MESA_35

from llm_market import MarketModel, ParameterError
from llm_market.experiments.specs import Run
from llm_market.experiments.sweep_model import SweepModel, payload

# Digests recorded on Mesa 3.3.1 (Python 3.11); every version must give the same. The digest
# covers the trade and prediction logs, so a deliberate change to the model changes it: then
# record the new values on Mesa 3.3.1 (`.venv/bin/python -c "from llm_market import
# MarketModel; m = MarketModel(scenario=NAME, seed=42, steps=20); [m.step() for _ in
# range(20)]; print(m.digest())"`) and check that the other version agrees.
DIGESTS = {
    # The default scenario: what `llm-market run` does.
    "default": "706b5100c32256dba4eab3191c368841fc83e82004ed824168b7f87b469b2aab",
    # A social graph: Mesa's own `random` places the clients.
    "networked": "71f9494bc80cd3da9874cde4cab38331568480b7059d64f8f6a5416b67fac399",
}
DIGEST_STEPS = 20


def run(model: MarketModel, steps: int) -> MarketModel:
    for _ in range(steps):
        model.step()
    return model


@pytest.mark.parametrize("scenario", sorted(DIGESTS))
def test_a_run_has_the_same_digest_on_every_mesa_version(scenario):
    model = run(MarketModel(scenario=scenario, seed=42, steps=DIGEST_STEPS), DIGEST_STEPS)
    assert model.digest() == DIGESTS[scenario], f"Mesa {mesa.__version__}"


def test_rng_is_mesas_name_for_the_seed():
    by_rng = run(MarketModel(scenario="small", rng=3), 5)
    by_seed = run(MarketModel(scenario="small", seed=3), 5)
    assert by_rng.seed == by_seed.seed == 3
    assert by_rng.digest() == by_seed.digest()
    assert MarketModel(scenario="small", rng=np.int64(3), seed=3).seed == 3
    # rng=None leaves the seed to `seed`, whose default fixes the run.
    assert MarketModel(scenario="small", rng=None).seed == MarketModel(scenario="small").seed == 42
    assert (
        run(MarketModel(scenario="small", rng=42), 5).digest()
        == run(MarketModel(scenario="small"), 5).digest()
    )


def test_no_seed_draws_one_and_keeps_it():
    a, b = MarketModel(scenario="small", seed=None), MarketModel(scenario="small", seed=None)
    assert a.seed != b.seed and 0 <= a.seed < 2**63
    again = MarketModel(scenario="small", seed=a.seed)
    assert run(a, 5).digest() == run(again, 5).digest()
    assert a.summary()["seed"] == a.seed


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"seed": 5, "rng": 3}, "seed=5 and rng=3"),
        ({"rng": np.random.default_rng(3)}, "rng: an integer or None"),
        ({"rng": 2.5}, "rng: an integer or None"),
        ({"seed": "3"}, "seed: an integer or None"),
        ({"seed": True}, "seed: an integer or None"),
    ],
)
def test_a_seed_that_is_not_one_integer_is_refused(kwargs, needle):
    with pytest.raises(ParameterError, match=needle):
        MarketModel(scenario="small", **kwargs)


def test_the_preset_name_is_scenario_name():
    model = MarketModel(scenario="small")
    assert model.scenario_name == "small" and model.summary()["scenario"] == "small"
    json.dumps(model.summary())
    if MESA_35:  # Mesa's own Scenario object, never replaced by the model
        from mesa.experimental.scenarios import Scenario

        assert isinstance(model.scenario, Scenario)


def _batch(**kwargs):
    return mesa.batch_run(
        MarketModel, max_steps=5, number_processes=1, display_progress=False, **kwargs
    )


def test_batch_run_with_each_versions_seeding():
    direct = {seed: run(MarketModel(scenario="small", seed=seed), 5) for seed in (3, 4)}
    if MESA_35:
        # Seeds go in rng=; batch_run passes each as seed=. One row per team (the DataCollector's
        # agent-type reporters), the model's columns the same in each; Step is Mesa's float time.
        rows = _batch(parameters={"scenario": "small"}, rng=[3, 4])
        n_teams = direct[3].n_teams
        assert len(rows) == 2 * n_teams and {"AgentID", "budget", "brier"} <= set(rows[0])
    else:
        # Mesa 3.3.1 never seeds: the seeds are a parameter like any other. One row per run.
        rows = _batch(parameters={"scenario": "small", "seed": [3, 4]})
        assert len(rows) == 2
    for row in rows:
        # Mesa 3.3.1 steps max_steps + 1 times but reports the row collected after max_steps.
        assert row["Step"] == 5
        model = direct[row["seed"]]
        assert row["day"] == model.day == 5
        assert row["price_0"] == pytest.approx(model.market.close[0], nan_ok=True)
        assert row["crowd_brier"] == pytest.approx(model.crowd_brier, nan_ok=True)


@pytest.mark.skipif(not MESA_35, reason="Mesa 3.3.1 never seeds in batch_run")
def test_batch_run_on_mesa_35_without_rng_draws_a_fresh_seed_per_run():
    # rng=[None] * 2 is Mesa 3.5's iterations=2: two runs with different, drawn seeds.
    rows = _batch(parameters={"scenario": "small"}, rng=[None, None])
    by_run = {row["RunId"]: (row["price_0"], row["price_1"], row["crowd_brier"]) for row in rows}
    assert len(by_run) == 2 and {row["seed"] for row in rows} == {None}
    assert by_run[0] != by_run[1]


def test_sweep_model_takes_mesas_rng_only_as_its_own_seed():
    r = payload(Run("k", "small", 7, 3, {}), ["trades"])
    assert SweepModel(r).seed == SweepModel(r, rng=None).seed == SweepModel(r, rng=7).seed == 7
    with pytest.raises(ParameterError, match="rng=8"):
        SweepModel(r, rng=8)
