"""The model's parameters: names, defaults, ranges and the scenario presets.

Every parameter of :class:`~llm_market.model.MarketModel` is a field of :class:`Params` with a
default, a range and a one-line description. A *scenario* is a named set of overrides; keywords
given explicitly override the scenario. Validation happens here, once, so that a wrong value fails
with a message naming the parameter and what it accepts instead of a traceback from deep inside a
step.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import ParameterError
from .market.mechanisms import MECHANISMS
from .scenarios import SCENARIOS

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NETWORKS = ("none", "erdos_renyi", "watts_strogatz", "barabasi_albert")
PIVOT_METRICS = ("brier_skill", "profit", "msr", "mix")

# Magnitude bounds: the largest (and smallest) values whose products the model still computes in
# float64 with the money check exact to rounding (prices ~ value x level^e x demand, costs ~ b q^2,
# capital summed over principals); beyond them sums overflow to inf and the check turns NaN.
MAX_MONEY = 1e12  # capital, cash and funding per holder
MAX_VALUE = 1e9  # prices, values, costs, index levels, subsidies
MIN_VALUE = 1e-9  # scales that divide (research_cost, client_base_value, ...): no subnormals
MAX_DEMAND_LEVEL = 1e3  # a demand regime's multiple of the base demand
MAX_HORIZON = 10_000  # days: question horizons, months, windows, years
MAX_DAYS = 10_000_000  # run length
# Seeds: numpy's SeedSequence takes any int >= 0; the sweeps store seeds as int64.
MAX_SEED = 2**63 - 1


def check_seed(seed: Any, label: str = "seed") -> int:
    """Return ``seed`` if it is a whole number in ``[0, 2**63 - 1]``, else raise.

    Args:
        seed: The value to check.
        label: How the message names it (``"seed"``, ``"--seed"``, ``"seeds"``).

    Raises:
        ParameterError: Not a whole number in range.
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not (0 <= seed <= MAX_SEED)
    ):
        raise ParameterError(f"{label}: must be a whole number from 0 to 2**63-1 (got {seed!r})")
    return int(seed)


def is_graph(value: Any) -> bool:
    """Whether ``value`` is a networkx graph, without importing networkx.

    A graph can exist only once networkx is imported, so a process that never imported it (the
    command line, the usual string-valued ``network``) does not pay for the import here.
    """
    nx = sys.modules.get("networkx")
    return nx is not None and isinstance(value, nx.Graph)


class Params(BaseModel):
    """All parameters of one run, validated. Units: money units, trading days (steps)."""

    # allow_inf_nan=False: every float, in lists too, must be finite (inf or NaN would run and
    # poison the money check and the logs instead of failing here).
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False
    )

    # Population and calendar
    steps: int = Field(
        252, ge=1, le=MAX_DAYS, description="run length used by the CLI (trading days)"
    )
    n_teams: int = Field(20, ge=1, le=100_000, description="research teams")
    n_principals: int = Field(4, ge=1, le=100_000, description="principals that own and fund teams")
    n_clients: int = Field(300, ge=1, le=10_000_000, description="clients buying reports")
    steps_per_month: int = Field(
        21, ge=1, le=MAX_HORIZON, description="steps between budget reallocations"
    )

    # Indices
    n_indices: int = Field(3, ge=1, le=50, description="financial indices (one good each)")
    index_drift: float = Field(0.06, ge=-1.0, le=1.0, description="annual drift of log price")
    index_volatility: float = Field(0.2, gt=0.0, le=3.0, description="annual volatility")
    index_correlation: float = Field(0.3, gt=-1.0, lt=1.0, description="pairwise correlation")
    index_initial: float = Field(
        100.0, ge=1e-6, le=MAX_VALUE, description="starting level of every index"
    )
    trading_days_per_year: int = Field(
        252, ge=1, le=MAX_HORIZON, description="steps per year for drift and vol"
    )
    index_process: Literal["gbm", "garch", "market"] = Field(
        "gbm", description="gbm | garch | market (a traded price over a gbm/garch fundamental)"
    )
    # Traded index market (h6): index_process="market" (llm_market/market/index_market.py)
    market_fundamental: Literal["gbm", "garch"] = Field(
        "gbm", description="the traded index's fundamental value: gbm | garch"
    )
    market_traders: int = Field(500, ge=10, le=100_000, description="index traders per index")
    market_noise_share: Probability = Field(0.1, description="share of noise traders (fixed)")
    market_rounds: int = Field(8, ge=1, le=1000, description="order rounds per day")
    market_activity: Probability = Field(0.2, description="chance a trader orders in a round")
    market_chartist_share: Probability = Field(0.3, description="initial share of chartists")
    market_fundamentalist_gain: float = Field(
        100.0, ge=0.0, le=1e6, description="fundamentalist shares per unit of log mispricing"
    )
    market_fundamentalist_reach: float = Field(
        0.003, gt=0.0, le=1.0, description="most log distance of a fundamentalist's limit"
    )
    market_chartist_qty: int = Field(1, ge=1, le=1000, description="shares per chartist order")
    market_chartist_reach: float = Field(
        0.01, gt=0.0, le=1.0, description="log distance of a chartist's marketable limit"
    )
    market_noise_spread: float = Field(
        0.003, gt=0.0, le=1.0, description="sd of a noise trader's log limit around the price"
    )
    market_v1: float = Field(30.0, ge=0.0, le=1e4, description="LM v1: opinion changes per day")
    market_v2: float = Field(0.5, ge=0.0, le=1e4, description="LM v2: strategy switches per day")
    market_a1: float = Field(0.55, ge=0.0, le=1e3, description="LM alpha1: herding on the opinion")
    market_a2: float = Field(0.0, ge=0.0, le=1e3, description="LM alpha2: herding on the trend")
    market_a3: float = Field(
        5.0, ge=0.0, le=1e3, description="LM alpha3: weight of profit differences"
    )
    market_s: float = Field(
        200.0, ge=0.0, le=1e6, description="LM s: weight of the squared mispricing in fitness"
    )
    market_idiosyncratic: float = Field(
        0.0005, ge=0.0, le=1.0, description="switching not driven by imitation (Kirman epsilon)"
    )
    market_sentiment_sd: float = Field(
        0.5, ge=0.0, le=10.0, description="sd of the chartists' common mood of the day"
    )
    market_trend_memory: float = Field(
        1.0, gt=0.0, le=MAX_HORIZON, description="days chartists average over"
    )
    market_uninformed_noise: float = Field(
        0.04, ge=0.0, le=10.0, description="sd of an uninformed fundamentalist's log estimate"
    )
    market_informed_noise: float = Field(
        0.002, ge=0.0, le=10.0, description="sd of the log estimate of a client who bought a report"
    )
    market_informed_days: int = Field(1, ge=0, le=10_000, description="days a report informs")
    market_informed: bool = Field(True, description="report buyers trade as informed traders")
    market_switching: bool = Field(True, description="traders switch strategies (ablation)")
    market_imitation: bool = Field(True, description="switching imitates others (ablation)")
    market_initial_shares: int = Field(
        50, ge=1, le=1_000_000, description="shares per trader at the start"
    )
    # Grossman-Stiglitz economics of the traded index (gs, issue 13 items 1 and 4)
    market_public_lag: int = Field(
        21,
        ge=0,
        le=MAX_HORIZON,
        description="days between publications of a fundamental (0: always)",
    )
    market_hidden_share: Probability = Field(
        0.5, description="share of a fundamental move's variance hidden until publication"
    )
    market_gain_prior: float = Field(
        1.0,
        ge=0.0,
        le=MAX_VALUE,
        description="report's daily trading gain believed before any is booked",
    )
    market_gain_smoothing: float = Field(
        1.0 / 21, gt=0.0, le=1.0, description="weight of the day's booked gain gap in its average"
    )
    garch_omega: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="GARCH daily variance intercept (default: from volatility)",
    )
    garch_alpha: float = Field(0.08, ge=0.0, lt=1.0, description="GARCH weight of last shock^2")
    garch_beta: float = Field(0.9, ge=0.0, lt=1.0, description="GARCH weight of last variance")
    garch_nu: float = Field(6.0, gt=2.0, le=1e6, description="degrees of freedom of the t shocks")

    # Questions
    horizons: tuple[Annotated[int, Field(le=MAX_HORIZON)], ...] = Field(
        (5, 21), min_length=1, description="question horizons"
    )
    question_interval: int = Field(
        5, ge=1, le=MAX_HORIZON, description="days between new questions"
    )
    question_threshold: float = Field(
        0.0, gt=-1.0, le=1.0, description="theta: S_T >= (1+theta) S_0"
    )

    # Information
    public_news_rate: float = Field(
        0.3, ge=0.0, le=100.0, description="public news per index per day"
    )
    public_news_noise: float = Field(
        1.0, ge=1e-6, le=1e6, description="noise sd of public news (shock sds)"
    )
    private_news_rate: float = Field(
        0.1, ge=0.0, le=100.0, description="private news per team per day"
    )
    private_news_noise: float = Field(0.7, ge=1e-6, le=1e6, description="noise sd of private news")
    diffusion_prob: Probability = Field(0.3, description="chance private news reaches a neighbour")
    research_cost: float = Field(
        1.0, ge=MIN_VALUE, le=MAX_VALUE, description="spend scale of research returns"
    )
    research_productivity: float = Field(
        2.0, ge=0.0, le=1e6, description="precision bought at scale"
    )
    research_horizon: int = Field(
        3, ge=1, le=10_000, description="days over which a team weighs what research earns"
    )

    # Team heterogeneity (heuristic policy)
    skill_sd: float = Field(0.3, ge=0.0, le=3.0, description="log-sd of team skill")
    confidence_sd: float = Field(0.2, ge=0.0, le=3.0, description="log-sd of team (over)confidence")
    herding_weight: Probability = Field(0.2, description="mean weight on neighbours' forecasts")
    research_intensity_sd: float = Field(0.25, ge=0.0, le=3.0, description="spread of spend rates")

    # Goods and demand
    mechanism: str = Field("cda", description="matching mechanism: " + " | ".join(MECHANISMS))
    units_per_team: int = Field(4, ge=0, le=1000, description="reports offered per good per day")
    cost_linear: float = Field(0.5, ge=0.0, le=MAX_VALUE, description="c(q) = a q + b q^2: a")
    cost_quadratic: float = Field(0.15, ge=0.0, le=MAX_VALUE, description="c(q) = a q + b q^2: b")
    markup_initial: float = Field(0.2, ge=-1.0, le=3.0, description="initial log markup on asks")
    markup_step: float = Field(0.05, ge=0.0, le=1.0, description="markup adjustment per day")
    markup_decay: Probability = Field(0.0, description="share of the markup forgotten daily")
    daily_price: Literal["close", "vwap"] = Field(
        "close", description="a good's daily price: last trade | geometric mean of trades"
    )
    value_level_elasticity: float = Field(
        0.0, ge=0.0, le=10.0, description="WTP ~ (index level / initial)^e"
    )
    client_valuation: Literal["decision", "induced", "trading"] = Field(
        "decision",
        description="WTP: decision value of the seller's record | induced (Gode-Sunder values)"
        " | trading (booked index-market gain)",
    )
    client_base_value: float = Field(
        10.0,
        ge=MIN_VALUE,
        le=MAX_VALUE,
        description="median stake: money per question per unit of Brier loss saved",
    )
    reputation_prior: float = Field(
        20.0,
        ge=0.0,
        le=MAX_VALUE,
        description="questions' worth of prior pulling a record to the mean",
    )
    reputation_prior_gap: float = Field(
        0.05, ge=0.0, le=1.0, description="Brier saved per question believed before any record"
    )
    client_value_sd: float = Field(0.5, ge=0.0, le=5.0, description="log-sd of client values")
    client_participation: Probability = Field(0.3, description="chance a client bids per good")
    market_order_share: Probability = Field(0.2, description="share of clients using market orders")
    bid_shading: Probability = Field(0.4, description="bids uniform on [(1-s) v, v]")
    value_volatility_elasticity: float = Field(
        1.0, ge=0.0, le=10.0, description="induced WTP ~ vol^e"
    )
    value_quality_weight: float = Field(
        1.0, ge=0.0, le=10.0, description="induced WTP ~ 1 + w * skill"
    )
    zi_traders: Literal["off", "zi_c", "zi_u"] = Field(
        "off", description="zero-intelligence quotes (Gode-Sunder): off | zi_c | zi_u"
    )
    zi_price_max: float = Field(
        10.0, ge=MIN_VALUE, le=MAX_VALUE, description="top of the ZI price range"
    )
    cda_rounds: int = Field(1, ge=1, le=1000, description="ZI quoting rounds per day in the CDA")
    demand_states: tuple[str, ...] = Field(("low", "normal", "high"), min_length=1)
    demand_levels: tuple[Annotated[float, Field(le=MAX_DEMAND_LEVEL)], ...] = Field(
        (0.6, 1.0, 1.5), min_length=1
    )
    demand_persistence: Probability = Field(0.95, description="chance the regime stays put")
    demand_transition: tuple[tuple[float, ...], ...] | None = Field(
        None, description="regime transition matrix (rows sum to 1); default from persistence"
    )

    # Prediction market
    prediction_market: bool = Field(False, description="run an LMSR market per open question")
    pm_funding: float = Field(
        10.0, ge=MIN_VALUE, le=MAX_VALUE, description="each LMSR maker's subsidy (b = f / ln 2)"
    )
    pm_stake: float = Field(
        1.0, ge=0.0, le=MAX_VALUE, description="most a team bets per question per day"
    )

    # Budgets and principals
    principal_capital: float = Field(
        2000.0, ge=0.0, le=MAX_MONEY, description="starting capital per principal"
    )
    payout_rule: Literal["capital", "fixed"] = Field(
        "capital",
        description="funding: a share of the principal's capital | monthly_funding per team",
    )
    funding_rate: Probability = Field(
        0.3, description="share of its capital a principal funds its teams with each month"
    )
    dividend_rate: Probability = Field(
        0.5, description="share of capital above the start a principal pays out each month"
    )
    monthly_funding: float = Field(
        20.0,
        ge=0.0,
        le=MAX_MONEY,
        description="research funding per team per month (payout_rule=fixed)",
    )
    investor_pivot: Probability = Field(
        0.2, description="share of capital investors move toward the principals that earn"
    )
    initial_team_cash: float = Field(
        20.0, ge=0.0, le=MAX_MONEY, description="starting trading cash per team"
    )
    team_working_cash: float = Field(
        20.0, ge=0.0, le=MAX_MONEY, description="cash a team keeps; rest paid up"
    )
    overbudget: Literal["flag", "clip", "penalize"] = "flag"
    overbudget_penalty: float = Field(0.5, ge=0.0, le=100.0, description="fine per unit overspent")
    pivot_factor: Probability = Field(0.3, description="phi: weight moved to the target shares")
    pivot_window: int = Field(
        63, ge=1, le=MAX_HORIZON, description="days of performance the pivot looks at"
    )
    pivot_sharpness: float = Field(
        4.0, ge=0.0, le=10.0, description="target shares ~ rank^sharpness (0 equal, 1 linear)"
    )
    pivot_metric: str = Field("brier_skill", description=" | ".join(PIVOT_METRICS))
    budget_floor: Probability = Field(0.02, description="smallest budget share kept")
    floor_rule: Literal["floor", "exit"] = "floor"

    # Social graph
    network: Any = Field(
        "none", description="none | erdos_renyi | watts_strogatz | barabasi_albert"
    )
    network_degree: int = Field(4, ge=1, le=100_000, description="mean degree of generated graphs")
    network_rewire: Probability = Field(0.1, description="Watts-Strogatz rewiring probability")

    # Policies (the llm_* settings define llm_market.policies.llm.LLMConfig)
    policy: Literal["heuristic", "llm"] = Field("heuristic", description="heuristic | llm")
    # What LLM teams see (h2)
    llm_information: Literal["raw", "signals", "posterior"] = Field(
        "raw",
        description="what the v2 prompt pre-digests: raw (headlines, no probability) | signals "
        "(signal table and the probability it implies) | posterior (that probability as the "
        "team's posterior)",
    )
    llm_reasoning: bool = Field(True, description="v2: a reasoning field before the numbers")
    llm_reasoning_chars: int = Field(
        600, ge=20, le=8000, description="most characters of reasoning kept (longer is cut)"
    )
    llm_personas: str | None = Field(
        None, description="TOML file of [[persona]] name/text given to LLM teams in turn"
    )
    headline_generator: str = Field(
        "templates",
        pattern=r"^(templates|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="news headlines: templates | package.module:Class (built as Class(rng))",
    )
    llm_share: Probability = Field(1.0, description="share of teams the language model drives")
    llm_base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible URL")
    llm_model: str = Field("gpt-4o-mini", description="model name at the endpoint")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="sampling temperature")
    llm_seed: int | None = Field(None, description="sampling seed (default: the run's seed)")
    llm_max_tokens: int = Field(512, ge=16, le=32_768, description="completion token limit")
    llm_max_retries: int = Field(2, ge=0, le=10, description="re-prompts after a bad reply")
    llm_concurrency: int | None = Field(
        None, ge=1, le=256, description="calls in flight at once (None: one per LLM team)"
    )
    llm_cache_mode: Literal["off", "read-write", "replay"] = Field(
        "off", description="reply cache: off | read-write | replay"
    )
    llm_cache_path: str | None = Field(None, description="SQLite reply cache file")
    llm_prompt_price_per_1k: float = Field(0.0, ge=0.0, description="money per 1k prompt tokens")
    llm_completion_price_per_1k: float = Field(
        0.0, ge=0.0, description="money per 1k completion tokens"
    )
    llm_call_cap: int | None = Field(None, ge=0, description="most calls in a run")
    llm_timeout: float = Field(
        60.0, gt=0.0, description="seconds one call may take in all (connect, read, retries)"
    )
    llm_http_retries: int = Field(2, ge=0, le=10, description="HTTP retries on transient errors")
    llm_template: str = Field("v2", description="prompt template version (v1: the old prompt)")
    llm_response_format: Literal["json_schema", "json_object_schema", "json_object", "none"] = (
        Field("json_schema", description="how the reply's JSON shape is requested")
    )
    # LLM engine (h1)
    llm_max_concurrency: int = Field(
        64, ge=1, le=1024, description="most calls in flight when llm_concurrency is None"
    )
    llm_batch_size: int = Field(
        1, ge=1, le=64, description="teams asked in one request (1: one request per team)"
    )
    llm_failure_budget: int = Field(
        20, ge=0, description="consecutive failed calls that stop the run (0: never)"
    )
    llm_token_param: Literal["auto", "max_tokens", "max_completion_tokens"] = Field(
        "auto", description="name of the token limit sent (auto: try max_completion_tokens)"
    )
    llm_max_reply_bytes: int = Field(
        64 * 1024, ge=1024, le=16 * 1024 * 1024, description="longest reply text kept (bytes)"
    )

    @field_validator("horizons")
    @classmethod
    def _horizons_positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(h < 1 for h in v):
            raise ValueError("every horizon must be a whole number of days >= 1")
        return tuple(sorted(set(v)))

    @field_validator("demand_levels")
    @classmethod
    def _levels_positive(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not (x > 0 and math.isfinite(x)) for x in v):
            raise ValueError("every demand level must be a positive number")
        return v

    @field_validator("llm_seed")
    @classmethod
    def _seed_in_range(cls, v: int | None) -> int | None:
        if v is not None and not 0 <= v <= MAX_SEED:
            raise ValueError("must be a whole number from 0 to 2**63-1")
        return v

    @field_validator("mechanism", "pivot_metric")
    @classmethod
    def _known_choice(cls, v: str, info: ValidationInfo) -> str:
        # The registries' names, read at validation so that a new mechanism needs no edit here.
        choices = {"mechanism": MECHANISMS, "pivot_metric": PIVOT_METRICS}[info.field_name]
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return v

    @field_validator("network")
    @classmethod
    def _known_network(cls, v: Any) -> Any:
        if is_graph(v):
            return v
        if v not in NETWORKS:
            raise ValueError(f"must be a networkx.Graph or one of {', '.join(NETWORKS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.n_principals > self.n_teams:
            raise ValueError("n_principals: must be at most n_teams")
        if len(self.demand_levels) != len(self.demand_states):
            raise ValueError("demand_levels: needs one level per demand state")
        if self.demand_transition is not None:
            check_transition_matrix(self.demand_transition, len(self.demand_states))
        check_correlation(self.index_correlation, self.n_indices)
        if self.zi_traders != "off" and self.mechanism != "cda":
            raise ValueError(
                "zi_traders: zero-intelligence quoting runs in the CDA only (mechanism='cda')"
            )
        if self.client_valuation == "trading" and self.index_process != "market":
            raise ValueError(
                "client_valuation: 'trading' values reports by the index market's booked gain "
                "and needs index_process='market'"
            )
        if self.garch_alpha + self.garch_beta >= 1.0:
            raise ValueError(
                "garch_alpha: garch_alpha + garch_beta must be < 1 (a stationary variance)"
            )
        if self.llm_cache_mode != "off" and not self.llm_cache_path:
            raise ValueError(f"llm_cache_path: needed with llm_cache_mode={self.llm_cache_mode!r}")
        if self.pivot_metric == "msr" and not self.prediction_market:
            raise ValueError(
                "pivot_metric: 'msr' (market-scoring earnings) needs prediction_market=true"
            )
        if is_graph(self.network) and self.network.number_of_nodes() != self.n_teams:
            raise ValueError("network: the graph must have exactly n_teams nodes")
        return self

    def transition_matrix(self) -> np.ndarray:
        """Return the demand-regime transition matrix (given, or built from the persistence)."""
        if self.demand_transition is not None:
            return np.asarray(self.demand_transition, dtype=float)
        n = len(self.demand_states)
        if n == 1:
            return np.ones((1, 1))
        # Leaving the regime moves to an adjacent one: regimes are ordered from low to high.
        m = np.eye(n) * self.demand_persistence
        for i in range(n):
            nbrs = [j for j in (i - 1, i + 1) if 0 <= j < n]
            for j in nbrs:
                m[i, j] = (1 - self.demand_persistence) / len(nbrs)
        return m


def check_correlation(rho: float, n_indices: int) -> None:
    """Raise ``ValueError`` unless the equicorrelation matrix of ``rho`` has a Cholesky factor.

    Its eigenvalues are ``1 - rho`` and ``1 + (K - 1) rho``, so rho must be > -1/(K-1); the
    factorisation is tried as the index process does it, so rounding at the edge is caught too.
    """
    if n_indices < 2:
        return
    corr = np.full((n_indices, n_indices), rho)
    np.fill_diagonal(corr, 1.0)
    try:
        np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"index_correlation: must be > {-1.0 / (n_indices - 1):.4g} for {n_indices} "
            f"indices (else the correlation matrix is not positive definite; got {rho!r})"
        ) from None


def check_transition_matrix(rows: Any, n_states: int) -> None:
    """Raise ``ValueError`` unless ``rows`` is a square stochastic matrix of ``n_states`` rows."""
    if len(rows) != n_states or any(len(row) != n_states for row in rows):
        raise ValueError(
            f"demand_transition: must be {n_states} rows of {n_states} numbers "
            f"(one per demand state; got row lengths {[len(row) for row in rows]})"
        )
    m = np.asarray(rows, dtype=float)
    if m.shape != (n_states, n_states):
        raise ValueError(f"demand_transition: must be {n_states}x{n_states}, got {m.shape}")
    if (m < 0).any() or not np.allclose(m.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError("demand_transition: entries must be >= 0 and every row must sum to 1")


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "parameters"
    msg = first.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        return f"unknown parameter '{loc}' (see `llm-market params` for the list)"
    got = first.get("input")
    got_txt = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    if msg.split(":", 1)[0] in Params.model_fields:
        return f"{msg}{got_txt}"
    return f"{loc}: {msg.lower() if msg[:1].isupper() and msg[1:2].islower() else msg}{got_txt}"


def make_params(scenario: str = "default", **overrides: Any) -> Params:
    """Build validated parameters from a scenario preset and explicit overrides.

    Args:
        scenario: Name of a preset in :data:`SCENARIOS`.
        **overrides: Parameter values that replace the preset's.

    Returns:
        The validated, frozen parameters.

    Raises:
        ParameterError: A parameter is unknown or a value is out of range.
    """
    if not isinstance(scenario, str) or scenario not in SCENARIOS:
        raise ParameterError(
            f"scenario: unknown {scenario!r}, choose one of {', '.join(SCENARIOS)}"
        )
    values = dict(SCENARIOS[scenario][1])
    values.update(overrides)
    try:
        return Params(**values)
    except ValidationError as err:
        raise ParameterError(_format_error(err)) from None


def describe_parameters() -> list[tuple[str, Any, str]]:
    """Return ``(name, default, description)`` for every parameter, in declaration order."""
    rows = []
    for name, field in Params.model_fields.items():
        rows.append((name, field.default, field.description or ""))
    return rows
