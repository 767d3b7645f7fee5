"""Typed failures of the event store."""

from __future__ import annotations

import nats.errors
from nats.js.errors import NotFoundError, ServiceUnavailableError


class EventStoreError(Exception):
    pass


class ConcurrencyConflict(EventStoreError):
    """The aggregate moved on since it was loaded (JetStream error 10071)."""

    def __init__(self, subject_filter: str, expected_seq: int, detail: str) -> None:
        super().__init__(
            f"concurrency conflict on {subject_filter}: expected last sequence {expected_seq}"
            f" ({detail})"
        )
        self.subject_filter = subject_filter
        self.expected_seq = expected_seq


class AppendFailed(EventStoreError):
    def __init__(self, code: int | None, detail: str) -> None:
        super().__init__(f"append failed (err_code {code}): {detail}")
        self.code = code


class AlreadyAppended(EventStoreError):
    """The broker recognised the message ids: this command's events are already stored."""

    def __init__(self, command_id: str) -> None:
        super().__init__(f"events of command {command_id} were already appended")
        self.command_id = command_id


class StreamNotFound(EventStoreError, NotFoundError):
    """The context's stream was never created (`ensure_stream`): it has recorded nothing.

    Also a `nats.js.errors.NotFoundError`, which callers of the JetStream store caught before.
    """

    def __init__(self, stream: str) -> None:
        EventStoreError.__init__(self, f"no stream {stream}: call ensure_stream")
        NotFoundError.__init__(self, code=404, description="stream not found", stream=stream)

    def __str__(self) -> str:
        return str(self.args[0])


# ---- transient conditions: one retryable outcome ----
UNAVAILABLE = "UNAVAILABLE"
"""The reply code of a command that met a transient condition (a stream or key-value leader
being elected, a broker timeout, a stream with no responder for a moment) and did NOT store
anything we know of: send the same command again (same command id) after `retry_after`.
Commands are idempotent by command id, so a retry never writes twice."""
RETRY_AFTER_SECONDS = 0.5
# JetStream error codes that mean "not now" rather than "never": cluster not available,
# stream offline / leader unknown, peer not current, request timeout.
TRANSIENT_JS_CODES = frozenset({10008, 10118, 10074, 10075, 10076})


class Unavailable(EventStoreError):
    """A transient condition: the broker could not take or serve the request just now."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a condition that goes away by itself (election, timeout, reconnect)."""
    if isinstance(exc, Unavailable | TimeoutError | ServiceUnavailableError):
        return True
    if isinstance(exc, AppendFailed):
        return exc.code is None or exc.code in TRANSIENT_JS_CODES
    return isinstance(
        exc,
        nats.errors.NoRespondersError
        | nats.errors.ConnectionClosedError
        | nats.errors.ConnectionReconnectingError
        | nats.errors.StaleConnectionError
        | nats.errors.OutboundBufferLimitError,
    )
