"""`lawFindings`' cursor names its list and the arguments of its page, as every keyset list's
does since cursor20: before, it was the key alone, so a cursor of one filter paged another
filter's list from a place that was never in it, without a word (cursor20 left it: "keeps its
own untagged cursor"). Now another filter's cursor, another list's, and a `lawFindings` cursor
given to another list are refused naming `after`; walking the list page by page still gives
the whole list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import import LAW_FINDINGS, _another, _process, run

TENDERS = """query ($after: String) {
  tenders(first: 1, after: $after) { pageInfo { endCursor } } }"""


async def test_a_law_findings_cursor_pages_only_its_own_list_and_arguments(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    await run(store, bus, json.dumps(_process(10, 6)).encode())
    await run(store, bus, json.dumps(_another("ocds-gtnl99-x2", "NL-KVK-50000000", 2021)).encode())
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    token = g.token("coordinator")
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)

        async def ask(query: str = LAW_FINDINGS, **variables: Any) -> dict[str, Any]:
            return dict(await g.query(query, variables, token=token))

        whole = (await ask(first=100))["data"]["lawFindings"]
        walked, after = [], None
        while True:
            page = (await ask(first=1, after=after))["data"]["lawFindings"]
            walked += page["nodes"]
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
        by_buyer = {"contractingAuthority": "KVK-50000000"}
        buyers = (await ask(filter=by_buyer, first=1))["data"]["lawFindings"]
        other_filter = await ask(after=buyers["pageInfo"]["endCursor"], first=1)
        tenders_cursor = (await ask(TENDERS))["data"]["tenders"]["pageInfo"]["endCursor"]
        tenders_given = await ask(after=tenders_cursor, first=1)
        given_to_tenders = await ask(TENDERS, after=buyers["pageInfo"]["endCursor"])
    finally:
        await g.stop()
    assert whole["totalCount"] == 4
    assert walked == whole["nodes"]
    [error] = other_filter["errors"]
    assert "asked with other arguments" in error["message"], error
    assert error["extensions"]["field"] == "after", error
    [error] = tenders_given["errors"]
    assert "is a cursor of `tenders`, not of `lawFindings`" in error["message"], error
    [error] = given_to_tenders["errors"]
    assert "is a cursor of `lawFindings`, not of `tenders`" in error["message"], error
