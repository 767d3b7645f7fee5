"""Typed failures of the event store."""

from __future__ import annotations

from nats.js.errors import NotFoundError


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
