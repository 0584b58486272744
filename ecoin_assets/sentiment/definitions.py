"""The sentiment domain's Dagster definitions."""

import dagster as dg

from ecoin_assets.sentiment.assets import sentiment_assets, sentiment_job

defs = dg.Definitions(assets=sentiment_assets, jobs=[sentiment_job])
