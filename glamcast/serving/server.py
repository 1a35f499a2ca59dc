"""The HTTP server `glamcast serve` runs: uvicorn, with server-side timeouts for slow clients.

uvicorn (0.55) closes an idle keep-alive connection after `timeout_keep_alive`, but arms that
timer only after a response: a connection that opens and sends nothing, or sends part of its
headers, is held for ever, and it has no limit on how long a body may take. Two additions:

- `header_timeout_protocol`: uvicorn's HTTP protocol (httptools or h11, as uvicorn picks) with
  a timer from the moment a connection opens, or a new request's first byte arrives, until its
  headers are complete; when it fires the connection is closed (`api_header_timeout_s`).
- `BodyTimeout`: ASGI middleware that answers 408 (`Connection: close`) when a request's body has
  not arrived in full within `api_body_timeout_s` of its headers.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle, Transport
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from glamcast.core.settings import Settings


class BodyTimeout:
    """ASGI middleware: a body must arrive in full within `timeout_s` of the request's headers;
    otherwise the read raises HTTPException 408 (the app answers it, the connection closes)."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:  # after the body: waits for the disconnect, however long
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"request body not received within {self.timeout_s:g} s",
                    headers={"Connection": "close"}) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


def header_timeout_protocol(timeout_s: float,
                            base: type[asyncio.Protocol] = AutoHTTPProtocol) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (`base`: httptools' when installed, else h11's), closing
    connections whose request headers take longer than `timeout_s` (from the connection's
    start, or from the first byte of a next request)."""
    parent: Any = base

    class HeaderTimeoutProtocol(parent):  # type: ignore[misc, valid-type]
        _header_timer: TimerHandle | None = None

        def _awaiting_headers(self) -> bool:
            cycle = self.cycle
            return cycle is None or cycle.response_complete

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(timeout_s, self._headers_timed_out)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_timed_out(self) -> None:
            self._header_timer = None
            if self._awaiting_headers() and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            previous = self.cycle
            if self._awaiting_headers():
                self._arm()  # a first byte of the next request: its headers are timed
            super().data_received(data)
            if self.cycle is not previous and not self._awaiting_headers():
                self._disarm()  # headers complete: the body is BodyTimeout's

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def serve(app: ASGIApp, settings: Settings, host: str, port: int) -> None:
    """Run `app` (`glamcast.serving.app.create_app`) under uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, log_level="info",
        http=header_timeout_protocol(settings.api_header_timeout_s),
        timeout_keep_alive=settings.api_keep_alive_timeout_s,
        h11_max_incomplete_event_size=64 * 1024,  # h11 only: bytes of headers before a 400
    )
