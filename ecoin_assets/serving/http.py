"""HTTP details shared by the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from bentoml.validators import ContentType
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ecoin_assets.errors import UserError, error_body, http_status
from ecoin_assets.serving.analysis import UnknownSeriesError
from ecoin_assets.serving.forecasts import NotReadyError, UnknownCoinError

JSON = b"application/json"

Item = TypeVar("Item")
Answer = TypeVar("Answer")
# An API answer that is a list, with its media type declared: otherwise BentoML derives the
# media type from the list's JSON schema, generated anew for every response (measured: a
# tenth of a sentiment worker's CPU at 250 requests/s).
JsonList = Annotated[list[Item], ContentType("application/json")]


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def answer_or_error(read: Callable[[], Answer]) -> Answer | JSONResponse:
    """What `read()` answers, or its error as a JSON answer: an unknown coin or series 404,
    bad input 400 (as BentoML answers its own validation errors), no data yet 409, data that
    cannot be read right now 503."""
    try:
        return read()
    except (UnknownCoinError, UnknownSeriesError) as exc:
        return error_response(404, str(exc))
    except UserError as exc:
        return JSONResponse(error_body(exc), status_code=http_status(exc, invalid=400))
    except NotReadyError as exc:
        return error_response(503, str(exc))


class JsonBodiesOnly:
    """Answer 415 with a JSON reason to a POST whose body is declared as anything but JSON.

    The APIs take JSON only; BentoML would otherwise try the declared media type itself and
    answer a malformed one (e.g. multipart without a boundary) with a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            declared = dict(scope["headers"]).get(b"content-type", JSON)
            media = declared.split(b";")[0].strip().lower()
            if media != JSON:
                shown = media.decode("latin-1")
                response = error_response(
                    415, f"unsupported Content-Type {shown!r}: send application/json"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
