"""Quiet the log when a browser tab goes away mid-update.

The dashboard pushes updates every few seconds. When a tab closes while a push is in flight,
tornado's write to the closed websocket fails inside a task nobody awaits, and asyncio logs it
as "Task exception was never retrieved" with two tracebacks: noise that hides real errors in
the dashboard's log. This handler drops exactly those (closed websocket or stream) and passes
everything else on unchanged.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

_CLOSED = (WebSocketClosedError, StreamClosedError)
_installed: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def ignore_closed_websockets(loop: asyncio.AbstractEventLoop) -> None:
    """Install the handler on `loop` (once; a second call changes nothing)."""
    if loop in _installed:
        return
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), _CLOSED):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    _installed.add(loop)
