"""The gateway's and the projector's NATS connections report a failed try as every other part
does (`eventstore.nats_connect.quiet_errors`): one warning line on the "eventstore.nats"
logger, with the part's name, and no traceback; and they wait `CONNECT_TIMEOUT` at connect."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from bootstrap import projector
from eventstore.nats_connect import CONNECT_TIMEOUT
from eventstore.observability import ObservabilitySettings
from eventstore.settings import NatsSettings
from gateway import process
from gateway.process_config import GatewayConfig, HttpSettings, ProjectorConfig
from gateway.settings import GatewaySettings
from tests.support.fake_nats import FakeNats, fake_nats


@pytest.fixture
async def hangs_up_once() -> AsyncIterator[FakeNats]:
    """The first connection closed before a word; later ones connect."""
    async with fake_nats(first_hangs_up=True) as server:
        yield server


async def _gateway(url: str) -> NATS:
    nats = NatsSettings(nats_url=url)
    config = GatewayConfig(nats, GatewaySettings(), HttpSettings(), ObservabilitySettings())
    return await process.connect(config)


async def _projector(url: str) -> NATS:
    config = ProjectorConfig(NatsSettings(nats_url=url), "sqlite://", ObservabilitySettings())
    return await projector.connect(config)


CONNECTS: dict[str, Callable[[str], Awaitable[NATS]]] = {
    "gateway": _gateway,
    "projector": _projector,
}


@pytest.mark.parametrize("part", list(CONNECTS))
async def test_a_failed_try_is_one_quiet_line_naming_the_part(
    part: str,
    hangs_up_once: FakeNats,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options: list[dict[str, Any]] = []
    connect = NATS.connect

    async def recorded(self: NATS, *args: Any, **kwargs: Any) -> None:
        options.append(kwargs)
        await connect(self, *args, **kwargs)

    monkeypatch.setattr(NATS, "connect", recorded)
    caplog.set_level(logging.DEBUG)
    nc = await CONNECTS[part](hangs_up_once.url)
    try:
        assert nc.is_connected
        await nc.flush()
    finally:
        await nc.close()
    assert hangs_up_once.accepted >= 2  # the first try failed, a later one connected
    assert [o.get("connect_timeout") for o in options] == [CONNECT_TIMEOUT]
    said = [r for r in caplog.records if r.name == "eventstore.nats"]
    assert said, [(r.name, r.getMessage()) for r in caplog.records]
    assert all(r.getMessage().startswith(f"{part}: NATS: ") for r in said)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert not [r for r in caplog.records if "encountered error" in r.getMessage()]
