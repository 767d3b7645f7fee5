"""`python -m tests.support.ledger_process <nats-url>`: the ledger test service as a service
process of its own, through the containers' entry point (`build_service_app`)."""

from __future__ import annotations

import logging
import sys

from nats.aio.client import Client as NATS

from eventstore.clock import Clock
from eventstore.commands import CommandService
from eventstore.service_app import build_service_app, run_app
from eventstore.settings import NatsSettings
from eventstore.store import EventStore
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES


async def make(store: EventStore, _nc: NATS, clock: Clock) -> CommandService:
    return CommandService(LEDGER, store, clock, ROUTES, EVENT_TYPES)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True)
    app, _broker = build_service_app("ledger", make, NatsSettings(nats_url=sys.argv[1]))
    run_app(app)  # as the service processes run: on uvloop


if __name__ == "__main__":
    main()
