"""A deadline for each HTTP request to arrive whole, head and body (slow-loris, attack10).

uvicorn times out only an idle keep-alive connection, and only once a response was sent: a
connection that sends nothing, or its request head or body a byte at a time, held a socket
and its buffers for as long as the client liked (each byte cancels the keep-alive timer).
Enough such connections from one client use up the gateway's file descriptors, and every
other client is refused. Here each request must arrive within `deadline` seconds of its first
byte (or of the connection's opening): otherwise the connection is closed with a log line.
A request that arrived is never cut while it is answered, and a websocket, once upgraded,
is no longer this protocol's (its pings and the token's expiry govern it)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 30.0  # seconds: a 256 KiB body at ~9 KB/s still makes it
SLOWEST_LINK = 9_000  # bytes per second a legitimate client is given time for


def deadline_for(max_body_bytes: int) -> float:
    """The deadline for a gateway that accepts bodies up to `max_body_bytes`: a body limit
    raised by the operator (GT_MAX_BODY_BYTES) raises it too, so a legitimate upload of that
    size on a slow link is not cut off (review13)."""
    return max(DEFAULT_DEADLINE, max_body_bytes / SLOWEST_LINK)


class RequestDeadline(HttpToolsProtocol):
    deadline: float = DEFAULT_DEADLINE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._arm()  # a request begins (or goes on): the clock runs from its first byte
        super().data_received(data)
        if self.transport.get_protocol() is not self:  # upgraded to a websocket
            self._disarm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # arrived whole: answered however long that takes

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.deadline, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete and not self.cycle.more_body:
            self._arm()  # a request being answered (pipelined bytes came meanwhile)
            return
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.warning(
                "closed the connection of %s: its request did not arrive within %.0f s",
                client,
                self.deadline,
            )
            self.transport.close()


def with_deadline(seconds: float) -> type[RequestDeadline]:
    """The protocol class for uvicorn's `http` setting, with its deadline."""
    return type("RequestDeadline", (RequestDeadline,), {"deadline": seconds})
