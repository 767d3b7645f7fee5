"""How every long-running part connects to NATS: patient at connect, one line per failed try.

nats-py's defaults are a 2 s connect timeout and an error callback that logs each failed
attempt with its traceback ("nats: encountered error"). Under load (several processes
importing and connecting at once on a busy machine) a connect misses 2 s; nats-py then
retries, so nothing is lost, but the traceback on stderr reads as a crash (the make-run tests
reject any). The gateway and projector processes connect with these same options.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("eventstore.nats")

# Seconds a server has to answer a connect (its INFO, then the PONG to our PING).
CONNECT_TIMEOUT = 5


def quiet_errors(name: str) -> Callable[[Exception], Awaitable[None]]:
    """An `error_cb` logging one warning line per error, no traceback."""

    async def said(exc: Exception) -> None:
        log.warning("%s: NATS: %s: %s", name, type(exc).__name__, exc)

    return said
