"""The embedded system's NATS logins: the deployment's accounts file with local credentials.

`make run` starts its nats-server from `notifier.nats_accounts.render()` (the file deployed as
deploy/nats/accounts.conf), so every part of the embedded system logs in as the same
least-privilege user as its container. The passwords and the callout's account key are made
once per data directory and kept in `<data>/nats-credentials.json` (mode 0600); the server
reads them from its environment as in a deployment. Organisations log in through the auth
callout, run in-process; the local ones (`LOCAL_ORGANISATIONS`) have a secret in the same file.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nats
import nkeys
from nats.aio.client import Client as NATS

from eventstore.nats_connect import CONNECT_TIMEOUT, quiet_errors
from notifier.nats_accounts import ISSUER_VARIABLE, USERS, password_variable, render

CREDENTIALS_FILE = "nats-credentials.json"
PORT_FILE = "nats-port"
CONFIG_DIR = "nats"
JETSTREAM_DIR = "jetstream"
# The organisation `make run` prints NATS credentials for (its dev participant token's).
LOCAL_ORGANISATIONS = ("GM0363",)


def _password() -> str:
    return secrets.token_hex(24)  # hex: text to nats-server's config parser


@dataclass(frozen=True)
class LocalCredentials:
    passwords: dict[str, str]  # config user -> password
    callout_seed: str  # the callout's account nkey seed; its public key is the issuer
    organisations: dict[str, str]  # organisation code -> its NATS secret

    @property
    def callout_issuer(self) -> str:
        return str(nkeys.from_seed(self.callout_seed.encode()).public_key.decode())

    def server_environment(self) -> dict[str, str]:
        """What the accounts file's `$GT_NATS_…` variables resolve to."""
        env = {password_variable(user): pw for user, pw in self.passwords.items()}
        return env | {ISSUER_VARIABLE: self.callout_issuer}

    def as_json(self) -> dict[str, object]:
        return {
            "passwords": self.passwords,
            "callout_seed": self.callout_seed,
            "organisations": self.organisations,
        }


def _free(port: int) -> bool:
    with socket.socket() as s:
        # As nats-server binds (Go sets SO_REUSEADDR): the connections of a run just stopped
        # or killed, in TIME_WAIT, leave the port free; a listening process does not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def remembered_port(data: Path, say: Callable[[str], object] = print) -> int:
    """The data directory's NATS port: the one chosen on its first start, again on every
    later start while it is free. A municipal system's consumer (docs/municipal-consumer.md)
    keeps its URL across a restart of `make run`; a new free port each start broke it."""
    path = data / PORT_FILE
    try:
        port = int(path.read_text().strip())
    except (OSError, ValueError):
        port = 0
    if 0 < port < 65536 and _free(port):
        return port
    if port:
        say(f"NATS port {port} of the earlier run in {data} is busy: NATS listens on another")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    path.write_text(f"{port}\n")
    return port


def credentials_path(data: Path) -> Path:
    return data / CREDENTIALS_FILE


def local_credentials(data: Path) -> LocalCredentials:
    """This data directory's credentials, made on first use (and completed when a user or a
    local organisation was added since); never replaced."""
    path = credentials_path(data)
    stored = json.loads(path.read_text()) if path.exists() else {}
    passwords = dict(stored.get("passwords", {}))
    organisations = dict(stored.get("organisations", {}))
    seed = (
        stored.get("callout_seed")
        or nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT).decode()
    )
    for user in USERS:
        passwords.setdefault(user, _password())
    for code in LOCAL_ORGANISATIONS:
        organisations.setdefault(code, secrets.token_hex(32))
    credentials = LocalCredentials(passwords, str(seed), organisations)
    if credentials.as_json() != stored:
        path.touch(mode=0o600)
        path.chmod(0o600)  # also when an older file had looser rights
        path.write_text(json.dumps(credentials.as_json(), indent=2))
    return credentials


GLOBAL_ACCOUNT = "$G"  # where a server without accounts keeps its streams
STREAMS_ACCOUNT = "GT"  # the account of the streams in the accounts file


def adopt_unauthenticated_store(data: Path) -> bool:
    """Move the streams of a data directory from before authentication (`make run` ran its
    server without accounts: account `$G`) into the GT account, so the next run resumes them.
    JetStream keeps each account's streams in a directory of the account's name."""
    accounts = data / JETSTREAM_DIR / "jetstream"
    old, new = accounts / GLOBAL_ACCOUNT, accounts / STREAMS_ACCOUNT
    if not old.is_dir() or new.exists():
        return False
    old.rename(new)
    return True


def server_config(data: Path) -> Path:
    """The server's configuration: JetStream under <data>/jetstream, the accounts file."""
    directory = data / CONFIG_DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "accounts.conf").write_text(render())
    config = directory / "server.conf"
    store = json.dumps(str(data / JETSTREAM_DIR))  # a quoted string for the config parser
    config.write_text(
        "# Written by `make run` (bootstrap.nats_local) at every start.\n"
        f"jetstream {{ store_dir: {store} }}\ninclude ./accounts.conf\n"
    )
    return config


@dataclass(frozen=True)
class Logins:
    """Connects as one of the accounts file's users, with this installation's password."""

    url: str
    credentials: LocalCredentials

    def password(self, user: str) -> str:
        return self.credentials.passwords[user]

    async def connect(self, user: str) -> NATS:
        return await nats.connect(
            self.url,
            name=f"embedded-{user}",
            user=user,
            password=self.password(user),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet_errors(f"embedded-{user}"),
        )
