"""Back up and restore JetStream streams through the server's own snapshot API.

A snapshot (`$JS.API.STREAM.SNAPSHOT.<stream>`) is the stream's store as the server keeps it:
every message with its sequence, subject, headers, bytes and timestamp, in the server's
compressed archive format. Restoring it (`$JS.API.STREAM.RESTORE.<stream>`) recreates the
stream exactly, so hash chains, signatures and checkpoint digests (which name sequences) hold
afterwards. This is what `nats stream backup` / `nats stream restore` do; the NATS CLI is not
part of the image, so the operator tool (`python -m bootstrap.serve backup`) drives the API
from nats-py.

A backup directory holds, per stream, `<stream>.json` (the configuration and state the server
reported when it took the snapshot) and `<stream>.snapshot` (the archive), and a
`manifest.json` naming the streams with each archive's size and sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from contracts_schema.subjects import PROCESSED_COMMANDS_BUCKET
from eventstore.checkpoints import CHECKPOINT_STREAM

MANIFEST = "manifest.json"
API_TIMEOUT = 10.0
FIRST_CHUNK_PATIENCE = 15.0  # seconds for a cluster to spread the restoring server's interest
CHUNK_TIMEOUT = 30.0  # the server answers each chunk once written (a stall times out at 5 s)
RESTORE_CHUNK = 128 * 1024


class BackupError(RuntimeError):
    """A snapshot or restore the server refused or broke off, with its reason."""


@dataclass(frozen=True)
class StreamBackup:
    stream: str
    messages: int
    first_seq: int
    last_seq: int
    bytes: int  # of the archive
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "messages": self.messages,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


async def stream_names(nc: NATS) -> list[str]:
    """Every stream of the account (event streams, CHECKPOINTS, the key-value buckets)."""
    names: list[str] = []
    offset = 0
    while True:
        reply = await _api(nc, "$JS.API.STREAM.NAMES", {"offset": offset})
        page = reply.get("streams") or []
        names += page
        offset += len(page)
        if not page or offset >= int(reply.get("total", 0)):
            return sorted(names)


async def snapshot(nc: NATS, stream: str, out: Path) -> StreamBackup:
    """Write `stream`'s snapshot to `out/<stream>.snapshot` and its config to `.json`."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    digest = hashlib.sha256()
    size = 0
    archive = out / f"{stream}.snapshot"
    try:
        reply = await _api(
            nc,
            f"$JS.API.STREAM.SNAPSHOT.{stream}",
            # Consumers are left out: projections recreate theirs from their SQL checkpoints.
            {"deliver_subject": inbox, "no_consumers": True, "jsck": True},
        )
        with archive.open("wb") as file:
            while True:
                msg = await sub.next_msg(timeout=CHUNK_TIMEOUT)
                if not msg.data:  # the end, or the server's reason for stopping
                    _check_end(stream, msg)
                    break
                file.write(msg.data)
                digest.update(msg.data)
                size += len(msg.data)
                if msg.reply:  # flow control: each acknowledged chunk frees a slot
                    await nc.publish(msg.reply, b"")
    finally:
        await sub.unsubscribe()
    state = reply.get("state") or {}
    (out / f"{stream}.json").write_text(
        json.dumps({"config": reply["config"], "state": state}, indent=2, sort_keys=True)
    )
    return StreamBackup(
        stream,
        int(state.get("messages", 0)),
        int(state.get("first_seq", 0)),
        int(state.get("last_seq", 0)),
        size,
        digest.hexdigest(),
    )


def _check_end(stream: str, msg: Msg) -> None:
    status = (msg.headers or {}).get("Status", "")
    if status and status != "204":
        reason = (msg.headers or {}).get("Description", "")
        raise BackupError(f"snapshot of {stream} broken off by the server: {status} {reason}")


async def backup(nc: NATS, out: Path, streams: list[str] | None = None) -> list[StreamBackup]:
    """Snapshot the given streams (default: every stream of the account) into `out`."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    chosen = streams if streams else await stream_names(nc)
    # The checkpoints first, then the processed-command records, then the event streams. The
    # event streams only grow, so every checkpoint and every recorded reply in the backup names
    # a sequence its stream's snapshot holds: a record may be missing (its command is then
    # answered from the aggregate's events), never ahead of its events (a lost write answered
    # "accepted").
    chosen = sorted(chosen, key=_backup_order)
    taken = [await snapshot(nc, name, out) for name in chosen]
    manifest = {
        "taken_at": datetime.now(UTC).isoformat(),
        "server": str(nc.connected_server_version),
        "streams": [t.as_json() for t in taken],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return taken


def _backup_order(name: str) -> tuple[int, str]:
    if name == CHECKPOINT_STREAM:
        return (0, name)
    if name.startswith(f"KV_{PROCESSED_COMMANDS_BUCKET}"):
        return (1, name)
    return (2, name)


def read_manifest(directory: Path) -> list[StreamBackup]:
    path = directory / MANIFEST
    if not path.exists():
        raise BackupError(f"{directory} is not a backup: it has no {MANIFEST}")
    entries = json.loads(path.read_text())["streams"]
    return [StreamBackup(**entry) for entry in entries]


async def restore_stream(
    nc: NATS, directory: Path, entry: StreamBackup, *, replicas: int | None = None
) -> dict[str, Any]:
    """Recreate one stream from its snapshot; it must not exist on the target."""
    archive = directory / f"{entry.stream}.snapshot"
    data = archive.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise BackupError(f"{archive} does not match the manifest's sha256: damaged backup")
    saved = json.loads((directory / f"{entry.stream}.json").read_text())
    config = dict(saved["config"])
    if replicas is not None:
        config["num_replicas"] = replicas  # e.g. a single-node backup into a 3-node cluster
    reply = await _api(
        nc, f"$JS.API.STREAM.RESTORE.{entry.stream}", {"config": config, "state": saved["state"]}
    )
    deliver = reply["deliver_subject"]
    for start in range(0, len(data), RESTORE_CHUNK):
        chunk = data[start : start + RESTORE_CHUNK]
        if start == 0:
            await _first_chunk(nc, deliver, chunk)
        else:
            await nc.request(deliver, chunk, timeout=CHUNK_TIMEOUT)
    done = await nc.request(deliver, b"", timeout=CHUNK_TIMEOUT)  # end of the archive
    result: dict[str, Any] = json.loads(done.data or b"{}")
    if result.get("error"):
        raise BackupError(f"restore of {entry.stream} failed: {_describe(result['error'])}")
    restored = (result.get("state") or {}).get("last_seq", 0)
    if restored != entry.last_seq:
        raise BackupError(
            f"restore of {entry.stream} ends at sequence {restored}, the backup at {entry.last_seq}"
        )
    return result


async def _first_chunk(nc: NATS, deliver: str, chunk: bytes) -> None:
    """In a cluster the restoring server's interest in `deliver` may not have reached the
    server we are connected to yet: "no responders" means nobody took the chunk, so it is
    sent again until someone does (boundedly)."""
    deadline = asyncio.get_running_loop().time() + FIRST_CHUNK_PATIENCE
    while True:
        try:
            await nc.request(deliver, chunk, timeout=CHUNK_TIMEOUT)
            return
        except NoRespondersError:
            if asyncio.get_running_loop().time() > deadline:
                raise BackupError(
                    f"no server took the restore's first chunk on {deliver} within"
                    f" {FIRST_CHUNK_PATIENCE:g}s"
                ) from None
            await asyncio.sleep(0.1)


async def restore(
    nc: NATS, directory: Path, streams: list[str] | None = None, *, replicas: int | None = None
) -> list[StreamBackup]:
    """Restore the backup's streams (or the chosen ones) into a server that lacks them."""
    entries = read_manifest(directory)
    if streams:
        unknown = sorted(set(streams) - {e.stream for e in entries})
        if unknown:
            raise BackupError(f"the backup holds no stream {', '.join(unknown)}")
        entries = [e for e in entries if e.stream in streams]
    existing = set(await stream_names(nc))
    clash = sorted(e.stream for e in entries if e.stream in existing)
    if clash:
        raise BackupError(
            f"stream(s) {', '.join(clash)} already exist on the target: restore into a fresh"
            " cluster (or delete them first, deliberately)"
        )
    for entry in entries:
        await restore_stream(nc, directory, entry, replicas=replicas)
    return entries


async def _api(nc: NATS, subject: str, request: dict[str, Any]) -> dict[str, Any]:
    msg = await nc.request(subject, json.dumps(request).encode(), timeout=API_TIMEOUT)
    reply: dict[str, Any] = json.loads(msg.data or b"{}")
    if reply.get("error"):
        raise BackupError(f"{subject}: {_describe(reply['error'])}")
    return reply


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('description', error)} (code {error.get('err_code', '?')})"
    return str(error)


async def wait_for_streams(nc: NATS, streams: list[str], timeout: float = 15.0) -> None:
    """After a restore into a cluster: wait until every stream answers."""
    async with asyncio.timeout(timeout):
        for name in streams:
            while True:
                try:
                    await nc.jetstream().stream_info(name)
                    break
                except Exception:
                    await asyncio.sleep(0.1)
