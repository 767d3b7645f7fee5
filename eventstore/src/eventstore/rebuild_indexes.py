"""A rebuild from nothing writes into tables without their read indexes, then builds them.

Every row a rebuild inserts updates each index of its table, one B-tree descent per index
(4-6 per read-model table); building an index once over the finished table is cheaper. So
a runner that starts with no position at all and catches up in bulk (`eventstore.catchup`)
drops its tables' read indexes first and creates them again when its catch-up has ended.
Indexes the write path itself needs stay: a versioned table's key index (closing an open
version finds it by key) and every primary key and unique constraint. Whatever happens in
between (a crash, a stop), the runner's next start creates every missing index
(`ensure`): the schema in the end is the one `create_all` makes.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Index, MetaData, inspect

log = logging.getLogger(__name__)

WRITE_PATH = "write_path"  # Index.info flag: the write path looks rows up by it


def read_indexes(metadata: MetaData) -> list[Index]:
    """The indexes of the tables only readers need (dropped while rebuilding)."""
    return [
        index
        for table in metadata.sorted_tables
        for index in sorted(table.indexes, key=lambda i: str(i.name))
        if not index.info.get(WRITE_PATH)
    ]


def drop(conn: Connection, indexes: list[Index]) -> None:
    for index in indexes:
        index.drop(conn, checkfirst=True)
    log.info("rebuild: %d read indexes dropped until the catch-up ends", len(indexes))


def ensure(conn: Connection, metadata: MetaData) -> None:
    """Create every index of the tables that is missing (after a rebuild, or a crash in it),
    and build again one whose columns are no longer the ones defined (an index widened in a
    later release: the read model's rows are the same, so no new version of it is needed)."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        built = {
            index["name"]: list(index["column_names"])
            for index in inspector.get_indexes(table.name, schema=table.schema)
        }
        for index in table.indexes:
            columns = built.get(str(index.name))
            if columns is not None and columns != [c.name for c in index.columns]:
                log.info(
                    "read index %s: columns %s, defined %s: built again",
                    index.name,
                    columns,
                    [c.name for c in index.columns],
                )
                index.drop(conn)
                columns = None
            if columns is None:
                index.create(conn)
