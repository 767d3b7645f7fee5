"""Is a SQLite read-model file whole? A failing disk leaves pages that SQLite cannot read;
the read models in that file are then rebuilt from the streams (`audit projections rebuild`)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import URL, make_url


def sqlite_file(database_url: str | URL) -> Path | None:
    """The file behind a SQLite URL; None for another database or an in-memory one."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def corruption(path: Path) -> str | None:
    """What SQLite's quick_check (every page and b-tree, without the slower index
    cross-check) finds wrong with the file; None when it is whole or absent."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as conn:
            found = [str(r[0]) for r in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if found == ["ok"] else "; ".join(found[:3])


def set_aside_if_corrupt(database_url: str) -> Path | None:
    """A SQLite read-model file that fails quick_check is renamed (kept, never deleted), so
    that the rebuild starts from an empty file; its place is the same URL. None if whole."""
    path = sqlite_file(database_url)
    if path is None or corruption(path) is None:
        return None
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    path.rename(aside)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.rename(aside.with_name(aside.name + suffix))
    return aside
