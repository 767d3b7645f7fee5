"""How many contracts a supplier had at a horizon, kept as counts instead of counted per
request (asof20).

`contracts(filter: {supplierId})` at (D, K) counted the supplier's rows (`contract_suppliers`
versions) holding the horizon, through the supplier's horizon index: every version of the
supplier known then was read, so the count grew with the supplier's contracts (the bench's
busiest supplier: 49 contracts at 10k generated events, 671 at 100k; 3k -> 34k VM steps).

A version is a rectangle [valid_from, valid_to) x [known_from, known_to): four signed corners
(`VersionedProjection.counted`, written with the versions in the contracts' own transaction,
as the status corners are: `status_counts`). The versions holding (D, K) are the corners at
or before D and at or before K. Here they are summed per supplier three ways:

- `points`: each exact (supplier, valid, known) corner: the two edge strips of a horizon (the
  corners of D's week by D; those before D's week known in K's week by K) are ranges of it;
- `tree`: the corners per (supplier, week of valid, week of known) as a two-dimensional
  Fenwick tree per supplier (as the event log's counts, `event_counts` v2): the cells wholly
  before D's week and K's are the nodes of D's downward chain x K's, at most `LEVELS` x
  `LEVELS` primary-key seeks (known now: K's chain is the root alone, at most `LEVELS`),
  whatever the supplier's number of contracts or the history's length.

A backdated fact re-derives versions (closes and inserts): their corners follow, nothing is
re-derived here. A supplier's count is its versions', and every supplier version lies inside
its contract's (both are the same fold's image: a supplier row exists while the contract
does), so it is the filtered contracts' count.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Dialect

from eventstore.bulk import Statement
from eventstore.versioned import Corners
from gateway.projections.count_sql import adding
from gateway.projections.event_counts import (
    BUCKET,
    LEVELS,
    SIZE,
    bucket,
    chain_parameters,
    downward,
    place,
    upward,
)

SUPPLIER = "filter_supplier"  # the contracts filter's own parameter (schema.filters)


class SupplierCounts:
    """The corners of the contracts' supplier rows, per supplier: points and a Fenwick tree."""

    def __init__(self, prefix: str, metadata: MetaData) -> None:
        self.points = Table(
            f"{prefix}_points",
            metadata,
            Column("supplier_id", String(40), primary_key=True),
            Column("valid", BigInteger, primary_key=True),
            Column("known", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            # K's strip: a supplier's corners known in a range of known instants.
            Index(f"ix_{prefix}_points_known", "supplier_id", "known", "valid", "n"),
            sqlite_with_rowid=False,  # D's strip reads the primary key's b-tree alone
        )
        self.tree = Table(
            f"{prefix}_tree",
            metadata,
            Column("supplier_id", String(40), primary_key=True),
            Column("v", Integer, primary_key=True),
            Column("k", Integer, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,  # the sum reads the primary key's b-tree alone
        )

    def statements(self, dialect: Dialect, corners: Corners) -> list[Statement]:
        """The batch's corners added to the points and the tree: one multi-row upsert each."""
        points = [(s, v, k, n) for (s, v, k), n in corners.items() if n]
        if not points:
            return []
        nodes: Counter[tuple[Any, int, int]] = Counter()
        chains: dict[int, list[int]] = {}  # a week's upward chain (the same in both axes)
        cells: Counter[tuple[Any, int, int]] = Counter()
        for s, v, k, n in points:
            cells[(s, bucket(v), bucket(k))] += n
        for (s, valid_week, known_week), n in cells.items():
            if not n:
                continue
            for week in (valid_week, known_week):
                if week not in chains:
                    chains[week] = upward(place(week))
            ks = chains[known_week]
            for i in chains[valid_week]:
                for j in ks:
                    nodes[(s, i, j)] += n
        statements = [Statement(adding(dialect, self.points), points)]
        rows = [(s, i, j, n) for (s, i, j), n in nodes.items() if n]
        if rows:
            statements.append(Statement(adding(dialect, self.tree), rows))
        return statements

    def count(self, known_now: bool) -> Any:
        """The supplier's (`filter_supplier`) versions holding the horizon, from the points
        and the tree (the module's docstring); parameters from `parameters`."""
        tree, points = self.tree.name, self.points.name

        def chain(prefix: str) -> str:
            return ", ".join(f"(CAST(:{prefix}_{x} AS INTEGER))" for x in range(LEVELS))

        # The tree's nodes of D's chain x K's (known now: the root's column alone), each one
        # seek of the primary key; SQLite keeps a CROSS JOIN's order as written.
        if known_now:
            whole = (
                f"WITH vs(v) AS (VALUES {chain('supplier_v')})"
                f" SELECT coalesce(sum(t.n), 0) FROM vs CROSS JOIN {tree} t"
                f" WHERE t.supplier_id = :{SUPPLIER} AND t.v = vs.v AND t.k = {SIZE}"
            )
        else:
            whole = (
                f"WITH vs(v) AS (VALUES {chain('supplier_v')}),"
                f" ks(k) AS (VALUES {chain('supplier_k')})"
                f" SELECT coalesce(sum(t.n), 0) FROM vs CROSS JOIN ks CROSS JOIN {tree} t"
                f" WHERE t.supplier_id = :{SUPPLIER} AND t.v = vs.v AND t.k = ks.k"
            )
        # D's strip: the corners of D's week by D (known by K).
        strip = (
            f"SELECT coalesce(sum(p.n), 0) FROM {points} p WHERE p.supplier_id = :{SUPPLIER}"
            " AND p.valid >= :supplier_valid_start AND p.valid <= :supplier_valid"
        )
        parts = [whole, strip]
        if not known_now:
            strip += " AND p.known <= :supplier_known"
            # K's strip: the corners before D's week that became known in K's week by K.
            edge = (
                f"SELECT coalesce(sum(p.n), 0) FROM {points} p"
                f" WHERE p.supplier_id = :{SUPPLIER}"
                " AND p.known >= :supplier_known_start AND p.known <= :supplier_known"
                " AND p.valid < :supplier_valid_start"
            )
            parts = [whole, strip, edge]
        total = " + ".join(f"({part})" for part in parts)
        return text(f"SELECT {total} AS n").columns(n=Integer)


def parameters(valid: int, known: int | None) -> dict[str, int]:
    """The count's own parameters at (valid, known) µs; known None: as known now."""
    out = {
        "supplier_valid": valid,
        "supplier_valid_start": bucket(valid) * BUCKET,
        **chain_parameters("supplier_v", downward(place(bucket(valid)) - 1)),
    }
    if known is not None:
        out |= {
            "supplier_known": known,
            "supplier_known_start": bucket(known) * BUCKET,
            **chain_parameters("supplier_k", downward(place(bucket(known)) - 1)),
        }
    return out
