"""Exceptions that carry a message meant for the user, typed by meaning.

Domain code says what is wrong and, as a `Remedy`, what would mend it; it never words that as a
command. The CLI turns the remedy into a hint with the command to run (cli/hints.py), the HTTP
layers turn the type into a status code (404 not found, 409 no data yet, 422 invalid input,
503 unavailable) and return the remedy as a code.
"""

from __future__ import annotations

from enum import StrEnum


class Remedy(StrEnum):
    """What the user can do about an error; `UserError.details` fill in the specifics."""

    COLLECT_DATA = "collect_data"  # nothing stored yet at all
    FETCH_PRICES = "fetch_prices"  # details: coin
    FETCH_HISTORY = "fetch_history"  # details: coin; prices exist, too few days
    FETCH_HOURLY_PRICES = "fetch_hourly_prices"  # details: coin
    TRAIN_FORECAST = "train_forecast"  # details: coin, horizon (optional)
    ISSUE_PAST_FORECASTS = "issue_past_forecasts"  # details: coin
    TRAIN_SENTIMENT = "train_sentiment"
    INGEST_POSTS = "ingest_posts"
    ADD_TOPIC = "add_topic"  # details: topic
    FOLLOW_TOPICS = "follow_topics"  # none are tracked
    LIST_ALERTS = "list_alerts"


class UserError(Exception):
    """Bad input or a condition the user can fix; the message says what, `remedy` how."""

    def __init__(self, message: str, *, remedy: Remedy | None = None, **details: object):
        super().__init__(message)
        self.remedy = remedy
        self.details = details


class SourceError(UserError):
    """An upstream API failed in a way retries could not mend."""


class UnknownCoinError(UserError):
    """The API does not know the requested coin id."""


class PlanLimitError(UserError):
    """The API plan does not allow the requested range."""


class InvalidInputError(UserError):
    """A parameter that cannot be used as given (HTTP 422)."""


class NotFoundError(UserError):
    """The coin, topic or item asked for is unknown (HTTP 404)."""


class NoDataError(UserError):
    """Known, but nothing is stored for it yet (HTTP 409)."""


class UnavailableError(UserError):
    """A store or upstream service cannot answer now; trying again later may work (HTTP 503)."""


_STATUS = (
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (NoDataError, 409),
    (UnavailableError, 503),
)


def http_status(error: UserError, *, invalid: int = 422, other: int = 400) -> int:
    """The HTTP status that says what `error` means: 404 not found, 409 no data yet, 503
    unavailable, `invalid` for invalid input, `other` for a user error of no type."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return invalid if status == 422 else status
    return other


def error_body(error: UserError) -> dict[str, str]:
    """The JSON an HTTP layer answers for `error`: its message and, if any, its remedy."""
    body = {"error": str(error)}
    if error.remedy is not None:
        body["remedy"] = error.remedy.value
    return body
