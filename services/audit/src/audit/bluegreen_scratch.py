"""The scratch directory a blue-green rebuild builds green in, and the stale ones cleaned.

A rebuild removes its `audit-green-*` directory when it ends or fails; one killed outright
(SIGKILL, a power cut) cannot, and its files (up to a whole copy of the read models) stay
in the temporary directory. So each rebuild holds an exclusive `flock` on a file in its
directory for as long as it runs (the kernel releases it when the process dies, however it
dies; forked group processes share it and die with their parent), and the next rebuild
removes every `audit-green-*` directory whose lock it can take: nobody is building there.
A rebuild running beside it holds its lock, and its directory is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "audit-green-"
LOCK = ".rebuilding"


def clean_stale(parent: Path | None = None) -> list[Path]:
    """Remove the scratch directories of rebuilds that are no longer running; the removed."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for directory in sorted(parent.glob(f"{PREFIX}*")):
        if not directory.is_dir() or directory.is_symlink():
            continue
        try:
            fd = os.open(directory / LOCK, os.O_RDONLY)
        except FileNotFoundError:
            # Made by a rebuild that has not taken its lock yet (between `mkdtemp` and the
            # lock: microseconds), or by a version before the lock: left for an operator.
            continue
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                # A rebuild is running there (BlockingIOError), or this filesystem cannot
                # lock (some network mounts): leave what cannot be shown dead.
                continue
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def green_scratch() -> Iterator[Path]:
    """A fresh scratch directory, locked while this rebuild runs and removed at its end;
    stale ones of killed rebuilds removed first."""
    clean_stale()
    directory = Path(tempfile.mkdtemp(prefix=PREFIX))
    # Locked before it gets the name a cleaner looks for: never seen unlocked.
    fd = os.open(directory / f"{LOCK}.new", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):  # no locks here: cleaners cannot lock it either
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(directory / f"{LOCK}.new", directory / LOCK)
        yield directory
    finally:
        os.close(fd)
        shutil.rmtree(directory, ignore_errors=True)
