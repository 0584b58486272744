"""The one Dagster code location (`dagster dev -w workspace.yaml`).

Each domain owns its definitions (`<domain>/definitions.py`: assets, checks, jobs, sensors);
this module only merges them, adds the automation sensor that runs every asset by its
condition (`automation.py`) and binds the resources they share. `Definitions.merge` keeps
each domain's file the one place to look, and fails loudly on a name defined twice.
"""

import dagster as dg

from ecoin_assets.analysis import definitions as analysis
from ecoin_assets.automation import automation_sensor
from ecoin_assets.forecasting import definitions as forecasting
from ecoin_assets.prices import definitions as prices
from ecoin_assets.reports import definitions as reports
from ecoin_assets.resources import CoinGeckoResource, EcoinStore, XResource
from ecoin_assets.sentiment import definitions as sentiment
from ecoin_assets.tweets import definitions as tweets

# the domains' modules, not their `defs`: one Definitions object at module scope, as a code
# location requires
defs = dg.Definitions.merge(
    prices.defs,
    forecasting.defs,
    analysis.defs,
    tweets.defs,
    sentiment.defs,
    reports.defs,
    dg.Definitions(
        sensors=[automation_sensor],
        resources={"store": EcoinStore(), "coingecko": CoinGeckoResource(), "x": XResource()},
    ),
)
