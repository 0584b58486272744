"""The reports domain's Dagster definitions."""

import dagster as dg

from ecoin_assets.reports.assets import coin_report_job, report_assets, sentiment_report_job

defs = dg.Definitions(assets=report_assets, jobs=[coin_report_job, sentiment_report_job])
