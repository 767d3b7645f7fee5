"""Where a CommandService keeps its record of processed commands (`ports.ProcessedCommands`).

On JetStream: one key-value bucket per bounded context, `processed-commands-<context>` (keys
carry the context too), so the loss of one bucket's leader touches that context only. The
record is an index of replies, not the truth: `CommandService` answers from the aggregate's
events when the bucket cannot be read, and a record that could not be written is repaired by
the next duplicate. In memory: a dictionary the `InMemoryEventStore` owns.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from contracts_schema.subjects import PROCESSED_COMMANDS_BUCKET, BoundedContext
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort, ProcessedCommands
from eventstore.store import EventStore


class KeyValueProcessedCommands:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(
        cls, nc: NATS, context: BoundedContext, replicas: int = 1
    ) -> KeyValueProcessedCommands:
        js = nc.jetstream()
        bucket = processed_bucket(context)
        try:
            kv = await js.key_value(bucket)
        except Exception:  # bucket missing: create it (idempotent on the server)
            kv = await js.create_key_value(
                KeyValueConfig(bucket=bucket, history=1, replicas=replicas)
            )
        return cls(kv)

    async def get(self, key: str) -> bytes | None:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        return entry.value

    async def put(self, key: str, value: bytes) -> None:
        await self._kv.put(key, value)


def processed_bucket(context: BoundedContext) -> str:
    """The key-value bucket of one context's processed commands."""
    return f"{PROCESSED_COMMANDS_BUCKET}-{context.name}"


async def processed_commands_for(
    store: EventStorePort, context: BoundedContext
) -> ProcessedCommands:
    """The record that lives beside `store`: the context's JetStream bucket, or its memory."""
    if isinstance(store, EventStore):
        return await KeyValueProcessedCommands.open(store.nc, context, store.replicas)
    if isinstance(store, InMemoryEventStore):
        return store.processed_commands
    raise TypeError(
        f"no processed-commands record known for {type(store).__name__}: pass `processed`"
        " to the CommandService"
    )


_records: type[ProcessedCommands] = KeyValueProcessedCommands
