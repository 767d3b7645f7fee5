"""How many municipalities took part in any programme at every valid instant as known now:
a stored step function instead of the municipalities tested per request (asof20).

`statistics.participation` at a past day D counted the municipalities (registered at D, not
merged away by D's day) that had some participant version holding D in a tender of some
programme: one EXISTS per municipality through the participants' organisation index, which
read every participation of the municipality begun by D (the bench's 10k history: 52k VM
steps, 100k: 203k; the answer the same three numbers).

The programme totals' pieces (`programme_counts`: each (programme, municipality) pair's spans
cut to the municipality's counted versions known now) already hold the answer per programme.
Here each municipality's pieces of every programme are united into its participation spans
(`spans`: disjoint intervals [valid_from, valid_to)), and the number of spans holding D is a
step function of D kept as `totals`: one row per instant where it changes, holding the value
from there on. The answer at D is the last row at or before D: one seek, however many
municipalities, programmes or participations the history has.

Written in the enrolment read model's transaction right after the programme totals, for
every municipality whose pieces they changed (the dirty pairs' pieces before and after
compared: a live enrolment marks every pair of its tender dirty, most come back the same):
its old spans' corners
(-1 where one begins, +1 where it ends) and its new spans' corners go to a scratch table
(`delta`), whose net per instant is folded into the totals as the programme totals fold
theirs. A backdated fact that re-derives versions re-derives its pairs' pieces and so these.

Only "as known now" is kept, as for the programme totals: the present and a past known
instant count the rows, unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Dialect

from eventstore.bulk import Statement
from eventstore.rebuild_indexes import WRITE_PATH
from eventstore.timeline import FOREVER


class ParticipationCounts:
    """The municipalities' participation spans, the running totals and one batch's scratch."""

    def __init__(self, prefix: str, metadata: MetaData) -> None:
        self.spans = Table(
            f"{prefix}_participation_spans",
            metadata,
            Column("organisation_code", String(40), primary_key=True),
            Column("valid_from", BigInteger, primary_key=True),
            Column("valid_to", BigInteger, nullable=False),
            sqlite_with_rowid=False,
        )
        self.totals = Table(
            f"{prefix}_participation_totals",
            metadata,
            Column("valid", BigInteger, primary_key=True),
            Column("total", Integer, nullable=False),
            sqlite_with_rowid=False,  # the seek at D reads the primary key's b-tree alone
        )
        # Empty between batches: the corners of the spans one batch removed and added.
        self.delta = Table(
            f"{prefix}_participation_delta",
            metadata,
            Column("valid", BigInteger, nullable=False),
            Column("n", Integer, nullable=False),
            Index(f"ix_{prefix}_participation_delta", "valid", "n", info={WRITE_PATH: True}),
        )

        # Empty between batches: the dirty pairs' pieces before the programme totals
        # replaced them, and the municipalities whose pieces that changed (only theirs are
        # recomputed: a live enrolment marks every pair of its tender dirty, and most of
        # them come back the same).
        self.before = Table(
            f"{prefix}_participation_before",
            metadata,
            Column("programme_id", String(128), primary_key=True),
            Column("organisation_code", String(40), primary_key=True),
            Column("valid_from", BigInteger, primary_key=True),
            Column("valid_to", BigInteger, nullable=False),
        )
        self.changed = Table(
            f"{prefix}_participation_changed",
            metadata,
            Column("organisation_code", String(40), primary_key=True),
        )

    @staticmethod
    def pieces_index(prefix: str, pieces: Table) -> Index:
        """A municipality's pieces of every programme (the spans are recomputed from them):
        the write path's own, kept while a rebuild writes."""
        return Index(
            f"ix_{prefix}_programme_pieces_organisation",
            pieces.c.organisation_code,
            pieces.c.valid_from,
            pieces.c.valid_to,
            info={WRITE_PATH: True},
        )

    def statements(
        self, dialect: Dialect, dirty: Table, pieces: Table
    ) -> tuple[list[Statement], list[Statement]]:
        """(before, after): `before` keeps the dirty pairs' pieces (run before the programme
        totals replace them); `after` recomputes the spans of every municipality whose pieces
        changed and folds the change into the totals (run after the programme totals,
        before the dirty pairs are forgotten)."""
        quote = dialect.identifier_preparer.format_table
        tables = (self.spans, self.totals, self.delta, dirty, pieces, self.before, self.changed)
        sp, to, de, di, pi, bf, ch = (quote(t) for t in tables)
        once: list[tuple[object, ...]] = [()]
        is_dirty = (
            "(organisation_code, programme_id) IN"
            f" (SELECT organisation_code, programme_id FROM {di})"
        )
        columns = "programme_id, organisation_code, valid_from, valid_to"
        keep = f"INSERT INTO {bf} ({columns}) SELECT {columns} FROM {pi} WHERE {is_dirty}"
        # The municipalities with a piece gone or new (the pieces of the dirty pairs only).
        now = f"SELECT {columns} FROM {pi} WHERE {is_dirty}"
        then = f"SELECT {columns} FROM {bf}"
        differ = (
            f"INSERT INTO {ch} (organisation_code)"
            f" SELECT organisation_code FROM ({then} EXCEPT {now}) gone"
            f" UNION SELECT organisation_code FROM ({now} EXCEPT {then}) new"
        )
        mine = f"organisation_code IN (SELECT organisation_code FROM {ch})"

        def corners(sign: int) -> str:
            # A span adds one from where it begins and takes it away where it ends (an end at
            # FOREVER is never reached by a horizon).
            return (
                f"INSERT INTO {de} (valid, n)"
                f" SELECT valid_from, {sign} FROM {sp} WHERE {mine}"
                f" UNION ALL SELECT valid_to, {-sign} FROM {sp}"
                f" WHERE {mine} AND valid_to < {FOREVER}"
            )

        # Each municipality's pieces of every programme; then the islands of their union (an
        # interval starting after every earlier one ended begins one; touching intervals
        # join: they are half-open), as the programme spans are made.
        parts = (
            "SELECT p.organisation_code AS o, p.valid_from AS s, p.valid_to AS e"
            f" FROM {ch} d CROSS JOIN {pi} p"
            " WHERE p.organisation_code = d.organisation_code"
        )
        marked = (
            "SELECT o, s, e, CASE WHEN s <= max(e) OVER (PARTITION BY o ORDER BY s, e"
            " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS fresh"
            f" FROM ({parts}) parts WHERE s < e"
        )
        numbered = (
            "SELECT o, s, e, sum(fresh) OVER (PARTITION BY o ORDER BY s, e"
            f" ROWS UNBOUNDED PRECEDING) AS island FROM ({marked}) marked"
        )
        compute = (
            f"INSERT INTO {sp} (organisation_code, valid_from, valid_to)"
            f" SELECT o, min(s), max(e) FROM ({numbered}) numbered GROUP BY o, island"
        )
        # A change point not stored yet takes the value before it; then each row at or after
        # the batch's first corner adds every corner at or before it (`programme_counts`).
        points = f"SELECT valid FROM {de} GROUP BY valid HAVING sum(n) <> 0"
        prior = f"SELECT t.total FROM {to} t WHERE t.valid < a.valid ORDER BY t.valid DESC LIMIT 1"
        new_points = (
            f"INSERT INTO {to} (valid, total) SELECT a.valid, coalesce(({prior}), 0)"
            f" FROM ({points}) a WHERE true ON CONFLICT DO NOTHING"
        )
        # Only the rows from the first instant whose net change is not nil: a municipality's
        # spans recomputed unchanged (most live batches) remove and add the same corners,
        # and then no total is touched.
        touched = f"valid >= (SELECT min(valid) FROM ({points}) changed)"
        added = (
            f"UPDATE {to} SET total = total + (SELECT coalesce(sum(d.n), 0) FROM {de} d"
            f" WHERE d.valid <= {to}.valid) WHERE {touched}"
        )
        # Kept minimal, so the rows are the step function's alone, whatever batches wrote
        # them (a rebuild and the live path store the same rows).
        previous = (
            f"SELECT t.total FROM {to} t WHERE t.valid < {to}.valid ORDER BY t.valid DESC LIMIT 1"
        )
        unchanged = f"DELETE FROM {to} WHERE {touched} AND total = coalesce(({previous}), 0)"
        return [Statement(keep, once)], [
            Statement(differ, once),
            Statement(corners(-1), once),
            Statement(f"DELETE FROM {sp} WHERE {mine}", once),
            Statement(compute, once),
            Statement(corners(1), once),
            Statement(new_points, once),
            Statement(added, once),
            Statement(unchanged, once),
            Statement(f"DELETE FROM {de}", once),
            Statement(f"DELETE FROM {bf}", once),
            Statement(f"DELETE FROM {ch}", once),
        ]

    def at(self, day: Any) -> Any:
        """The municipalities taking part at the valid instant `day` (a bound parameter)."""
        t = self.totals
        return select(t.c.total).where(t.c.valid <= day).order_by(t.c.valid.desc()).limit(1)
