"""Exceptions that carry a message meant for the user (printed as one line by the CLI)."""


class UserError(Exception):
    """Bad input or a condition the user can fix; the message says what and how."""


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
