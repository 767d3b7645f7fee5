"""What every suite gets: the config, the servers, and the history already in the streams."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NATS

from bench.config import Config
from bench.history.model import History
from bench.loader import LoadResult
from eventstore.nats_launcher import NatsServer
from eventstore.pg_launcher import PostgresCluster


@dataclass
class BenchContext:
    config: Config
    nats: NatsServer
    client: NATS  # the benchmark's own connection (clients, readers)
    service_nc: NATS  # the services' connection (command server, projections)
    postgres: PostgresCluster
    history: History
    loaded: LoadResult
    read_model_url: str | None = None  # SQLite read model the replay suite rebuilt
