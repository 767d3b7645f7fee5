"""Where a CommandService keeps its record of processed commands (`ports.ProcessedCommands`).

On JetStream: the `processed-commands` key-value bucket, shared by every service of the
system (keys carry the context). In memory: a dictionary the `InMemoryEventStore` owns.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from contracts_schema.subjects import PROCESSED_COMMANDS_BUCKET
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort, ProcessedCommands
from eventstore.store import EventStore


class KeyValueProcessedCommands:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, nc: NATS, replicas: int = 1) -> KeyValueProcessedCommands:
        js = nc.jetstream()
        try:
            kv = await js.key_value(PROCESSED_COMMANDS_BUCKET)
        except Exception:  # bucket missing: create it (idempotent on the server)
            kv = await js.create_key_value(
                KeyValueConfig(bucket=PROCESSED_COMMANDS_BUCKET, history=1, replicas=replicas)
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


async def processed_commands_for(store: EventStorePort) -> ProcessedCommands:
    """The record that lives beside `store`: its JetStream bucket, or its memory."""
    if isinstance(store, EventStore):
        return await KeyValueProcessedCommands.open(store.nc, store.replicas)
    if isinstance(store, InMemoryEventStore):
        return store.processed_commands
    raise TypeError(
        f"no processed-commands record known for {type(store).__name__}: pass `processed`"
        " to the CommandService"
    )


_records: type[ProcessedCommands] = KeyValueProcessedCommands
