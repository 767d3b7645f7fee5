"""How many contracts a supplier had at a valid instant as known now, kept as counts instead
of counted per request (asof20).

`contracts(filter: {supplierId})` at (D, K) counted the supplier's rows (`contract_suppliers`
versions) holding the horizon, through the supplier's horizon index: every version of the
supplier known then was read, so the count grew with the supplier's contracts (the bench's
busiest supplier: 49 contracts at 10k generated events, 671 at 100k; 3k -> 34k VM steps).

A version is a rectangle [valid_from, valid_to) x [known_from, known_to): four signed corners
(`VersionedProjection.counted`, written with the versions in the contracts' own transaction,
as the status corners are: `status_counts`). As known now every version not yet closed in
the known axis counts, and a closed one's closing corners cancel its opening ones: the
versions holding D are the corners at or before D in the valid axis, whatever their known
instant. They are summed per supplier two ways:

- `points`: per (supplier, valid instant): D's strip (the corners of D's week, by D) is a
  range of it;
- `tree`: per (supplier, week of valid) as a Fenwick tree per supplier (weeks numbered as the
  event log's counts number them, `event_counts`): the weeks wholly before D's are the nodes
  of D's downward chain, at most `LEVELS` primary-key seeks, whatever the supplier's number
  of contracts or the history's length. A corner adds to its week's upward chain (~10
  nodes).

A backdated fact re-derives versions (closes and inserts): their corners follow, nothing is
re-derived here. A supplier's count is its versions', and every supplier version lies inside
its contract's (both are the same fold's image: a supplier row exists while the contract
does), so it is the filtered contracts' count.

Only "as known now" is kept (asof20 first kept the known axis too, a two-dimensional tree:
the contracts' rebuild cost +30-45 us/event, ~1.6x; measured, reverted): a past known instant
counts the rows, unchanged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Dialect

from eventstore.bulk import Statement
from eventstore.versioned import Corners
from gateway.projections.count_sql import adding, floor_div
from gateway.projections.event_counts import (
    BUCKET,
    LEVELS,
    ORIGIN,
    SIZE,
    bucket,
    chain_parameters,
    downward,
    place,
    upward,
)
from gateway.projections.status_counts import corners_sql

SUPPLIER = "filter_supplier"  # the contracts filter's own parameter (schema.filters)


class SupplierCounts:
    """The corners of the contracts' supplier rows per supplier, as known now: points by
    valid instant and a Fenwick tree of the weeks."""

    def __init__(self, prefix: str, metadata: MetaData) -> None:
        self.points = Table(
            f"{prefix}_points",
            metadata,
            Column("supplier_id", String(40), primary_key=True),
            Column("valid", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,  # D's strip reads the primary key's b-tree alone
        )
        self.tree = Table(
            f"{prefix}_tree",
            metadata,
            Column("supplier_id", String(40), primary_key=True),
            Column("v", Integer, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,  # the sum reads the primary key's b-tree alone
        )

    def statements(self, dialect: Dialect, corners: Corners) -> list[Statement]:
        """The batch's corners added to the points and the tree: one multi-row upsert each."""
        points: Counter[tuple[Any, int]] = Counter()
        for (s, v, _known), n in corners.items():
            if n:
                points[(s, v)] += n
        weeks: Counter[tuple[Any, int]] = Counter()
        for (s, v), n in points.items():
            if n:
                weeks[(s, bucket(v))] += n
        nodes: Counter[tuple[Any, int]] = Counter()
        for (s, week), n in weeks.items():
            if n:
                for i in upward(place(week)):
                    nodes[(s, i)] += n
        statements = []
        rows = [(s, v, n) for (s, v), n in points.items() if n]
        if rows:
            statements.append(Statement(adding(dialect, self.points), rows))
        tree = [(s, i, n) for (s, i), n in nodes.items() if n]
        if tree:
            statements.append(Statement(adding(dialect, self.tree), tree))
        return statements

    def derived(self, dialect: Dialect, versions: Table) -> list[Statement]:
        """The corners of every stored supplier row (`versions`), as known now, into the
        empty points and tree (a rebuild from nothing that left them out of its batches:
        `contracts.ContractsProjection.derived`): each week's sum added up its upward chain
        (`upward(place(week))`: one node per level), the nodes summed; zero sums not kept,
        as the batches keep none."""
        name = dialect.identifier_preparer.format_table
        points, tree = name(self.points), name(self.tree)
        week = floor_div("valid", BUCKET)
        placed = f"{week} - ({ORIGIN})"
        place_sql = (
            f"CASE WHEN {placed} < 1 THEN 1 WHEN {placed} > {SIZE} THEN {SIZE} ELSE {placed} END"
        )
        once: list[tuple[object, ...]] = [()]
        return [
            Statement(
                f"INSERT INTO {points} (supplier_id, valid, n) SELECT counted, valid, sum(n)"
                f" FROM ({corners_sql(dialect, versions, 'supplier_id')}) AS corners"
                " GROUP BY counted, valid HAVING sum(n) <> 0",
                once,
            ),
            # The nodes of a week's upward chain, one per level L where there is one: with
            # k = ceil(p / 2^L) (p the week's place), the node k * 2^L when k is odd (its
            # lowest bit is 2^L) and within the tree; `upward(p)` visits exactly these.
            Statement(
                f"WITH placed(supplier_id, p, n) AS (SELECT supplier_id, {place_sql},"
                f" sum(n) FROM {points} GROUP BY supplier_id, {place_sql}),"
                f" levels(l) AS (VALUES {', '.join(f'({level})' for level in range(LEVELS + 1))})"
                f" INSERT INTO {tree} (supplier_id, v, n)"
                " SELECT supplier_id, ((((p - 1) >> l) + 1) << l) AS node, sum(n)"
                " FROM placed CROSS JOIN levels"
                f" WHERE (((p - 1) >> l) + 1) & 1 = 1 AND ((((p - 1) >> l) + 1) << l) <= {SIZE}"
                " GROUP BY supplier_id, node HAVING sum(n) <> 0",
                once,
            ),
        ]

    def count(self) -> Any:
        """The supplier's (`filter_supplier`) versions holding the valid instant as known
        now, from the tree and the points (the module's docstring); parameters from
        `parameters`."""
        tree, points = self.tree.name, self.points.name
        chain = ", ".join(f"(CAST(:supplier_v_{x} AS INTEGER))" for x in range(LEVELS))
        # The tree's nodes of D's chain, each one seek of the primary key (SQLite keeps a
        # CROSS JOIN's order as written); D's strip: the corners of D's week by D.
        whole = (
            f"WITH vs(v) AS (VALUES {chain}) SELECT coalesce(sum(t.n), 0) FROM vs"
            f" CROSS JOIN {tree} t WHERE t.supplier_id = :{SUPPLIER} AND t.v = vs.v"
        )
        strip = (
            f"SELECT coalesce(sum(p.n), 0) FROM {points} p WHERE p.supplier_id = :{SUPPLIER}"
            " AND p.valid >= :supplier_valid_start AND p.valid <= :supplier_valid"
        )
        return text(f"SELECT ({whole}) + ({strip}) AS n").columns(n=Integer)


def parameters(valid: int) -> dict[str, int]:
    """The count's own parameters at the valid instant `valid` (µs), as known now."""
    return {
        "supplier_valid": valid,
        "supplier_valid_start": bucket(valid) * BUCKET,
        **chain_parameters("supplier_v", downward(place(bucket(valid)) - 1)),
    }
