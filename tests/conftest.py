"""The whole suite's scratch space: on a RAM disk where the machine has one; compiled bytecode
kept there too.

Every test's files (tmp_path, the nats-servers' JetStream stores, SQLite read models) are
written with fsync; on a disk shared with busy neighbours each commit waits for it (loading
the demo history took 8 s on disk, under 3 s on tmpfs, measured once side by side). Same
files, same code paths, same assertions: only where the bytes live changes. An explicit TMPDIR wins,
and without a tmpfs with room to spare nothing changes.

`make` sets PYTHONDONTWRITEBYTECODE (no __pycache__ in the tree), so every Python process the
suite starts (services, CLIs, the reference-data job) compiled its whole import graph from
source again: about a second of CPU each. Bytecode now goes to a cache outside the tree
(PYTHONPYCACHEPREFIX), written once and reused by every later process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

RAM_DISK = Path("/dev/shm")
ROOM = 4 * 1024**3  # free bytes the RAM disk must have before the suite writes there
LOCKS = "PYTEST_GT_LOCKS"  # with pytest-xdist: the run's lock directory (see the end)


def ram_scratch() -> Path | None:
    if os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return None
    try:
        if shutil.disk_usage(RAM_DISK).free < ROOM:
            return None
        scratch = RAM_DISK / f"gt-tests-{os.getuid()}"
        scratch.mkdir(mode=0o700, exist_ok=True)
        if scratch.stat().st_uid != os.getuid():
            return None  # someone else's directory: not ours to write into
        with tempfile.TemporaryFile(dir=scratch):  # writable
            pass
    except OSError:
        return None
    return scratch


def bytecode_outside_the_tree(scratch: Path) -> None:
    cache = scratch / f"gt-pycache-{os.getuid()}"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    sys.pycache_prefix = str(cache)
    sys.dont_write_bytecode = False


def pytest_configure(config: pytest.Config) -> None:
    scratch = ram_scratch()
    if scratch is not None:
        os.environ["TMPDIR"] = str(scratch)  # child processes (services, servers) too
        tempfile.tempdir = None  # recomputed from TMPDIR on next use (pytest's basetemp too)
    if sys.pycache_prefix is None:
        bytecode_outside_the_tree(Path(tempfile.gettempdir()))
    controller = not hasattr(config, "workerinput")
    if controller and config.getoption("numprocesses", None) and LOCKS not in os.environ:
        os.environ[LOCKS] = tempfile.mkdtemp(prefix="gt-locks-")  # the workers inherit it


# Hypothesis's deadline (200 ms an example by default) is a timed assertion: on this shared
# two-core machine at load 15-20 an example took over a second of wall time, and such an
# example fails the test (DeadlineExceeded, or Flaky when its replay is quick). Every
# property test runs without one; a test's own `@settings` inherit this profile (loaded
# here, before any test module is imported). The examples, their number and the shrinking
# are unchanged.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


# ---- on two workers (pytest-xdist: `make test` by default; see the Makefile) ----
#
# Work is handed out a module at a time (`--dist loadscope`), so a module-scoped server or
# topology is started once, by one worker; the browser tests share one package-scoped system
# and are kept together too. A test whose assertion compares timings (marked `alone`) runs
# with the other worker idle: the other worker's next test waits, and this one waits for the
# other's current test to end. A turnstile keeps a stream of ordinary tests from starving it.


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getoption("dist", None) != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/browser" if path.startswith("tests/browser/") else path

        def _reschedule(self, node: Any) -> None:
            # A worker that died (a test's timeout ends its process) is replaced; the next
            # worker to finish collecting reschedules every node, the replacement too, whose
            # own collection may not be in yet: xdist 3.8 then failed the whole run
            # (INTERNALERROR KeyError: <WorkerController gw3>, every result unreported). The
            # replacement gets its work when its own collection is in (`schedule` again).
            if node in self.registered_collections:
                super()._reschedule(node)

    return ByModule(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and LOCKS in os.environ:
        shutil.rmtree(os.environ.pop(LOCKS), ignore_errors=True)


def _lock(name: str) -> int:
    return os.open(Path(os.environ[LOCKS]) / name, os.O_RDWR | os.O_CREAT)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    if not hasattr(item.config, "workerinput") or LOCKS not in os.environ:
        return (yield)
    import fcntl

    turnstile, running = _lock("turnstile"), _lock("running")
    try:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        alone = item.get_closest_marker("alone") is not None
        fcntl.flock(running, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        return (yield)
    finally:
        os.close(running)  # releases its lock
        os.close(turnstile)


@pytest.fixture(autouse=True)
def not_the_checkouts_make_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit CLI and the services fall back on ./data (GT_DATA_DIR's default): a `make
    run` in this checkout would lend a test its endpoints.json, its database and its
    auditor's login (the audit and backup tests then failed beside a running system). A test
    that wants a data directory sets its own."""
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "no-make-run"))


# ---- no nats-server outlives the module that started it ----
#
# A test whose fixture started a nats-server and then failed before its teardown was wired
# (or a helper that never stopped one) left the server running for as long as the worker
# lived: the nats_launcher's watchdog ends them only when the worker process dies. suite12
# saw one of a test 67 minutes gone. Each module's leftovers are killed at its end and
# named in a warning. (The browser tests' system is package-scoped: it outlives modules.)


def _nats_servers() -> set[int]:
    """The running nats-servers whose parent is this process."""
    me, found = os.getpid(), set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        name, fields = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :]
        state, parent = fields.split()[:2]
        if name == "nats-server" and int(parent) == me and state != "Z":
            found.add(int(entry.name))
    return found


@pytest.fixture(scope="module", autouse=True)
def no_nats_server_outlives_its_module(request: pytest.FixtureRequest) -> Iterator[None]:
    if not Path("/proc/self/stat").exists() or request.node.nodeid.startswith("tests/browser"):
        yield
        return
    before = _nats_servers()
    yield
    left = _nats_servers() - before
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if left:
        warnings.warn(
            f"{request.node.nodeid} left nats-server(s) {sorted(left)} running: killed",
            pytest.PytestWarning,
            stacklevel=1,
        )
