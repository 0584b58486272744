"""The CLI's words for what mends an error: each `Remedy` as the command to run."""

from __future__ import annotations

from ecoin_assets.errors import Remedy, UserError

HINTS: dict[Remedy, str] = {
    Remedy.COLLECT_DATA: "collect data first with 'ecoin demo', or 'ecoin prices fetch' and "
    "'ecoin tweets ingest'",
    Remedy.FETCH_PRICES: "fetch them with 'ecoin prices fetch --coin {coin} --start 2022-01-01'",
    Remedy.FETCH_HISTORY: "fetch more history with 'ecoin prices fetch --coin {coin} "
    "--start 2019-01-01'",
    Remedy.FETCH_HOURLY_PRICES: "fetch some with 'ecoin prices fetch-hourly --coin {coin} "
    "--days 7'",
    Remedy.TRAIN_FORECAST: "train one with 'ecoin forecast train --coin {coin}{horizon_option}'",
    Remedy.ISSUE_PAST_FORECASTS: "issue past forecasts with 'ecoin forecast history --coin "
    "{coin} --start <date>', or wait for the stored ones to come due",
    Remedy.TRAIN_SENTIMENT: "retrain the model with 'ecoin sentiment train'",
    Remedy.INGEST_POSTS: "ingest some with 'ecoin tweets ingest' or 'ecoin tweets stream'",
    Remedy.ADD_TOPIC: "follow it with 'ecoin topics add \"{topic}\"'",
    Remedy.FOLLOW_TOPICS: "give --topic, or add one with 'ecoin topics add NAME --query Q'",
    Remedy.LIST_ALERTS: "'ecoin alerts list' shows them",
}


def hint(error: UserError) -> str | None:
    """The command that mends `error`, or None when it names no remedy."""
    if error.remedy is None:
        return None
    details = {"coin": "<coin>", "topic": "<topic>", **error.details}
    horizon = details.get("horizon")
    details["horizon_option"] = f" --horizon {horizon}" if horizon else ""
    return HINTS[error.remedy].format(**details)


def one_line(error: UserError) -> str:
    """`error` as the CLI prints it: the message, then the hint."""
    found = hint(error)
    return f"{error}; {found}" if found else str(error)
