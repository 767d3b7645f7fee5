"""A throwaway PostgreSQL cluster as a local process (tests, through
`eventstore.testing.postgres`, and the benchmarks).

initdb refuses to run as root, so when we are root the cluster runs as the `postgres`
user, in a temporary directory that user can reach, on a random loopback port.

pg_ctl detaches the server from us, so a process that dies without its teardown (a
pytest-timeout kill, SIGKILL, Ctrl-C twice) would leave it running for good. A small watchdog
process holds the read end of a pipe whose write end only we hold: when we are gone, however
we went, its read returns and it stops the cluster and deletes its directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eventstore.nats_launcher import free_port


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    raise RuntimeError(f"{name} not found: run `make bootstrap` (installs Debian's postgresql)")


WATCHDOG = """
import os, shutil, subprocess, sys
fd, base, *stop = sys.argv[1:]
os.read(int(fd), 1)  # returns when the owning process closed its end or died
subprocess.run(stop, capture_output=True, timeout=60)
shutil.rmtree(base, ignore_errors=True)
"""


class PostgresCluster:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        self.data = self.base / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self._command(*args), check=check, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresCluster:
        if self._as_root:
            shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o700)
        if not self.data.exists():
            self._run(
                pg_bin("initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            )
        self._start_watchdog()
        self._pg_ctl_start()
        return self

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._as_root else list(args)

    def _start_watchdog(self) -> None:
        if self._watchdog is not None:
            return
        read_end, self._lifeline = os.pipe()  # not inherited by other children (PEP 446)
        stop = self._command(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(read_end), str(self.base), *stop],
            pass_fds=(read_end,),
            start_new_session=True,  # a Ctrl-C to our process group does not stop it early
        )
        os.close(read_end)

    def _pg_ctl_start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off"
        self._run(
            pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.base / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self._pg_ctl_start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
            shutil.rmtree(self.base, ignore_errors=True)
        finally:
            if self._lifeline is not None:
                os.close(self._lifeline)  # the watchdog has nothing left to do and exits
                self._lifeline = None
            if self._watchdog is not None:
                self._watchdog.wait(timeout=60)
                self._watchdog = None

    def wait_ready(self, timeout: float = 10.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(
                    f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
                ).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
