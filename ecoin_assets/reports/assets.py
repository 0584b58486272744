"""Dagster assets of the reports domain: one report per coin (after its new forecasts) and one
per topic (daily)."""

import dagster as dg

from ecoin_assets.analysis.assets import finance_features, model_comparison
from ecoin_assets.automation import DAILY_REPORTS_CRON, after_new, on_new_posts
from ecoin_assets.dagster_shared import coin_partitions, per_coin_prices
from ecoin_assets.forecasting.assets import forecast_backtest, price_forecasts
from ecoin_assets.reports.render import Rendered, render_coin_report, render_sentiment_report
from ecoin_assets.resources import EcoinSettings
from ecoin_assets.sentiment.assets import post_sentiment
from ecoin_assets.tweets.assets import topic_partitions, x_posts


def _metadata(rendered: Rendered) -> dict:
    return {
        "html": dg.MetadataValue.path(str(rendered.html)),
        "notebook": dg.MetadataValue.path(str(rendered.notebook)),
        "window": f"{rendered.parameters['start']} to {rendered.parameters['end']}",
        "plots": rendered.images,
        "seconds": round(rendered.seconds, 1),
    }


@dg.asset(
    partitions_def=coin_partitions,
    deps=[per_coin_prices, finance_features, price_forecasts, forecast_backtest, model_comparison],
    automation_condition=after_new("price_forecasts"),
    group_name="reports",
    kinds={"jupyter", "matplotlib"},
    description=(
        "The coin report over the last 365 days (notebooks/coin_report.ipynb, run with "
        "papermill): prices of the last 30 days, risk classes, monthly analyses, the 7-day "
        "forecast with its interval, the three models' backtests and the sentiment-price "
        "correlation; $ECOIN_HOME/reports/coin/<coin>.html and .ipynb."
    ),
)
def coin_report(context: dg.AssetExecutionContext, settings: EcoinSettings) -> dg.MaterializeResult:
    rendered = render_coin_report(settings.resolve(), context.partition_key)
    return dg.MaterializeResult(metadata=_metadata(rendered))


@dg.asset(
    partitions_def=topic_partitions,
    deps=[x_posts, post_sentiment],
    automation_condition=on_new_posts(DAILY_REPORTS_CRON),
    group_name="reports",
    kinds={"jupyter", "matplotlib"},
    description=(
        "The sentiment report of a topic over the last 7 days "
        "(notebooks/sentiment_report.ipynb, run with papermill): volume and sentiment over "
        "time, label shares, the most positive and negative posts, frequent words and emoji; "
        "$ECOIN_HOME/reports/sentiment/<topic>.html and .ipynb."
    ),
)
def sentiment_report(
    context: dg.AssetExecutionContext, settings: EcoinSettings
) -> dg.MaterializeResult:
    rendered = render_sentiment_report(settings.resolve(), context.partition_key)
    return dg.MaterializeResult(metadata=_metadata(rendered))


report_assets = [coin_report, sentiment_report]
coin_report_job = dg.define_asset_job("coin_report_job", selection=[coin_report])
sentiment_report_job = dg.define_asset_job("sentiment_report_job", selection=[sentiment_report])


def materialize_reports(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    coins: list[str],
    topics: list[str],
    run_config: dict | None = None,
) -> list[tuple[str, str, dg.ExecuteInProcessResult]]:
    """Render each coin's and each topic's report through its job (one run per partition):
    `(kind, coin or topic, result)`; a result's metadata holds the HTML path."""
    known = set(instance.get_dynamic_partitions(topic_partitions.name))
    if missing := [t for t in topics if t not in known]:  # the sensor may not have run yet
        instance.add_dynamic_partitions(topic_partitions.name, missing)
    runs = []
    for kind, job_name, keys in (
        ("coin", "coin_report_job", coins),
        ("sentiment", "sentiment_report_job", topics),
    ):
        job = defs.resolve_job_def(job_name)
        for key in keys:
            result = job.execute_in_process(
                partition_key=key, instance=instance, run_config=run_config, raise_on_error=False
            )
            runs.append((kind, key, result))
    return runs
