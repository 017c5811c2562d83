"""Views: the app's charts and the static run report.

Each of the app's views is a :class:`~.chart.Chart` in a module named after what it shows:
:mod:`.market` (prices and volumes), :mod:`.daymarket` (a day's supply and demand),
:mod:`.book` (order-book depth and spread), :mod:`.indices`
(indices and the open questions), :mod:`.forecasts` (Brier leaderboard and reliability),
:mod:`.budgets`, :mod:`.efficiency`, :mod:`.facts` (stylized facts of returns) and :mod:`.graph`
(the social graph). They share :mod:`.style` (colours, axes, round limits), :mod:`.series`
(the model's collected series as arrays) and :mod:`.chart` (the cached figure they are built
on). :mod:`.headline` has the numbers above the views, and :mod:`.report` the one-page picture
and the files of a finished run; :mod:`.runs` the app's record of earlier runs.

Every view has a one-shot function (``market_figure(model)`` and its siblings) that builds and
draws its chart in one call, for notebooks and tests; render one with :func:`figure_png`.
"""

from .book import DepthChart, SpreadChart, depth_figure, depth_rows, spread_figure
from .budgets import BudgetChart, budget_figure
from .chart import Chart, figure_png
from .daymarket import MarketDayChart, classroom_comparison, market_day_figure
from .efficiency import EfficiencyChart, efficiency_figure
from .facts import FactsChart, facts_figure
from .forecasts import ForecastChart, forecast_figure
from .graph import COLOR_BY, GraphChart, graph_figure
from .headline import headline
from .index_market import IndexMarketChart, index_market_figure
from .indices import IndicesChart, indices_figure
from .market import MarketChart, market_figure

__all__ = [
    "COLOR_BY",
    "BudgetChart",
    "Chart",
    "DepthChart",
    "EfficiencyChart",
    "FactsChart",
    "ForecastChart",
    "GraphChart",
    "IndexMarketChart",
    "IndicesChart",
    "MarketChart",
    "MarketDayChart",
    "SpreadChart",
    "budget_figure",
    "depth_figure",
    "depth_rows",
    "efficiency_figure",
    "facts_figure",
    "figure_png",
    "forecast_figure",
    "graph_figure",
    "headline",
    "index_market_figure",
    "indices_figure",
    "classroom_comparison",
    "market_day_figure",
    "market_figure",
    "spread_figure",
]
