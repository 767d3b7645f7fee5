"""The gateway's real ASGI app over a rebuilt read model, for the GraphQL benchmark.

Served by uvicorn in its own process (`uvicorn --factory bench.gateway_app:create`) with
BENCH_READ_MODEL_URL and BENCH_JWT_SECRET set. Read-only: no command bus, no live events,
no projection runners (the replay suite already built the tables).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from eventstore.collector import freeze_start_up
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.readmodels import ReadModels
from gateway.settings import GatewaySettings

SECRET_ENV = "BENCH_JWT_SECRET"


def settings(url: str, secret: str) -> GatewaySettings:
    return GatewaySettings(database_url=url, jwt_secret=secret, graphiql=False)


def coordinator_token(secret: str) -> str:
    """A coordinator sees every row: the GraphQL side returns what the plain side returns."""
    return issue_token(settings("sqlite://", secret), Role.COORDINATOR, "bench")


def create() -> Starlette:
    url = os.environ["BENCH_READ_MODEL_URL"]
    app = build_app(ReadModels(make_engine(url)), settings(url, os.environ[SECRET_ENV]))
    freeze_start_up()  # as the gateway process does (gateway/process.py)
    return app
