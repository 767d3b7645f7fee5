"""(4) Freshness: from a GraphQL mutation's reply to a GraphQL query showing the new state,
p50/p99, under a steady background command load on the registry.

The system runs as `make run` runs it (bootstrap.system.System with `service_processes`: the
registry and enrolment services, the gateway and the gateway's projections each in a child
process of its own, `python -m bootstrap.serve registry | enrolment | gateway | projector`),
over the read model the replay suite rebuilt. The load generator and the probing client run
in this process, on no loop shared with a service or the gateway. The gateway learns the
projector's positions from its announcements on NATS. Each probe
amends a contract through the `amendContract` mutation, then polls
`contract { lastAmendment }` until it shows the amendment. A second figure asks once with the
reply's consistency token (read-your-writes). Baseline: from a raw publish to an ordered
consumer receiving that message (JetStream alone).

Each figure's `extra.stages` says where the time went, per stage of a probe's write (p50/p99
over the probes, ms): the projector announces, with each commit, when it received the batch,
took the SQLite writer, committed and announced (`eventstore.projection_news.News.stages`,
wall clock, comparable across the processes of one machine); the suite hears the
announcements on a connection of its own (as the gateway process does on its) and knows when
each answer came. Also: each read
model's wait for the writer and hold of it over the run, and the slowest probes stage by stage.
A polling answer lags the commit by up to one query's round trip (the "one poll" stage).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from sqlalchemy import text

from bench.context import BenchContext
from bench.figures import Figure, latency_ms, not_measured
from bench.gateway_app import coordinator_token, settings
from bench.loader import public_keys
from bench.suites.freshness_attribution import (
    Reached,
    attribute,
    histories,
    histories_sentence,
    sentence,
)
from bench.workload import ensure_raw_stream
from bootstrap.system import System
from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.collector import keep_full_collections_short, uninstall
from eventstore.commands import parse_consistency_token
from eventstore.projection_news import SUBJECT_PREFIX, News
from eventstore.signing import PUBLIC_KEYS_ENV
from eventstore.sql import make_engine
from gateway.projections import ContractsProjection
from gateway.readmodels import AUDIT_HISTORY

POLL = 0.001
WARM_UP_ENV = "BENCH_FRESHNESS_WARM_UP_S"
PROBE_DEADLINE = 15.0  # seconds; a probe that never sees its write fails the suite loudly
# The replay suite built the gateway's read models, not the audit's history (entitiesAsOf):
# the projector builds it at start. Probes measure the steady state, so they wait for it.
CATCH_UP = 900.0  # seconds
MUTATION = """mutation Amend($input: AmendContractInput!) {
  amendContract(input: $input) {
    __typename
    ... on CommandSucceeded { consistencyToken }
    ... on DomainError { code message }
    ... on InvalidInput { message }
  }
}"""
QUERY = """query Amended($id: String!, $token: String) {
  contract(contractId: $id, consistencyToken: $token) { lastAmendment }
}"""


def warm_up(contracts: int, per_second: int) -> float:
    """Seconds the load runs before the first probe: twice round its contracts (each one's
    first change loads its history in the registry and the projector: the load's start, not
    its steady state), at least a second; `BENCH_FRESHNESS_WARM_UP_S` sets it (0: none)."""
    given = os.environ.get(WARM_UP_ENV)
    if given is not None:
        return float(given)
    return max(1.0, 2 * contracts / per_second)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def amendable_contracts(url: str) -> list[tuple[str, datetime]]:
    """Every active contract, with an instant just after the last fact known of it.

    The read model is bitemporal: `lastAmendment` is the last amendment in *valid* time, so a
    probe must take effect after every fact already known of its contract (an amendment
    dated at the signature would sit before the history's own amendments and never show).
    """
    table = f"{ContractsProjection().key}_contracts"  # the live version's table
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT contract_id, max(valid_from) FROM {table}"
                f" WHERE contract_id IN (SELECT contract_id FROM {table}"
                # A registry contract: a call-off is the enrolment service's, not amendable.
                "   WHERE status = 'active' AND kind <> 'call_off'"
                "   AND known_to = 4611686018427387904 AND valid_to = 4611686018427387904)"
                " GROUP BY contract_id ORDER BY contract_id"
            )
        ).all()
    engine.dispose()
    return [
        (r[0], datetime.fromtimestamp(r[1] / 1_000_000, UTC) + timedelta(hours=1))
        for r in rows
        if r[1] is not None
    ]


class LoadProcess:
    """The background load (`bench.suites.freshness_load`) in a process of its own: a client
    of the system, not a task on the probe's event loop (it would take the loop's turns from
    the probe's reads, and the bench would measure itself)."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0  # wall clock: when it began sending

    async def start(self, url: str, contracts: list[tuple[str, datetime]], per_second: int) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.suites.freshness_load",
            url,
            str(per_second),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        given = [(contract_id, on.isoformat()) for contract_id, on in contracts]
        self._process.stdin.write(json.dumps(given).encode() + b"\n")
        await self._process.stdin.drain()
        line = await self._process.stdout.readline()
        if line.strip() != b"started":
            await self._process.wait()
            raise RuntimeError(
                f"the load process did not start (exit {self._process.returncode}): {line!r}"
            )
        self.started_at = time.time()

    async def stop(self) -> dict[str, Any]:
        """Stop sending; what it sent and what was not accepted."""
        if self._process is None:
            return {"rejected": [], "sent": 0, "seconds": 0.0}
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        try:
            self._process.stdin.write(b"stop\n")
            await self._process.stdin.drain()
            self._process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it exited already: its exit code says why
        out = await self._process.stdout.read()
        code = await self._process.wait()
        if code != 0:
            raise RuntimeError(f"the load process exited with code {code}")
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result


async def graphql(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    return (await answered(http, query, variables))[0]


async def answered(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> tuple[Any, dict[str, float]]:
    """The answer's data and the gateway's own instants of it (`gateway_instants`)."""
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"], gateway_instants(response.headers.get("server-timing", ""))


def gateway_instants(header: str) -> dict[str, float]:
    """A token query's instants in the gateway process (wall clock, seconds), from its
    `Server-Timing` header (`gateway.token_waits.server_timing`): `g_arrived`, and when a
    read model was behind, `g_began` (its wait began), `g_heard` (the gateway heard the
    announcement that ended it), `g_woke` (the wait returned); `g_answered` (the answer
    was ready). Empty without a token."""
    metrics: dict[str, dict[str, str]] = {}
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if name:
            metrics[name] = dict(
                (q.split("=", 1)[0], q.split("=", 1)[1].strip('"')) for q in params if "=" in q
            )
    if "gt-arrived" not in metrics:
        return {}
    arrived = float(metrics["gt-arrived"]["desc"])
    found = {"g_arrived": arrived}
    offsets = {"g_began": "gt-ryw-began", "g_heard": "gt-heard", "g_answered": "gt-answered"}
    for instant, name in offsets.items():
        if name in metrics:
            found[instant] = arrived + float(metrics[name]["dur"]) / 1000
    if "g_began" in found and "gt-ryw" in metrics:
        found["g_woke"] = found["g_began"] + float(metrics["gt-ryw"]["dur"]) / 1000
    return found


@dataclass
class Probe:
    """One probe's instants (wall clock, seconds since the epoch: comparable with the
    projector's announced stages) and the positions its reply's token names."""

    index: int = 0  # the probe's number in the run (0: the first)
    sent: float = 0.0
    replied: float = 0.0
    visible: float = 0.0  # the answer that showed the write arrived
    last_miss: float | None = None  # the last answer that did not show it arrived
    positions: dict[str, int] = field(default_factory=dict)
    stored: float | None = None  # its event stored in the stream (JetStream's own clock)
    asked: float = 0.0  # the answer that showed the write was asked for
    gateway: dict[str, float] = field(default_factory=dict)  # its instants in the gateway

    @property
    def latency(self) -> float:
        return self.visible - self.replied


LISTENER_ENV = "BENCH_FRESHNESS_LISTENER"  # "inline": on the probes' loop (before fresh23)


class Announcements:
    """Every read model's announcements (`eventstore.projection_news`) as heard by a process
    of their own (`bench.suites.freshness_listen`: as the gateway process hears them, on a
    connection of its own; not on the probes' loop, whose answers they delayed): when each
    arrived, the positions it names, the stages it reports. `BENCH_FRESHNESS_LISTENER=inline`
    hears them on this process's loop, as before fresh23 (for an A/B)."""

    def __init__(self) -> None:
        self.heard: list[tuple[float, str, News]] = []  # (arrived, read model key, news)
        self._sub: Any = None
        self._process: asyncio.subprocess.Process | None = None
        self.inline = os.environ.get(LISTENER_ENV, "process") == "inline"

    async def start(self, nc: NATS, url: str) -> None:
        if not self.inline:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.suites.freshness_listen",
                url,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**24,  # one line per announcement, read at the end
            )
            assert self._process.stdout is not None
            line = await self._process.stdout.readline()
            if line.strip() != b"started":
                await self._process.wait()
                raise RuntimeError(f"the announcements' listener did not start: {line!r}")
            return

        async def on_message(msg: Msg) -> None:
            arrived = time.time()
            self.heard.append((arrived, msg.subject.rsplit(".", 1)[-1], News.decode(msg.data)))

        self._sub = await nc.subscribe(f"{SUBJECT_PREFIX}.>", cb=on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(b"stop\n")
            await process.stdin.drain()
            process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it exited already: its exit code says why
        out = await process.stdout.read()
        if await process.wait() != 0:
            raise RuntimeError(f"the announcements' listener exited with {process.returncode}")
        for line in out.splitlines():
            arrived, subject_, data = json.loads(line)
            self.heard.append((arrived, subject_.rsplit(".", 1)[-1], News.decode(data)))

    def reaching(self, key: str, positions: dict[str, int]) -> tuple[float, News] | None:
        """The first commit of read model `key` that covers `positions` (its streams only)."""
        for arrived, k, news in self.heard:
            if k != key or not news.stages:
                continue
            mine = {s: q for s, q in positions.items() if s in news.positions}
            if mine and all(news.positions[s] >= q for s, q in mine.items()):
                return arrived, news
        return None


STAGES = (  # (name, from, to): instants of one probe's write, in order
    ("mutation sent -> reply", "sent", "replied"),
    ("mutation sent -> its event stored in the stream", "sent", "stored"),
    ("stored in the stream -> reply", "stored", "replied"),
    ("stored in the stream -> its batch's first event at the projector", "stored", "arrived"),
    ("stored in the stream -> its batch's last event at the projector", "stored", "fetched"),
    ("reply -> projector received the event", "replied", "received"),
    ("  its subscriber asked for it -> fetched", "asked", "fetched"),
    ("  fetched -> taken (live: the batch before applied meanwhile)", "fetched", "taken"),
    ("  fetched -> received (decoded, handed over)", "fetched", "received"),
    ("received -> writer turn taken", "received", "turn"),
    ("  received -> in a runner thread", "received", "thread"),
    ("  thread -> prepared (batch lock, folds)", "thread", "prepared"),
    ("    thread -> batch lock taken", "thread", "locked"),
    ("    batch lock -> prepared (folds; an aggregate's history loaded)", "locked", "prepared"),
    ("  prepared -> the process's writer turn", "prepared", "writer"),
    ("  writer turn -> BEGIN IMMEDIATE done", "writer", "turn"),
    ("turn -> committed", "turn", "committed"),
    ("committed -> announced", "committed", "announced"),
    ("announced -> heard by the gateway", "announced", "heard"),
    ("heard -> visible in an answer", "heard", "visible"),
    # The token query in the gateway process, from its Server-Timing header (fresh23):
    ("reply -> its query sent (the bench's turn)", "replied", "asked"),
    ("query sent -> arrived at the gateway", "asked", "g_arrived"),
    ("  arrived -> its wait began (a read model behind)", "g_arrived", "g_began"),
    ("  wait began -> committed (the projector's part)", "g_began", "committed"),
    ("  announced -> heard by the gateway process", "announced", "g_heard"),
    ("  gateway heard -> its wait woke", "g_heard", "g_woke"),
    ("  woke -> the answer ready (the query's round trip)", "g_woke", "g_answered"),
    ("  arrived -> the answer ready, no wait (reached before)", "g_arrived", "g_answered_at_once"),
    ("answer ready -> visible at the bench", "g_answered", "visible"),
    ("reply -> committed (readable in the database)", "replied", "committed"),
    ("reply -> visible (the figure)", "replied", "visible"),
)


POLL_STAGE = "last answer without the write -> the answer with it (one poll)"


def breakdown(
    probes: list[Probe], announcements: Announcements, keys: dict[str, set[str]]
) -> dict[str, Any]:
    """Per stage, p50 and p99 in ms over the probes, for the read models `keys` (with the
    streams each reads; the last of them to reach a probe's write is the one its answer
    waited for)."""
    per_stage: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    unexplained = 0
    for p in probes:
        reached = [
            announcements.reaching(k, p.positions)
            for k, streams in keys.items()
            if streams & set(p.positions)
        ]
        if not all(reached):
            unexplained += 1
            continue
        arrived, news = max((r for r in reached if r is not None), key=lambda r: r[0])
        at = {"sent": p.sent, "replied": p.replied, "visible": p.visible, "heard": arrived}
        at.update(gateway_stages(p))
        if p.stored is not None:
            at["stored"] = p.stored
        at.update(news.stages)
        for name, start, end in STAGES:
            if start in at and end in at:
                per_stage[name].append(at[end] - at[start])
        if p.last_miss is not None:  # the granularity of polling: one query's round trip
            per_stage.setdefault(POLL_STAGE, []).append(p.visible - p.last_miss)
    result: dict[str, Any] = {
        name: {k: v for k, v in latency_ms(samples).items()} if samples else None
        for name, samples in per_stage.items()
    }
    result["read models"] = sorted(keys)
    # The slowest probes stage by stage: where a tail comes from.
    worst = sorted(probes, key=lambda p: p.latency)[-5:]
    result["slowest probes"] = [_stages_of(p, announcements, keys) for p in reversed(worst)]
    result["probes without a matching announcement"] = unexplained
    return result


def gateway_stages(p: Probe) -> dict[str, float]:
    """A probe's instants of its last query, in the bench and the gateway (token probes)."""
    if not p.asked:
        return {}
    at = {"asked": p.asked, **p.gateway}
    if "g_answered" in at and "g_began" not in at:
        at["g_answered_at_once"] = at["g_answered"]
    return at


def _stages_of(
    p: Probe, announcements: Announcements, keys: dict[str, set[str]]
) -> dict[str, float]:
    """One probe's instants in ms after its reply, per read model that had to reach it."""
    found: dict[str, float] = {
        "probe": p.index,
        "visible": round((p.visible - p.replied) * 1000, 1),
    }
    for stage, at in gateway_stages(p).items():
        found[stage] = round((at - p.replied) * 1000, 1)
    for k, streams in keys.items():
        if not streams & set(p.positions):
            continue
        reached = announcements.reaching(k, p.positions)
        if reached is None:
            continue
        arrived, news = reached
        for stage, at in {**news.stages, "heard": arrived}.items():
            found[f"{k} {stage}"] = round((at - p.replied) * 1000, 1)
    return found


def reached_by(p: Probe, announcements: Announcements, keys: dict[str, set[str]]) -> Reached | None:
    """A probe's write as each read model of `keys` reading its streams reached it (None: an
    announcement was not heard)."""
    per_model: dict[str, dict[str, float]] = {}
    for k, streams in keys.items():
        if not streams & set(p.positions):
            continue
        found = announcements.reaching(k, p.positions)
        if found is None:
            return None
        arrived, news = found
        per_model[k] = {**news.stages, "heard": arrived}
    if not per_model:
        return None
    return Reached(p.latency, p.replied, p.visible, per_model)


def per_read_model(announcements: Announcements, since: float, until: float) -> dict[str, Any]:
    """Every commit announced between `since` and `until`, per read model: how long it waited
    for the writer after receiving its batch, and how long it held it (p50/p99 ms, count)."""
    waits: dict[str, list[float]] = {}
    holds: dict[str, list[float]] = {}
    for arrived, key, news in announcements.heard:
        st = news.stages
        if not since <= arrived <= until or not {"received", "turn", "committed"} <= set(st):
            continue
        waits.setdefault(key, []).append(st["turn"] - st["received"])
        holds.setdefault(key, []).append(st["committed"] - st["turn"])
    return {
        key: {
            "commits": len(waits[key]),
            "received -> turn": latency_ms(waits[key]),
            "turn -> committed": latency_ms(holds[key]),
        }
        for key in sorted(waits)
    }


async def probe(
    http: httpx.AsyncClient,
    contract_id: str,
    on: datetime,
    i: int,
    with_token: bool,
    system: System,
) -> Probe:
    summary = f"probe {i} {uuid.uuid4().hex[:8]}"
    variables = {
        "input": {"contractId": contract_id, "summary": summary, "occurredAt": on.isoformat()}
    }
    seen = Probe(index=i, sent=time.time())
    reply = (await graphql(http, MUTATION, variables))["amendContract"]
    seen.replied = replied = time.time()
    if reply["__typename"] != "CommandSucceeded":
        raise RuntimeError(f"the probe amendment was refused: {reply}")
    seen.positions = parse_consistency_token(reply["consistencyToken"])
    token = reply["consistencyToken"] if with_token else None
    while True:  # polling the query is the measurement: visible to a reader
        asked = time.time()
        data, instants = await answered(http, QUERY, {"id": contract_id, "token": token})
        if data["contract"]["lastAmendment"] == summary:
            seen.visible = time.time()
            seen.asked, seen.gateway = asked, instants
            return seen
        seen.last_miss = time.time()
        if with_token:
            raise RuntimeError("a query with the reply's consistency token missed the write")
        if time.time() - replied > PROBE_DEADLINE:
            # Say where the read models stood: a lagging projector, or a write gone astray.
            reached = {r.projection.key: dict(r.positions) for r in system.runners}
            raise RuntimeError(
                f"probe {i} not visible after {PROBE_DEADLINE} s: amended {contract_id} at"
                f" {on.isoformat()}, token {reply['consistencyToken']}, still"
                f" {data['contract']}; the read models reached {reached}"
            )
        await asyncio.sleep(POLL)


async def note_stored(client: NATS, probes: list[Probe]) -> None:
    """Each probe's event's instant in the registry stream, as the broker stamped it: the
    chain's "event in the stream" (the broker's clock is this machine's wall clock)."""
    js = client.jetstream()
    for p in probes:
        seq = p.positions.get(REGISTRY.stream)
        if seq is None:
            continue
        with contextlib.suppress(Exception):  # a figure without this stage, not a failure
            stored = (await js.get_msg(REGISTRY.stream, seq)).time
            if stored is not None:
                p.stored = stored.timestamp()


async def stored_in(client: NATS, context: BoundedContext) -> tuple[int, float]:
    """The last sequence of `context`'s stream, and when it was read (seconds)."""
    info = await client.jetstream().stream_info(context.stream)
    return int(info.state.last_seq), time.perf_counter()


async def measure_raw(client: NATS, samples: int) -> list[float]:
    js = client.jetstream()
    await ensure_raw_stream(js)
    subject = "benchraw.fresh"
    arrived: dict[bytes, float] = {}
    event = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        arrived[msg.data] = time.perf_counter()
        event.set()

    sub = await js.subscribe(
        subject, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW, cb=on_message
    )
    result = []
    for i in range(samples):
        body = f"probe-{i}-{uuid.uuid4().hex}".encode()
        # From the send, not the ack: the delivery usually beats the ack back to us.
        sent = time.perf_counter()
        await js.publish(subject, body)
        while body not in arrived:
            event.clear()
            await event.wait()
        result.append(arrived[body] - sent)
    await sub.unsubscribe()
    return result


# Why the suite measures nothing without the replay suite's read model (printed on its line).
NO_READ_MODEL = (
    "no read model: the freshness suite measures the SQLite read model the replay suite"
    " rebuilt; run it with `--only replay --only freshness`"
)


async def run(ctx: BenchContext) -> list[Figure]:
    if ctx.read_model_url is None:
        return [not_measured("freshness", "reply to visible", "ms", "raw", NO_READ_MODEL)]
    contracts = amendable_contracts(ctx.read_model_url)
    probes, loaded = contracts[::2], contracts[1::2]  # the load never touches a probe's contract
    secret = secrets.token_hex(32)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
    # The system's readers trust the keys the bench signed the loaded history with, beside
    # the keys its services make in `data_dir` (its child processes inherit both).
    given_keys = os.environ.get(PUBLIC_KEYS_ENV)
    os.environ[PUBLIC_KEYS_ENV] = ",".join(filter(None, (given_keys, public_keys())))
    system = System(
        ctx.service_nc,
        data_dir,
        # As `make run`: the audit's history in a SQLite file (and a projector) of its own.
        settings(ctx.read_model_url, secret).model_copy(
            update={"audit_database_url": f"sqlite:///{data_dir / 'audit.db'}"}
        ),
        with_notifier=False,
        # As `make run` and compose: each service, the gateway and the projections in a
        # process of their own.
        service_processes=True,
    )
    try:
        await system.start()
    finally:
        if given_keys is None:
            os.environ.pop(PUBLIC_KEYS_ENV, None)
        else:
            os.environ[PUBLIC_KEYS_ENV] = given_keys
    assert system.gateway_url is not None
    assert system.read is not None
    started = time.perf_counter()
    try:
        await system.read.reach_present(CATCH_UP)
        await system.read.reach_present(CATCH_UP, audit=True)
    except BaseException:
        await system.stop()  # and its projector process
        raise
    caught_up = time.perf_counter() - started
    keep_full_collections_short()  # this process (load, probes): as each child does
    load_before = os.getloadavg()[0]
    announcements = Announcements()
    await announcements.start(ctx.service_nc, ctx.nats.url)  # as the gateway process hears them
    headers = {"Authorization": f"Bearer {coordinator_token(secret)}"}
    n = ctx.config.freshness_samples
    refused = ""
    load = LoadProcess()
    await load.start(ctx.nats.url, loaded, ctx.config.freshness_load_per_s)
    try:
        # The steady state under the load, not its start: its first commands are each the
        # first change of their contract since the services and the projector started (an
        # aggregate's history loaded by each).
        await asyncio.sleep(warm_up(len(loaded), ctx.config.freshness_load_per_s))
        stored_from = await stored_in(ctx.client, REGISTRY)
        async with httpx.AsyncClient(
            base_url=system.gateway_url, headers=headers, timeout=30
        ) as http:
            polled = []
            for i in range(n):
                contract_id, on = probes[i % len(probes)]
                # Each probe later in valid time than the last one on its contract.
                on += timedelta(seconds=i)
                polled.append(await probe(http, contract_id, on, i, False, system))
            tokened: list[Probe] = []
            try:
                for i in range(n):
                    contract_id, on = probes[i % len(probes)]
                    on += timedelta(seconds=n + i)
                    tokened.append(await probe(http, contract_id, on, n + i, True, system))
            except RuntimeError as exc:  # e.g. CONSISTENCY_TIMEOUT: a figure of its own
                refused = f"not measured: probe {len(tokened)} with its token failed: {exc}"
                tokened.clear()
        stored_to = await stored_in(ctx.client, REGISTRY)
        await note_stored(ctx.client, [*polled, *tokened])
        raw = await measure_raw(ctx.client, n)
    finally:
        uninstall()  # the suites after this one see the collector as the ones before did
        sent = await load.stop()
        await announcements.stop()
        await system.stop()
    theirs = latency_ms(raw)
    note = (
        f"under {ctx.config.freshness_load_per_s} cmd/s of registry AmendContract load;"
        " registry, enrolment, gateway and projector each in a process of its own (as"
        " `make run`), the load and the probes in the bench's; SQLite"
    )
    stored = (stored_to[0] - stored_from[0]) / max(stored_to[1] - stored_from[1], 1e-9)
    note += f"; the registry stored {stored:.1f} events/s while the probes ran (load and probes)"
    note += f"; the projector caught up with the stored history in {caught_up:.0f} s first"
    note += f"; load average {load_before:.1f} before the probes, {os.getloadavg()[0]:.1f} after"
    note += (
        f"; the load in a process of its own sent {sent['sent']} commands in"
        f" {sent['seconds']:.1f} s, {warm_up(len(loaded), ctx.config.freshness_load_per_s):.1f}"
        " s of them before the first probe"
    )
    note += (
        "; the announcements heard on the probes' loop (inline)"
        if announcements.inline
        else "; the announcements heard by a process of their own"
    )
    if rejected := sent["rejected"]:
        note += f"; {len(rejected)} background commands rejected: {sorted(set(rejected))}"
    figures = []
    baseline = "raw publish to ordered-consumer delivery"
    gateway_models = {
        r.projection.key: {c.stream for c in r.projection.contexts}
        for r in system.runners
        if r.projection.name != AUDIT_HISTORY
    }
    contracts_model = {k: v for k, v in gateway_models.items() if k == ContractsProjection().key}
    for label, probes_, models in (
        ("mutation reply to visible in a GraphQL query (polling)", polled, contracts_model),
        # The token's query reads the contracts read model alone: since token13 it waits for
        # that one only (before, for every gateway read model: `gateway_models`).
        (
            "mutation reply to answer of a query with its consistency token",
            tokened,
            contracts_model,
        ),
    ):
        if not probes_:
            figures.append(not_measured("freshness", label, "ms", baseline, refused[:600]))
            continue
        stages = breakdown(probes_, announcements, models)
        stages["commits per read model"] = per_read_model(
            announcements, probes_[0].sent, probes_[-1].visible
        )
        # Where the figure's own probes spent it (steps that sum to their latency), and the
        # cold timelines the projector folded meanwhile (its counters, announced).
        reached = [r for r in (reached_by(p, announcements, models) for p in probes_) if r]
        folded = histories(announcements.heard, probes_[0].sent, probes_[-1].visible)
        stages["cold timelines"] = folded
        mine = latency_ms([p.latency for p in probes_])
        for p in ("p50_ms", "p99_ms"):
            found = attribute(reached, 50 if p == "p50_ms" else 99)
            stages[f"attribution {p[:3]}"] = found
            said = "; ".join(
                filter(None, (note, sentence(f"{p[:3]} band", found), histories_sentence(folded)))
            )
            figures.append(
                Figure(
                    "freshness",
                    f"{label}, {p[:3]}",
                    "ms",
                    mine[p],
                    baseline,
                    theirs[p],
                    higher_is_better=False,
                    target="p99 <= 50 ms" if p == "p99_ms" else "",
                    target_met=mine[p] <= 50 if p == "p99_ms" else None,
                    note=said,
                    extra={"stages": stages},
                )
            )
    return figures
