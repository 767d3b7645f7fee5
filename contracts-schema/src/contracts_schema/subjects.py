"""Streams and subjects as code: every subject the system uses is built here."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# Commands travel on `<context>.commands.<partition>.<CommandType>`, the partition a hash of
# the aggregate's id: each partition is served by one process of the service at a time, so
# one aggregate's commands meet one process and its warm cache (eventstore.partitions).
# `<context>.commands.<CommandType>` still works (any process; it may meet a stale cache).
COMMAND_PARTITIONS = 16


def command_partition(aggregate_id: str) -> int:
    """The partition of an aggregate's commands: stable across processes and releases."""
    return zlib.crc32(aggregate_id.encode()) % COMMAND_PARTITIONS


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
        """The unpartitioned subject: any process of the service takes the command."""
        return f"{self.name}.commands.{command_type}"

    def partitioned_command_subject(self, command_type: str, partition: int | str) -> str:
        return f"{self.name}.commands.{partition}.{command_type}"

    def partition_subjects(self, partition: int | str) -> str:
        """Every command of one partition (what its owning process subscribes)."""
        return f"{self.name}.commands.{partition}.*"

    @property
    def command_subjects(self) -> str:
        """Every command subject of the context, partitioned or not."""
        return f"{self.name}.commands.>"

    @property
    def members_subjects(self) -> str:
        return f"{self.name}.members.*"

    def members_subject(self, instance: str) -> str:
        """Where a service process says it is alive (which partitions it serves follows from
        who is); only the service's own processes may send here."""
        return f"{self.name}.members.{instance}"


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
