"""``python -m heroes_core.costs.cloud_prices refresh``: the price refresh command."""

import sys

from heroes_core.costs.cloud_prices.cli import main

sys.exit(main())
