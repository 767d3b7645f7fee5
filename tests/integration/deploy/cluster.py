"""The deploy/ NATS cluster started on loopback from per-test copies of the committed configs.

The committed files under deploy/nats/ are the source: each node gets a copy of the whole
directory (so `include` lines resolve as in a container) with the container host names,
ports and paths replaced by loopback addresses on free ports and a temporary store. Every
replacement must match, so an edit to the committed files that this helper does not
understand fails loudly instead of silently starting something else.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client as NATS

from eventstore.testing.nats_server import NatsServer, free_port
from notifier.nats_accounts import dev_environment, dev_password

ROOT = Path(__file__).resolve().parents[3]
NATS_CONFIG_DIR = ROOT / "deploy" / "nats"
NODES = ("nats-1", "nats-2", "nats-3")
# The test-only ledger service stands in for a real one; its context (ledger.*) is in no
# service's least-privilege grants, so it logs in as the operator.
SERVICE_USER = "operator"


def service_credentials(user: str = SERVICE_USER) -> dict[str, str]:
    """nats-py connect options for a service user of deploy/nats/accounts.conf (dev password)."""
    return {"user": user, "password": dev_password(user)}


@dataclass
class NodePorts:
    client: int = field(default_factory=free_port)
    cluster: int = field(default_factory=free_port)
    monitor: int = field(default_factory=free_port)


def render_node_config(node: str, target: Path, ports: dict[str, NodePorts]) -> Path:
    """Copy deploy/nats/ to `target` with loopback ports for `node`; return its config file."""
    shutil.copytree(NATS_CONFIG_DIR, target)
    own = ports[node]
    replacements: list[tuple[str, str]] = [
        (r"(?m)^port: 4222$", f"port: {own.client}"),
        (r"(?m)^http_port: 8222$", f"http_port: {own.monitor}"),
        (r'store_dir: "/data/jetstream"', f'store_dir: "{target / "jetstream"}"'),
        (r"listen: 0\.0\.0\.0:6222", f"listen: 127.0.0.1:{own.cluster}"),
    ]
    replacements += [
        (rf"nats://{name}:6222", f"nats://127.0.0.1:{ports[name].cluster}") for name in NODES
    ]
    common = target / "common.conf"
    text = common.read_text()
    for pattern, value in replacements:
        text, count = re.subn(pattern, value, text)
        if count != 1:
            raise AssertionError(f"deploy/nats/common.conf: expected one {pattern!r}, got {count}")
    common.write_text(text)
    return target / f"{node}.conf"


class NatsCluster:
    """Three nats-server processes forming the deploy/ JetStream cluster on loopback."""

    def __init__(self, base: Path) -> None:
        self.ports = {node: NodePorts() for node in NODES}
        self.servers: dict[str, NatsServer] = {}
        for node in NODES:
            config = render_node_config(node, base / node, self.ports)
            # The accounts file reads its passwords from the environment, as in a container.
            self.servers[node] = NatsServer(
                base / node, config_file=config, port=self.ports[node].client,
                env=dev_environment(),
            )  # fmt: skip

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers.values()]

    @property
    def url(self) -> str:
        return ",".join(self.urls)

    def start(self) -> NatsCluster:
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def monitor_url(self, node: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[node].monitor}{path}"

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Until every node reports JetStream healthy (meta leader elected, streams current)."""
        import httpx

        deadline = time.monotonic() + timeout
        pending = set(NODES)
        while pending:
            for node in sorted(pending):
                if not self.servers[node].running:
                    pending.discard(node)
                    continue
                try:
                    response = httpx.get(self.monitor_url(node, "/healthz"), timeout=1.0)
                    if response.status_code == 200:
                        pending.discard(node)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"cluster nodes not healthy: {sorted(pending)}")
            if pending:
                time.sleep(0.1)


async def stream_leader(nc: NATS, stream: str, timeout: float = 120.0) -> str:
    """The server name of the stream's current leader (waits through an election)."""
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = await js.stream_info(stream)
            if info.cluster is not None and info.cluster.leader:
                return str(info.cluster.leader)
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"no leader for stream {stream}")
        await asyncio.sleep(0.1)
