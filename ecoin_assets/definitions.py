"""The one Dagster code location (`dagster dev -w workspace.yaml`).

Each domain owns its definitions (`<domain>/definitions.py`: assets, checks, jobs, sensors);
this module only merges them, adds the automation sensor that runs every asset by its
condition (`automation.py`) and binds the resources they share, all built on one
`EcoinSettings` read from the environment here (resources.py). `Definitions.merge` keeps
each domain's file the one place to look, and fails loudly on a name defined twice.
"""

from collections.abc import Mapping

import dagster as dg

from ecoin_assets.analysis import definitions as analysis
from ecoin_assets.automation import automation_sensor
from ecoin_assets.forecasting import definitions as forecasting
from ecoin_assets.prices import definitions as prices
from ecoin_assets.reports import definitions as reports
from ecoin_assets.resources import build_resources
from ecoin_assets.sentiment import definitions as sentiment
from ecoin_assets.tweets import definitions as tweets


def build_defs(env: Mapping[str, str] | None = None) -> dg.Definitions:
    """Every domain's definitions with the resources built once from `env` (default: the
    process environment). Tests that change the environment build their own."""
    return dg.Definitions.merge(
        prices.defs,
        forecasting.defs,
        analysis.defs,
        tweets.defs,
        sentiment.defs,
        reports.defs,
        dg.Definitions(sensors=[automation_sensor], resources=build_resources(env)),
    )


# the domains' modules, not their `defs`: one Definitions object at module scope, as a code
# location requires
defs = build_defs()
