"""`python -m bench.import_reply`: the importer's read of a group's answer (helper import27).

The answer of a group of 64 fresh processes as the registry's lane writes it (per process
four releases, six commands, twelve events; one process refused, one release refused) read
by the contract's `ReleaseGroupImported` (plain unions: pydantic tries each member) and by
`audit.ocds.importer_reply.GroupAnswer` (the same unions discriminated by `status`), in
alternating blocks in this process, CPU time (`time.process_time`, so the shared machine's
waits are not counted): each block's microseconds per event stored and their ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

PROCESSES = 64


def answer(processes: int = PROCESSES) -> tuple[bytes, int]:
    """A group answer in the registry's form and the number of events it names."""
    seq = 1000
    found: list[dict[str, Any]] = []
    events = 0
    for p in range(processes):
        releases = []
        for r in range(4):
            replies: list[dict[str, Any]] = []
            for c in range(1 if r < 2 else 2):
                placed = []
                for k in range(2):
                    seq += 1
                    placed.append({"event_id": str(uuid.uuid4()), "event_type": "TenderPlanned",
                                   "aggregate_type": "tender", "aggregate_id": f"ocds-b-{p}",
                                   "aggregate_version": 2 * r + k + 1, "stream": "REGISTRY",
                                   "seq": seq})  # fmt: skip
                events += len(placed)
                replies.append({"status": "accepted", "command_id": f"c-{p}-{r}-{c}",
                                "events": placed, "consistency_token": f"REGISTRY:{seq}",
                                "duplicate": False})  # fmt: skip
            releases.append({"release_id": f"{p}-{r}", "replies": replies})
        found.append({"status": "imported", "command_id": f"p-{p}", "releases": releases})
    found[1] = {"status": "rejected", "command_id": None, "code": "INVALID_COMMAND",
                "message": "invalid"}  # fmt: skip
    refused = {"status": "rejected", "command_id": "c-2-3-1", "code": "IMPORT_NOT_APPLICABLE",
               "message": "no"}  # fmt: skip
    found[2]["releases"][3]["replies"][1] = refused
    body = {"status": "imported", "command_id": "g", "processes": found}
    return json.dumps(body, separators=(",", ":")).encode(), events


def _block(read: Callable[[bytes], Any], data: bytes, times: int) -> float:
    started = time.process_time()
    for _ in range(times):
        read(data)
    return (time.process_time() - started) / times


def main(blocks: int = 10, times: int = 20) -> None:
    from audit.ocds.importer_reply import GroupAnswer
    from contracts_schema.registry.import_commands import ReleaseGroupImported

    data, events = answer()
    contract, ours = ReleaseGroupImported.model_validate_json, GroupAnswer.model_validate_json
    assert contract(data).model_dump() == ours(data).model_dump()
    a: list[float] = []
    b: list[float] = []
    for n in range(blocks):  # alternating, the order turning
        first, second = (contract, ours) if n % 2 == 0 else (ours, contract)
        x, y = _block(first, data, times), _block(second, data, times)
        (a if first is contract else b).append(x)
        (b if first is contract else a).append(y)
    per = [1e6 * statistics.median(s) / events for s in (a, b)]
    print(f"a group answer of {PROCESSES} processes, {events} events, {len(data):,} bytes;"
          f" load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"contract (plain unions): {per[0]:.2f} us CPU per event (median of {blocks})")
    print(f"importer_reply (discriminated): {per[1]:.2f} us CPU per event")
    print(f"ratio {per[1] / per[0]:.2f}x")


if __name__ == "__main__":
    main()
