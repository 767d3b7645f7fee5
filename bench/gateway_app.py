"""The gateway's real ASGI app over a rebuilt read model, for the GraphQL benchmark.

Served by uvicorn in its own process (`uvicorn --factory bench.gateway_app:create`) with
BENCH_READ_MODEL_URL and BENCH_JWT_SECRET set; as one of several worker processes on one port
by `python -m bench.gateway_app PORT`, each on its own socket as the gateway's supervisor gives
its workers (`gateway.serve.worker_sockets`). Read-only: no command bus, no live events,
no projection runners (the replay suite already built the tables).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn
from sqlalchemy import Engine, event
from starlette.applications import Starlette

from eventstore.collector import freeze_start_up
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.readmodels import ReadModels
from gateway.serve import listening_socket
from gateway.settings import GatewaySettings

SECRET_ENV = "BENCH_JWT_SECRET"


def settings(url: str, secret: str) -> GatewaySettings:
    return GatewaySettings(database_url=url, jwt_secret=secret, graphiql=False)


def coordinator_token(secret: str) -> str:
    """A coordinator sees every row: the GraphQL side returns what the plain side returns."""
    return issue_token(settings("sqlite://", secret), Role.COORDINATOR, "bench")


# Extra PRAGMAs for each SQLite connection of the served read model, `;`-separated (e.g.
# "cache_size=-65536;mmap_size=268435456"): an A/B of the connections' memory without a
# product setting (bench.asof_served_reads, asof24e).
PRAGMAS_ENV = "BENCH_SQLITE_PRAGMAS"


def with_pragmas(engine: Engine, pragmas: str) -> Engine:
    statements = [f"PRAGMA {p.strip()}" for p in pragmas.split(";") if p.strip()]

    @event.listens_for(engine, "connect")
    def _bench_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()

    return engine


def create() -> Starlette:
    url = os.environ["BENCH_READ_MODEL_URL"]
    engine = with_pragmas(make_engine(url), os.environ.get(PRAGMAS_ENV, ""))
    app = build_app(ReadModels(engine), settings(url, os.environ[SECRET_ENV]))
    freeze_start_up()  # as the gateway process does (gateway/process.py)
    return app


def serve_worker(factory: str) -> None:
    """One worker of `factory`'s app on its own socket of port `argv[1]`'s group
    (SO_REUSEPORT), as the gateway's supervisor serves each of its workers."""
    sock = listening_socket("127.0.0.1", int(sys.argv[1]), reuse_port=True)
    config = uvicorn.Config(factory, factory=True, access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    serve_worker("bench.gateway_app:create")


if __name__ == "__main__":
    main()
