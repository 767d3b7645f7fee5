"""user10: a municipality's integration feed after its merger is recorded.

Dutch mergers are decided months ahead (by law, effective on 1 January). Recording one with
its future `effectiveOn` moved the municipality's news to its successor at once: until the
merger took effect the municipality still acted (every command may name it), yet its own
feed went silent and the successor was told of its contracts. Now the successor is told from
the day the merger takes effect; a merger already in effect still passes the news on.
"""

from __future__ import annotations

from datetime import date

from nats.aio.client import Client as NATS

from contracts_schema.enrolment.events import MunicipalityMerged, OrganisationRegistered
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.notifier.facts import expired, frozen_list, given, signed
from tests.integration.notifier.test_integration_feed import EXPIRED, feed, published

HAGUE, AMSTERDAM = "GM0518", "GM0363"  # merging next year (the clock's day: 2026-01-15)
WEESP = "GM0457"  # merged into Amsterdam on 2022-03-24


async def test_news_reaches_a_municipality_until_its_merger_takes_effect(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    for code, name in ((HAGUE, "'s-Gravenhage"), (AMSTERDAM, "Amsterdam"), (WEESP, "Weesp")):
        registered = OrganisationRegistered(code=code, name=name, kind="municipality")
        await given(store, code, registered, f"register-{code}")
    await frozen_list(store, "T-M", HAGUE, WEESP)
    await signed(store, "C-M", "T-M", signed_on=date(2022, 1, 1), end=date(2025, 12, 31))
    for code, day in ((HAGUE, date(2027, 1, 1)), (WEESP, date(2022, 3, 24))):
        merged = MunicipalityMerged(code=code, successor_code=AMSTERDAM, effective_on=day)
        await given(store, code, merged, f"merge-{code}")
    await expired(store, "C-M", date(2025, 12, 31))
    await published(nats_client, fixed_clock, database_url)

    told = sorted(s for s, e in await feed(nats_client) if e["type"] == EXPIRED)
    assert told == [
        f"gt.org.{AMSTERDAM}.{EXPIRED}",  # for Weesp, merged away in 2022
        f"gt.org.{HAGUE}.{EXPIRED}",  # still itself until 2027
        f"gt.org.OIN-00000001234567890000.{EXPIRED}",
    ]
