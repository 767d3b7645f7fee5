"""How many contracts were in a status at a horizon, kept as signed corners instead of
counted per request (asof12).

`contracts(filter: {status})` at (D, K) counts the contract versions whose valid interval
holds D and whose known interval holds K: on the 100k generated history its count grew with
the history (100k/10k asOf p50 2.8x: the horizon index reads every version in the status
known then). A version is a rectangle [valid_from, valid_to) x [known_from, known_to), and
a rectangle is four signed corners: +1 at (valid_from, known_from), -1 at (valid_to,
known_from), -1 at (valid_from, known_to), +1 at (valid_to, known_to). The versions holding
(D, K) are then the sum of the corners at or before D and at or before K (a dominance sum).
Corners at the open end (`FOREVER`) are never reached by a horizon and are not written.

The corners are written with the versions themselves (`VersionedProjection.counted`, the
versioned tables' bulk path): an insert adds its two opening corners, a close its two
closing ones, in the contracts' own transaction, so the count and the rows never disagree. A
backdated fact re-derives versions (closes and inserts): its corners follow, nothing is
re-derived here. They are summed three ways, as the event log's counts
(`projections.event_counts`): `points` per exact (status, valid, known) corner (the two edge
strips of a horizon are ranges of it), `cells` per (status, week of valid, week of known),
and `weeks` per (status, week of valid) summed over the known axis (the count as known now).
The count at (D, K) is the cells wholly before D's and K's weeks + the corners of D's week
by D (known by K) + those before D's week known in K's week by K; known now, the weeks
before D's + D's week's corners. Its cost is the cells (or weeks) before D plus one week of
corners on each edge, not the number of versions: flat while the changes per week stay the
same.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

from eventstore.bulk import Statement
from eventstore.timeline import FOREVER
from eventstore.versioned import Corners
from gateway.projections.count_sql import adding, floor_div
from gateway.projections.event_counts import BUCKET, bucket

BLOCK = 64  # weeks a block (`StatusCorners(blocks=True)`), as the event log's per-code counts


class StatusCorners:
    """The three sums of one versioned table's corners by one column (the contracts' status;
    the tenders' phase since tenders v7, asof23: `width` the column's length, whose values
    are kept here under the name `status`)."""

    def __init__(
        self, prefix: str, metadata: MetaData, width: int = 20, blocks: bool = False
    ) -> None:
        self.points = Table(
            f"{prefix}_points",
            metadata,
            Column("status", String(width), primary_key=True),
            Column("valid", BigInteger, primary_key=True),
            Column("known", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            # K's strip: the corners of a status known in a range of known instants.
            Index(f"ix_{prefix}_points_known", "status", "known", "valid", "n"),
            sqlite_with_rowid=False,  # D's strip reads the primary key's b-tree alone
        )
        self.cells = Table(
            f"{prefix}_cells",
            metadata,
            Column("status", String(width), primary_key=True),
            Column("valid_bucket", BigInteger, primary_key=True),
            Column("known_bucket", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,
        )
        self.weeks = Table(
            f"{prefix}_weeks",
            metadata,
            Column("status", String(width), primary_key=True),
            Column("valid_bucket", BigInteger, primary_key=True),
            Column("n", Integer, nullable=False),
            sqlite_with_rowid=False,
        )
        # `blocks` (asof23, the tenders' phases): the weeks summed again per BLOCK weeks, so
        # that a count as known now reads the blocks before D's block and the weeks of D's
        # block before D's week (<= ~17 + 63 rows a value over the generator's twenty years)
        # instead of every week before D's (~1,000 a value once every week has a change).
        self.blocks: Table | None = None
        if blocks:
            self.blocks = Table(
                f"{prefix}_blocks",
                metadata,
                Column("status", String(width), primary_key=True),
                Column("block", BigInteger, primary_key=True),
                Column("n", Integer, nullable=False),
                sqlite_with_rowid=False,
            )

    def statements(self, dialect: Dialect, corners: Corners) -> list[Statement]:
        """The batch's corners added to their three sums: one multi-row upsert each."""
        points = [(s, v, k, n) for (s, v, k), n in corners.items() if n]
        if not points:
            return []
        cells: Counter[tuple[Any, int, int]] = Counter()
        weeks: Counter[tuple[Any, int]] = Counter()
        for s, v, k, n in points:
            cells[(s, bucket(v), bucket(k))] += n
            weeks[(s, bucket(v))] += n
        out = [
            Statement(adding(dialect, self.points), points),
            Statement(adding(dialect, self.cells), [(*key, n) for key, n in cells.items()]),
            Statement(adding(dialect, self.weeks), [(*key, n) for key, n in weeks.items()]),
        ]
        if self.blocks is not None:
            blocks: Counter[tuple[Any, int]] = Counter()
            for (s, week), n in weeks.items():
                blocks[(s, week // BLOCK)] += n
            out.append(
                Statement(adding(dialect, self.blocks), [(*key, n) for key, n in blocks.items()])
            )
        return out

    def derived(self, dialect: Dialect, versions: Table) -> list[Statement]:
        """The corners of every stored version of `versions` by its `status` column, into the
        empty sums (a rebuild from nothing that left them out of its batches: `contracts.
        ContractsProjection.derived`): the rows the batches' additions would have kept."""
        name = dialect.identifier_preparer.format_table
        points, cells, weeks = name(self.points), name(self.cells), name(self.weeks)
        v, k = floor_div("valid", BUCKET), floor_div("known", BUCKET)
        once: list[tuple[object, ...]] = [()]
        return [
            Statement(
                f"INSERT INTO {points} (status, valid, known, n) SELECT counted, valid, known,"
                f" sum(n) FROM ({corners_sql(dialect, versions, 'status')}) AS corners"
                " GROUP BY counted, valid, known HAVING sum(n) <> 0",
                once,
            ),
            Statement(
                f"INSERT INTO {cells} (status, valid_bucket, known_bucket, n) SELECT status,"
                f" {v}, {k}, sum(n) FROM {points} GROUP BY status, {v}, {k}",
                once,
            ),
            Statement(
                f"INSERT INTO {weeks} (status, valid_bucket, n) SELECT status, {v}, sum(n)"
                f" FROM {points} GROUP BY status, {v}",
                once,
            ),
            *self._derived_blocks(dialect, weeks),
        ]

    def _derived_blocks(self, dialect: Dialect, weeks: str) -> list[Statement]:
        """The blocks summed from the derived weeks (none without `blocks`)."""
        if self.blocks is None:
            return []
        blocks, week_block = (
            dialect.identifier_preparer.format_table(self.blocks),
            floor_div("valid_bucket", BLOCK),
        )
        return [
            Statement(
                f"INSERT INTO {blocks} (status, block, n) SELECT status, {week_block}, sum(n)"
                f" FROM {weeks} GROUP BY status, {week_block}",
                [()],
            )
        ]

    def count(self, known_now: bool) -> Executable:
        """The count of versions in any of `filter_statuses` holding the horizon, from the
        corners (see the module's docstring); parameters from `horizon_parameters`."""
        p, c = self.points, self.cells
        statuses: Any = bindparam("filter_statuses", expanding=True)
        valid: Any
        start: Any
        valid_bucket: Any
        valid, start, valid_bucket = (
            bindparam("corner_valid"),
            bindparam("corner_valid_start"),
            bindparam("corner_valid_bucket"),
        )

        def total(query: Any) -> Any:
            return query.scalar_subquery()

        strip = select(func.coalesce(func.sum(p.c.n), 0)).where(
            p.c.status.in_(statuses), p.c.valid >= start, p.c.valid <= valid
        )
        if known_now:
            w, b = self.weeks, self.blocks
            weeks = select(func.coalesce(func.sum(w.c.n), 0)).where(
                w.c.status.in_(statuses), w.c.valid_bucket < valid_bucket
            )
            if b is None:
                return select(total(weeks) + total(strip))
            block: Any = bindparam("corner_valid_block")
            block_start: Any = bindparam("corner_valid_block_start")
            before = select(func.coalesce(func.sum(b.c.n), 0)).where(
                b.c.status.in_(statuses), b.c.block < block
            )
            weeks = weeks.where(w.c.valid_bucket >= block_start)
            return select(total(before) + total(weeks) + total(strip))
        known: Any
        known_start: Any
        known_bucket: Any
        known, known_start, known_bucket = (
            bindparam("corner_known"),
            bindparam("corner_known_start"),
            bindparam("corner_known_bucket"),
        )
        whole = select(func.coalesce(func.sum(c.c.n), 0)).where(
            c.c.status.in_(statuses),
            c.c.valid_bucket < valid_bucket,
            c.c.known_bucket < known_bucket,
        )
        strip = strip.where(p.c.known <= known)
        edge = select(func.coalesce(func.sum(p.c.n), 0)).where(
            p.c.status.in_(statuses),
            p.c.known >= known_start,
            p.c.known <= known,
            p.c.valid < start,
        )
        return select(total(whole) + total(strip) + total(edge))


def corners_sql(dialect: Dialect, versions: Table, column: str) -> str:
    """A SELECT of every stored version's signed corners as (value, valid, known, n): the
    corners `eventstore.versioned._Writes` stages for `column` when a version is inserted
    (its two opening ones) and when it is closed (its two closing ones); an open end
    (`FOREVER`) has none. A version never written (known from and to one instant) had four
    that cancel; it is not stored and has none here."""
    quote = dialect.identifier_preparer.quote
    t = dialect.identifier_preparer.format_table(versions)
    value = quote(column)
    return " UNION ALL ".join(
        (
            f"SELECT {value} AS counted, valid_from AS valid, known_from AS known, 1 AS n FROM {t}",
            f"SELECT {value}, valid_to, known_from, -1 FROM {t} WHERE valid_to <> {FOREVER}",
            f"SELECT {value}, valid_from, known_to, -1 FROM {t} WHERE known_to <> {FOREVER}",
            f"SELECT {value}, valid_to, known_to, 1 FROM {t}"
            f" WHERE known_to <> {FOREVER} AND valid_to <> {FOREVER}",
        )
    )


def horizon_parameters(valid: int, known: int | None, blocks: bool = False) -> dict[str, int]:
    """The count's parameters at (valid, known) µs; known None: as known now. `blocks`:
    those of a count from blocks (`StatusCorners(blocks=True)`) too."""
    out = {
        "corner_valid": valid,
        "corner_valid_bucket": bucket(valid),
        "corner_valid_start": bucket(valid) * BUCKET,
    }
    if blocks:
        out |= {
            "corner_valid_block": bucket(valid) // BLOCK,
            "corner_valid_block_start": bucket(valid) // BLOCK * BLOCK,
        }
    if known is not None:
        out |= {
            "corner_known": known,
            "corner_known_bucket": bucket(known),
            "corner_known_start": bucket(known) * BUCKET,
        }
    return out
