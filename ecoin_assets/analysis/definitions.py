"""The analysis domain's Dagster definitions."""

import dagster as dg

from ecoin_assets.analysis.assets import (
    analysis_coin_assets,
    correlation_job,
    sentiment_price_correlation,
)

defs = dg.Definitions(
    assets=[*analysis_coin_assets, sentiment_price_correlation], jobs=[correlation_job]
)
