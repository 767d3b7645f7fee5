"""Streams and subjects as code: every subject the system uses is built here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BoundedContext:
    name: str  # lower case, first subject token
    stream: str  # JetStream stream name

    @property
    def event_subjects(self) -> str:
        return f"{self.name}.events.>"

    def event_subject(self, aggregate_type: str, aggregate_id: str, event_type: str) -> str:
        return f"{self.name}.events.{aggregate_type}.{aggregate_id}.{event_type}"

    def aggregate_filter(self, aggregate_type: str, aggregate_id: str) -> str:
        return f"{self.name}.events.{aggregate_type}.{aggregate_id}.*"

    def aggregate_type_filter(self, aggregate_type: str) -> str:
        return f"{self.name}.events.{aggregate_type}.*.*"

    def command_subject(self, command_type: str) -> str:
        return f"{self.name}.commands.{command_type}"

    @property
    def command_subjects(self) -> str:
        return f"{self.name}.commands.*"


REGISTRY = BoundedContext("registry", "REGISTRY")
ENROLMENT = BoundedContext("enrolment", "ENROLMENT")
NOTIFIER = BoundedContext("notifier", "NOTIFIER")

CONTEXTS: dict[str, BoundedContext] = {c.name: c for c in (REGISTRY, ENROLMENT, NOTIFIER)}

# Durable record of processed command ids (outlives the broker's 2-minute dedup window).
PROCESSED_COMMANDS_BUCKET = "processed-commands"


def parse_event_subject(subject: str) -> tuple[str, str, str, str]:
    """Split `<context>.events.<aggregate_type>.<aggregate_id>.<event_type>`."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[1] != "events":
        raise ValueError(f"not an event subject: {subject!r}")
    return parts[0], parts[2], parts[3], parts[4]
