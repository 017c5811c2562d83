"""Property-based hostile input: every run either finishes with a conserved, finite money check or
is refused with exit 2 and one line, never a traceback (docs/reliability.md).

Hypothesis draws parameter sets from the fields of ``Params`` (their types, with infinities, NaN,
huge, tiny and negative values mixed in) and command-line arguments, and runs ``llm-market run``
in-process. Derandomized and bounded (a fixed number of examples, runs of at most 3 days of a
small economy), so CI is deterministic and quick: 40 runs, about 20 s on a loaded 2-core box.
"""

import contextlib
import io
import json
import math
import os
import tempfile
import typing
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llm_market.cli import main
from llm_market.errors import ParameterError
from llm_market.params import Params, make_params

HOSTILE_FLOATS = [
    math.inf,
    -math.inf,
    math.nan,
    1e308,
    -1e308,
    1e-320,
    0.0,
    -1.0,
    1e12,
    1e13,
    1e9,
    2e9,
]
HOSTILE_INTS = [-1, 0, 1, 2, 10**20, 2**63, 2**63 - 1, 10_000, 10_001]
# The language-model settings would reach for a network; sizes are drawn small (a large valid
# economy is slow, not wrong).
SKIP = {"policy", "steps", "network"} | {n for n in Params.model_fields if n.startswith("llm_")}
SIZES = {
    "n_teams",
    "n_principals",
    "n_clients",
    "n_indices",
    "units_per_team",
    "cda_rounds",
    "network_degree",
}
FIELDS = sorted(set(Params.model_fields) - SKIP)


def hostile_floats():
    return st.one_of(st.sampled_from(HOSTILE_FLOATS), st.floats(-5, 5, allow_nan=False))


def hostile_ints(name):
    if name in SIZES:
        return st.one_of(st.integers(-2, 12), st.sampled_from([10**20, 2**63]))
    return st.one_of(st.sampled_from(HOSTILE_INTS), st.integers(-3, 40))


def hostile(name):
    """Any value of the field's type, and values of other types: most are refused."""
    annotation = Params.model_fields[name].annotation
    args = set(typing.get_args(annotation))
    default = Params.model_fields[name].default
    junk = st.sampled_from(["oops", [1], True])
    if typing.get_origin(annotation) is typing.Literal:
        return st.one_of(st.sampled_from(typing.get_args(annotation)), junk)
    if annotation is bool:
        return st.one_of(st.booleans(), junk)
    if annotation is str:
        return st.one_of(st.just(default), junk)
    if annotation is float or float in args:
        return st.one_of(hostile_floats(), junk)
    if annotation is int or int in args:
        return st.one_of(hostile_ints(name), junk)
    if isinstance(default, tuple) or default is None:
        item = hostile_ints(name) if name == "horizons" else hostile_floats()
        if name == "demand_states":
            item = st.sampled_from(["low", "mid", "high"])
        row = st.lists(item, min_size=0, max_size=4)
        if name == "demand_transition":
            return st.one_of(st.lists(row, min_size=0, max_size=4), junk)
        return st.one_of(row, junk)
    return junk


def plausible(name):
    """A value near the default (a quarter to four times it): most of these run to the end."""
    field = Params.model_fields[name]
    annotation, default = field.annotation, field.default
    if typing.get_origin(annotation) is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if annotation is bool:
        return st.booleans()
    if isinstance(default, bool) or not isinstance(default, int | float):
        return st.just(default)
    if isinstance(default, int):
        if name in SIZES:
            return st.integers(1, 12)
        return st.integers(max(1, default // 4), max(1, default * 4))
    if default == 0:
        return st.floats(0, 1)
    return st.floats(min(default / 4, default * 4), max(default / 4, default * 4))


def overrides():
    def values(names, kinds):
        return st.fixed_dictionaries(
            {
                n: (plausible(n) if kind else hostile(n))
                for n, kind in zip(names, kinds, strict=True)
            }
        )

    names = st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)
    return names.flatmap(
        lambda ns: st.lists(st.booleans(), min_size=len(ns), max_size=len(ns)).flatmap(
            lambda kinds: values(ns, kinds)
        )
    )


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(overrides())
def test_parameters_are_either_refused_in_one_line_or_all_finite(values):
    try:
        params = make_params("small", **values)
    except ParameterError as err:
        assert "\n" not in str(err) and str(err)
        return
    for name in Params.model_fields:
        value = getattr(params, name)
        flat = value if isinstance(value, tuple) else (value,)
        for x in flat:
            for y in x if isinstance(x, tuple) else (x,):
                if isinstance(y, float):
                    assert math.isfinite(y), (name, value)


def run(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    return code, err.getvalue() + out.getvalue()


@settings(
    # More to hunt locally: LLM_MARKET_FUZZ_EXAMPLES=500 pytest tests/test_cli_fuzz.py
    max_examples=int(os.environ.get("LLM_MARKET_FUZZ_EXAMPLES", 40)),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    values=overrides(),
    steps=st.integers(1, 3),
    seed=st.one_of(st.integers(0, 5), st.sampled_from([-1, 2**63 - 1, 2**63, 10**20])),
    checkpoint=st.sampled_from([None, 0, 1, 2, -1]),
)
def test_a_run_finishes_with_finite_conserved_money_or_is_refused_with_exit_2(
    values, steps, seed, checkpoint
):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = ["run", "--scenario", "small", "--quiet", "--out", str(out)]
        argv += ["--steps", str(steps), "--seed", str(seed)]
        if checkpoint is not None:
            argv += ["--checkpoint-every", str(checkpoint)]
        for name, value in values.items():
            argv += ["--set", f"{name}={toml_value(value)}"]
        code, text = run(argv)
        event(f"exit {code}")
        assert "Traceback" not in text
        assert code in (0, 2), text
        if code == 2:
            lines = text.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), text
            return
        summary = json.loads((out / "summary.json").read_text())
        r = summary["results"]
        assert summary["status"] == "complete" and summary["steps"] == steps
        scale = sum(abs(x) for x in r["principal_capital"])
        scale += sum(r["money_in"].values()) + sum(r["money_out"].values())
        assert r["money_error_max"] is not None
        assert r["money_error_max"] <= 1e-9 * max(1.0, scale), r
