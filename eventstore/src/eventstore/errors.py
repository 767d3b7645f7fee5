"""Typed failures of the event store."""

from __future__ import annotations


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
