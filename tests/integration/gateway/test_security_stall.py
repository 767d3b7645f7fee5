"""Findings 1-3: an anonymous attack does not stall other clients.

The gateway serves on a real socket in a process of its own (`serve_demo`); the attack runs
in another (loopback only, a bounded number of requests) while this process keeps sending a
probe query. The stalls this test exists for were work, not waiting: 2 s of the gateway's CPU
per attacking request (query validation before the guard), so the one thread serving everyone
was taken. What is asserted is therefore counted, not timed: every probe sent during the
attack is answered correctly, and the gateway's CPU per attacking request (the gateway
process's CPU time, which a busy machine does not inflate as it does wall time) stays a small
fraction of such a stall. The gateway once served inside the test worker and its CPU was the
worker's: under a full suite beside two busy loops that read 12.7 ms per request where the
attack cost 1.2 ms (the rest was the worker's own, e.g. the collector walking a heap that
hundreds of earlier tests left), and the test failed for it. The wall-time
latencies are printed beside it for whoever reads the log. What this does not catch: a stall
that waits without computing (blocking I/O on the loop, a lock, a starved thread pool); those
are covered where they could arise (the database's thread hops, `gateway.deadline`), not here.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = {"query": '{ tender(tenderId: "gt-mc1") { title phase } }'}
PROBES = 40
REQUESTS_EACH = 15  # per attacking thread: bounded, and enough to outlast a few probes
ATTACK = """
import http.client, itertools, json, sys, threading
port, template, threads, each = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
counter = itertools.count()
answered = []
def run():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for _ in range(each):
        body = json.dumps({"query": template % next(counter)}).encode()  # unique: uncached
        c.request("POST", "/graphql", body, {"Content-Type": "application/json"})
        c.getresponse().read()
        answered.append(1)
ts = [threading.Thread(target=run) for _ in range(threads)]
[t.start() for t in ts]
print("started", flush=True)
[t.join() for t in ts]
print(len(answered), flush=True)
"""


def unique_aliases(n: int) -> str:
    # The shape: one selection repeated, a fresh alias each time to miss the caches.
    return "{ x%s: " + " ".join("contracts { nodes { contractId } }" for _ in range(n)) + " }"


def as_of() -> str:
    return '{ x%s: tender(tenderId: "gt-mc1", asOf: "2020-06-01") { title lots { lotId } } }'


# name: (query template, attacking threads, bound on the gateway's CPU per attacking request,
# net of the probes). Measured in the gateway's own process, quiet and beside two busy loops:
# the repeated selection 0.5-1.3 ms, the largest document 4.9-6.3 ms, as-of 3.5-9.6 ms. Each
# bound is well above that and below what the attack cost without the guard: the repeated
# selection 34 ms with the guard's limits lifted (the test fails so), and up to 2 s with the
# validation of the findings; an as-of query replayed history per request (60-190 ms here).
ATTACKS = {
    # ~8.7 KB, 250 repeats: within the old limits, 2 s of validation each on main.
    "repeated-selection": (unique_aliases(250), 12, 0.010),
    # the largest document an anonymous client may send, of distinct aliased fields.
    "largest-allowed": (
        "{ x%s: __typename "
        + " ".join(f"a{i}: __typename" for i in range(14))
        + " # "
        + "c" * 3500
        + "\n }",
        12,
        0.060,
    ),
    # finding 2: as-of queries answered from versioned tables, not a replay of history.
    "as-of": (as_of(), 4, 0.050),
}


@dataclass
class Served:
    url: str
    port: int
    pid: int

    def cpu(self) -> float:
        """The gateway process's CPU time so far (user + system), in seconds."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads a process's CPU time from /proc (Linux)")
    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.gateway.serve_demo", str(tmp_path / "rm.db"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert gateway.stdin is not None
    assert gateway.stdout is not None
    try:
        line = await asyncio.wait_for(gateway.stdout.readline(), 120)
        assert line.startswith(b"port "), f"the gateway did not start: {line!r}"
        port = int(line.split()[1])
        yield Served(f"http://127.0.0.1:{port}", port, gateway.pid)
    finally:
        gateway.stdin.close()
        try:
            await asyncio.wait_for(gateway.wait(), 30)
        except TimeoutError:
            gateway.kill()
            await gateway.wait()


async def probe(client: httpx.AsyncClient) -> float:
    """One probe, checked; its wall time (printed only)."""
    started = time.perf_counter()
    response = await client.post("/graphql", json=PROBE)
    assert response.json()["data"]["tender"]["title"], response.text
    return time.perf_counter() - started


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_an_anonymous_attack_costs_the_gateway_a_fraction_of_a_stall(
    served: Served, attack: str
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=600) as client:
        await probe(client)  # warm: the first request pays for imports and caches
        cpu_before = served.cpu()
        idle = statistics.median([await probe(client) for _ in range(PROBES)])
        per_probe = (served.cpu() - cpu_before) / PROBES  # the gateway's share of a probe
        template, threads, bound = ATTACKS[attack]
        cpu_before = served.cpu()
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", ATTACK, str(served.port), template, str(threads),
            str(REQUESTS_EACH), stdout=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert attacker.stdout is not None
            assert (await attacker.stdout.readline()).startswith(b"started")
            under_attack = []
            while attacker.returncode is None:  # probes for as long as the attack lasts
                under_attack.append(await probe(client))
                await asyncio.sleep(0.005)
            answered = int((await attacker.stdout.readline()) or b"0")
        finally:
            if attacker.returncode is None:
                attacker.kill()
            await attacker.wait()
        cpu = served.cpu() - cpu_before
    sent = threads * REQUESTS_EACH
    per_request = (cpu - per_probe * len(under_attack)) / sent
    print(
        f"{attack}: {sent} attacking requests, {len(under_attack)} probes answered meanwhile "
        f"({per_probe * 1000:.1f} ms CPU each); "
        f"gateway CPU {per_request * 1000:.1f} ms per attacking request; probe wall median "
        f"idle {idle * 1000:.1f} ms, under attack {statistics.median(under_attack) * 1000:.1f} ms"
    )
    assert answered == sent, f"the attacker got {answered} of {sent} answers"
    assert under_attack, "no probe ran during the attack: it measured nothing"
    assert per_request <= bound, (
        f"{attack}: {per_request:.3f} s of the gateway's CPU per attacking request (bound {bound} s)"
    )
