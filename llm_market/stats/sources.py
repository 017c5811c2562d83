"""Price series to analyse: a run, a sweep, a CSV of dated prices or the S&P 500 sample.

:func:`load_source` reads SOURCE into a :class:`PriceSource`, one price array per series:

* a **run directory** (what ``llm-market run`` writes): the goods' closing prices ``price_k`` from
  ``model.parquet``, or the index levels ``index_k`` with ``series="index"``;
* a **sweep directory**: every ``runs/*/model.parquet`` below it (one run per seed), pooled;
* a **CSV file** of dated prices: a date column and a price column (``Adj Close``, ``Close``,
  ``price``, ... or a named one);
* the word ``sp500``: the S&P 500 daily sample 1999-2018 that ships with ``arch``.

Each good of each run is its own series: returns never cross from one good or seed to the next
(see :func:`~.facts.stylized_facts` for how series are pooled). The burn-in drops the first N
steps of every run, which skips the model's start-up transient (markups and the price level
finding their feet); it defaults to 100 for runs and sweeps and 0 for price files.
:func:`compute` gives a source's stylized facts (``viz.facts_report.write_facts`` writes them).

Only the standard library and NumPy are imported at module level: the command line imports this
module to build its parser, and that must stay fast.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..recording.columns import INDEX, PRICE, good_column

if TYPE_CHECKING:
    # Only annotations here: numpy (and pandas) are imported where the data are read, so that
    # the command line's parser, which reads this module's names, starts quickly.
    import numpy as np

# Fewer returns than this cannot say anything about tails or about autocorrelations up to lag 50.
MIN_RETURNS = 100
DEFAULT_RUN_BURN_IN = 100
SP500 = "sp500"
# Price columns tried in this order (case-insensitive, spaces/underscores/dashes ignored).
PRICE_COLUMNS = ("adjclose", "adjustedclose", "close", "price", "last", "pxlast", "value")
DATE_COLUMNS = ("date", "datetime", "timestamp", "time", "day")
# What `series` may name: the goods' prices or the index levels, and the columns read for it.
SERIES = {"price": PRICE, "index": INDEX}


@dataclass
class PriceSource:
    """Price series read from one SOURCE, ready for :func:`~.facts.stylized_facts`.

    Attributes:
        name: What the user gave (a path or ``sp500``).
        kind: ``"run"``, ``"sweep"``, ``"csv"`` or ``"sp500"``.
        series: One price array per (run, good), or one for a price file.
        labels: A label per series, such as ``runs/seed_3:price_1``.
        default_out: Where the outputs go when ``--out`` is not given.
        column: The column(s) read.
        burn_in: Observations dropped at the start of every series.
        notes: Things the user should know (for example, pooled runs that differ in parameters).
    """

    name: str
    kind: str
    series: list[np.ndarray]
    labels: list[str]
    default_out: Path
    column: str
    burn_in: int
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description of where the returns came from."""
        return {
            "source": self.name,
            "kind": self.kind,
            "column": self.column,
            "burn_in": self.burn_in,
            "n_series": len(self.series),
            "labels": self.labels,
            "notes": self.notes,
        }


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def read_model_frame(path: Path) -> Any:
    """Read one run's ``model.parquet``.

    Raises:
        UsageError: The file cannot be read as Parquet.
    """
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a damaged or foreign file
        raise UsageError(f"{path}: not a readable Parquet file ({type(err).__name__})") from None


def series_label(series: str) -> str:
    """The columns a run's ``series`` is read from, for messages: ``"price_k"``."""
    return good_column(SERIES[series], "k")  # "k" stands for any good's number


def run_series(
    frame: Any, series: str, burn_in: int, where: str
) -> tuple[list[np.ndarray], list[str]]:
    """Split one run's collected data into one price array per good, after the burn-in.

    Args:
        frame: The run's ``model.parquet`` as a DataFrame.
        series: ``"price"`` for the goods' closes ``price_k``, ``"index"`` for ``index_k``.
        burn_in: Steps dropped at the start.
        where: The file, for messages and labels.

    Returns:
        The arrays and their labels, in good order.

    Raises:
        UsageError: The file has no such columns.
    """
    name = SERIES[series]
    # The model records goods 0 .. n_goods - 1 (see recording.columns.good_columns).
    present = set(frame.columns)
    cols = list(
        itertools.takewhile(present.__contains__, (good_column(name, k) for k in itertools.count()))
    )
    if not cols:
        raise UsageError(
            f"{where}: no {series_label(series)} columns (is it a model.parquet of llm-market?)"
        )
    return [frame[c].to_numpy(dtype=float)[burn_in:] for c in cols], [f"{where}:{c}" for c in cols]


def _sweep_files(path: Path) -> list[Path]:
    files = sorted(path.glob("runs/*/model.parquet"))
    # Also accept a folder of run folders, which is what several `run --out` calls produce.
    return files or sorted(path.glob("*/model.parquet"))


def _differing_parameters(files: list[Path]) -> list[str]:
    # Pooling seeds is the point; pooling different parameters is probably a mistake: say so.
    seen: dict[str, set[str]] = {}
    for f in files:
        summary = f.parent / "summary.json"
        if not summary.is_file():
            continue
        try:
            params = json.loads(summary.read_text()).get("parameters", {})
        except (json.JSONDecodeError, OSError):
            continue
        for key, value in params.items():
            seen.setdefault(key, set()).add(json.dumps(value, sort_keys=True))
    return sorted(k for k, v in seen.items() if len(v) > 1 and k != "seed")


def load_directory(path: Path, series: str, burn_in: int | None) -> PriceSource:
    """Load a run directory or a sweep directory.

    Args:
        path: The directory.
        series: ``"price"`` or ``"index"``.
        burn_in: Steps dropped at the start of each run (None: the default for runs).

    Returns:
        The series, one per good and run.

    Raises:
        UsageError: The directory holds no run.
    """
    burn = DEFAULT_RUN_BURN_IN if burn_in is None else burn_in
    if (path / "model.parquet").is_file():
        kind, files = "run", [path / "model.parquet"]
    else:
        kind, files = "sweep", _sweep_files(path)
    if not files:
        raise UsageError(
            f"{path}: no model.parquet (a run directory) or runs/*/model.parquet "
            "(a sweep directory) in it"
        )
    arrays: list[np.ndarray] = []
    labels: list[str] = []
    for f in files:
        where = str(f.parent.relative_to(path)) if kind == "sweep" else "."
        a, lab = run_series(read_model_frame(f), series, burn, where)
        arrays += a
        labels += lab
    notes = []
    differ = _differing_parameters(files) if kind == "sweep" else []
    if differ:
        notes.append(f"pooled runs differ in parameters: {', '.join(differ)}")
    return PriceSource(str(path), kind, arrays, labels, path, series_label(series), burn, notes)


def pick_columns(columns: list[str], column: str | None, where: str) -> tuple[str | None, str]:
    """Choose the date column (if any) and the price column of a table.

    Args:
        columns: The table's column names.
        column: The price column the user asked for, or None to detect it.
        where: The file, for messages.

    Returns:
        ``(date column or None, price column)``.

    Raises:
        UsageError: The requested column is missing or no price column can be found.
    """
    by_norm = {_norm(c): c for c in reversed(columns)}
    date = next((by_norm[d] for d in DATE_COLUMNS if d in by_norm), None)
    if column is not None:
        if column in columns:
            return date, column
        if _norm(column) in by_norm:
            return date, by_norm[_norm(column)]
        raise UsageError(f"{where}: no column {column!r} (columns: {', '.join(columns)})")
    for name in PRICE_COLUMNS:
        if name in by_norm:
            return date, by_norm[name]
    raise UsageError(
        f"{where}: no price column (looked for Adj Close, Close, price, ...; columns: "
        f"{', '.join(columns)}); choose one with --column NAME"
    )


def read_csv_file(path: Path) -> Any:
    """A user's CSV as a DataFrame, or :class:`UsageError` saying why it cannot be read."""
    import pandas as pd

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"{path}: not a readable CSV ({reason})") from None


def load_csv(path: Path, column: str | None = None, burn_in: int | None = None) -> PriceSource:
    """Load a CSV of dated prices, sorted by date when a date column is found.

    Args:
        path: The CSV file.
        column: The price column (None: detect ``Adj Close``, ``Close``, ``price``, ...).
        burn_in: Rows dropped at the start (None: 0).

    Returns:
        One price series.

    Raises:
        UsageError: The file is missing, unreadable, or has no usable price column.
    """
    import numpy as np
    import pandas as pd

    frame = read_csv_file(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    date, col = pick_columns(list(frame.columns), column, str(path))
    if date is None and frame.shape[1] > 1 and frame.columns[0] != col:
        # An unnamed first column is often the dates (a DataFrame saved with its index).
        date = frame.columns[0]
    prices = pd.to_numeric(frame[col], errors="coerce")
    if prices.notna().sum() == 0:
        raise UsageError(f"{path}: column {col!r} has no numbers")
    if date is not None:
        when = pd.to_datetime(frame[date], errors="coerce", format="mixed")
        if when.notna().mean() > 0.9:
            # Files are often newest first (downloads from data vendors): order by date.
            order = np.argsort(when.to_numpy(), kind="stable")
            prices = prices.iloc[order]
    burn = 0 if burn_in is None else burn_in
    out = path.parent / f"{path.stem}_facts"
    series = [prices.to_numpy(dtype=float)[burn:]]
    return PriceSource(str(path), "csv", series, [col], out, col, burn)


def load_sp500(burn_in: int | None = None) -> PriceSource:
    """Load the S&P 500 daily sample (1999-2018) shipped with the ``arch`` package.

    Raises:
        UsageError: ``arch`` is not installed.
    """
    try:
        from arch.data import sp500
    except ImportError:
        raise UsageError("sp500: needs the arch package (pip install arch)") from None
    frame = sp500.load()
    burn = 0 if burn_in is None else burn_in
    prices = frame["Adj Close"].to_numpy(dtype=float)[burn:]
    span = f"{frame.index[0]:%Y-%m-%d} to {frame.index[-1]:%Y-%m-%d}"
    return PriceSource(
        SP500,
        "sp500",
        [prices],
        [f"S&P 500 Adj Close {span}"],
        Path("runs") / SP500,
        "Adj Close",
        burn,
    )


def load_source(
    source: str, series: str = "price", column: str | None = None, burn_in: int | None = None
) -> PriceSource:
    """Read the price series of SOURCE: a run or sweep directory, a CSV file or ``sp500``.

    Args:
        source: The path, or ``"sp500"``.
        series: For run and sweep directories, ``"price"`` (goods) or ``"index"`` (indices).
        column: For a CSV, the price column (None: detect it).
        burn_in: Observations dropped at the start of each series (None: the default).

    Returns:
        The :class:`PriceSource`.

    Raises:
        UsageError: The source does not exist or holds no usable prices.
    """
    if burn_in is not None and burn_in < 0:
        raise UsageError(f"--burn-in: must be >= 0 (got {burn_in})")
    if series not in SERIES:
        raise UsageError(f"--series: must be one of {', '.join(SERIES)} (got {series!r})")
    # The bare word is the sample even if a folder has that name; `./sp500` is the folder.
    if source == SP500:
        return load_sp500(burn_in)
    path = Path(source)
    if path.is_dir():
        if column is not None:
            raise UsageError("--column applies to CSV files; for runs use --series")
        return load_directory(path, series, burn_in)
    if series != "price":
        raise UsageError("--series applies to run and sweep directories; for a CSV use --column")
    if not path.exists():
        raise UsageError(f"{source}: no such file or directory")
    return load_csv(path, column, burn_in)


def count_returns(series: list[np.ndarray]) -> int:
    """Number of finite log returns the series give (returns never cross two series)."""
    from .facts import log_returns

    return int(sum(log_returns(s).size for s in series))


def compute(src: PriceSource, fit_garch: bool = True) -> Any:
    """Compute the stylized-facts report of a source.

    Raises:
        UsageError: Fewer than :data:`MIN_RETURNS` returns are left after the burn-in.
    """
    from .facts import stylized_facts

    n = count_returns(src.series)
    if n < MIN_RETURNS:
        after = f" after a burn-in of {src.burn_in}" if src.burn_in else ""
        raise UsageError(
            f"{src.name}: only {n} returns{after}, the facts need at least {MIN_RETURNS}"
        )
    return stylized_facts(src.series, kind="prices", fit_garch=fit_garch)
