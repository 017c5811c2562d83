"""The browser app, for ``solara run app.py`` from a checkout.

The app's code is package data, :mod:`llm_market.viz.app`, so that an installed wheel can start it
with ``llm-market app``; this file only re-exports it (``Page`` is what Solara looks for).
"""

from llm_market.viz.app import *  # noqa: F403
from llm_market.viz.app import Page  # noqa: F401  (named for readers: Solara serves Page)
