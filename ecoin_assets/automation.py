"""When each asset runs: Dagster's declarative automation, evaluated by one sensor.

Only the sources run on a clock: the day's prices at 00:15 UTC and the hourly prices at :05.
Everything downstream runs because its inputs are new, and only once the blocking checks of
those inputs have passed (a failed price check leaves features, models, forecasts and reports
as they were, and their freshness policies then mark them stale). Training a sentiment model is
a person's decision (`ecoin sentiment train`), and posts arrive through the stream service, so
neither has a condition.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

AC = dg.AutomationCondition

DAILY_PRICES_CRON = "15 0 * * *"
HOURLY_PRICES_CRON = "5 * * * *"
DAILY_REPORTS_CRON = "30 1 * * *"

# Any input new since the asset last ran (or being requested in the same tick, so that a day's
# prices lead to one run per coin through features, model, forecasts and report), no input
# in progress, and every blocking check of the inputs passed. Unlike `eager()`, a missing
# input does not hold it back: `prices` has a partition per coin and day since 2019, and a
# coin listed later, a day the API skipped or an input nobody materializes on a clock (the
# post scores come from the stream service) would otherwise stop everything downstream.
AFTER_NEW_INPUTS = (
    AC.any_deps_updated().since_last_handled()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & AC.all_deps_blocking_checks_passed()
).with_label("after new inputs whose blocking checks passed")


def after_new(*inputs: str) -> dg.AutomationCondition:
    """As AFTER_NEW_INPUTS, but only these inputs' updates count (the others are read as they
    are): the coin report waits for the day's forecasts, not for the prices that lead to them."""
    return (
        AC.any_deps_updated().allow(dg.AssetSelection.assets(*inputs)).since_last_handled()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & AC.all_deps_blocking_checks_passed()
    ).with_label(f"after new {', '.join(inputs)}")


def on_clock(cron: str) -> dg.AutomationCondition:
    """A source: once per tick of `cron` (UTC), the latest time partition only."""
    return AC.on_cron(cron, "UTC")


def on_new_posts(cron: str) -> dg.AutomationCondition:
    """Posts flow continuously, so a digest of them is new at every tick of `cron`."""
    return (AC.cron_tick_passed(cron, "UTC").since_last_handled() & ~AC.in_progress()).with_label(
        f"on new posts ({cron} UTC)"
    )


def stale_after(hours: float, warn_hours: float | None = None) -> dg.FreshnessPolicy:
    """The asset is marked stale (failed) when not updated for `hours` (warning earlier)."""
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=hours),
        warn_window=timedelta(hours=warn_hours) if warn_hours is not None else None,
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates every asset's automation condition (ecoin_assets/automation.py).",
)
