"""`python -m bench.asof_copy_version DB NAME OLD`: a kept as-of read model given a read
model's new version by copying its rows from the old version, when the two differ only in
their indexes (asof22: contracts v8 -> v9 added an index by supplier and contract and dropped
the supplier's horizon index; the projection writes the same rows).

`bench.suites.asof.extend` builds a missing version through the projection's runner from the
generated history: at 1M events contracts alone took ~14 min at load ~15, plus the history
generated again. Copying the rows is SQLite's own work (seconds to a minute). The tool
refuses unless the two versions define the same tables with the same columns; the rows are
the product's only if the projection's code writes the same rows in both versions, which is
checked on a smaller read model built both ways (`--check DB`: every table of the new
version, built by `extend`, equal to the old one's, row for row).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, inspect, text

from bootstrap.parts import projection_runner
from eventstore.sql import make_engine
from gateway.projections import ALL


def _kind(name: str) -> Any:
    for kind in ALL:
        if kind.name == name:
            return kind
    raise SystemExit(f"no gateway read model named {name!r}")


def _tables(kind: Any, version: int) -> dict[str, list[str]]:
    projection = kind()
    projection.version = version
    metadata = MetaData()
    projection.define(metadata)
    return {name: [c.name for c in table.columns] for name, table in metadata.tables.items()}


def _renamed(name: str, old: str, new: str) -> str:
    assert name.startswith(old), (name, old)
    return new + name[len(old) :]


def copy(url: str, name: str, old: int) -> list[tuple[str, int]]:
    """Create the code's version of `name` in `url` and copy every table's rows (and the
    checkpoints) from version `old`. Returns (table, rows copied)."""
    kind = _kind(name)
    new = kind().version
    before, after = _tables(kind, old), _tables(kind, new)
    old_key, new_key = f"{name}_v{old}", f"{name}_v{new}"
    if {_renamed(t, old_key, new_key): c for t, c in before.items()} != after:
        raise SystemExit(f"{old_key} and {new_key} differ in more than their indexes")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
        if set(after) <= present:
            raise SystemExit(f"{new_key} is there already")
        if not set(before) <= present:
            raise SystemExit(f"{old_key} is not there")
        runner = projection_runner(None, engine, kind(), batch=2_000)  # type: ignore[arg-type]
        runner.create_tables()
        copied = []
        with engine.begin() as conn:
            for table, columns in before.items():
                listed = ", ".join(columns)
                target = _renamed(table, old_key, new_key)
                conn.execute(text(f"DELETE FROM {target}"))
                conn.execute(text(f"INSERT INTO {target} ({listed}) SELECT {listed} FROM {table}"))
                rows = conn.execute(text(f"SELECT count(*) FROM {target}")).scalar_one()
                copied.append((target, int(rows)))
            conn.execute(
                text("DELETE FROM projection_checkpoints WHERE projection = :new"), {"new": new_key}
            )
            conn.execute(
                text(
                    "INSERT INTO projection_checkpoints (projection, stream, seq, updated_at)"
                    " SELECT :new, stream, seq, updated_at FROM projection_checkpoints"
                    " WHERE projection = :old"
                ),
                {"new": new_key, "old": old_key},
            )
        return copied
    finally:
        engine.dispose()


def check(url: str, name: str, old: int) -> list[tuple[str, int, int]]:
    """(table, rows only in the old version, rows only in the new) for each table of a read
    model holding both versions built by their runners: all zero when the rows are the same."""
    kind = _kind(name)
    new = kind().version
    old_key, new_key = f"{name}_v{old}", f"{name}_v{new}"
    engine = make_engine(url)
    out = []
    try:
        with engine.connect() as conn:
            for table, columns in _tables(kind, old).items():
                listed = ", ".join(columns)
                target = _renamed(table, old_key, new_key)
                one = conn.execute(
                    text(
                        f"SELECT count(*) FROM (SELECT {listed} FROM {table}"
                        f" EXCEPT SELECT {listed} FROM {target})"
                    )
                ).scalar_one()
                other = conn.execute(
                    text(
                        f"SELECT count(*) FROM (SELECT {listed} FROM {target}"
                        f" EXCEPT SELECT {listed} FROM {table})"
                    )
                ).scalar_one()
                out.append((table, int(one), int(other)))
    finally:
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database")
    parser.add_argument("name", help="the read model (e.g. contracts)")
    parser.add_argument("old", type=int, help="the version whose rows are copied")
    parser.add_argument("--check", action="store_true", help="compare, do not copy")
    args = parser.parse_args()
    url = f"sqlite:///{Path(args.database).resolve()}"
    started = time.perf_counter()
    if args.check:
        for table, one, other in check(url, args.name, args.old):
            print(f"{table}: {one} rows only in v{args.old}, {other} only in the new version")
        return
    for table, rows in copy(url, args.name, args.old):
        print(f"{table}: {rows:,} rows")
    print(f"copied in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
