"""``python -m llm_market.cli``: the same as the ``llm-market`` command."""

import sys

from llm_market.cli import main

sys.exit(main())
