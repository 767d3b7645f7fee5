"""How many municipalities took part in each programme, per province, at every valid instant
as known now: stored running totals instead of the pairs counted per request (flat14).

`participationByProgramme` (and per province) at a past day D as known now counted the
(programme, municipality) pairs holding D from the stored spans (`programme_spans`, asof13),
joined to the municipalities counted at D (registered then, not merged away by D's day). The
pairs grow with the history (the generator's 100k history has 122 programmes to the 10k's
11: 16k pairs at the middle day to 1k), so reading them is not flat. Here each pair's spans
are cut once more, to the versions of its municipality that count (known now: registered,
and before the Dutch midnight of the day a merger takes effect), each piece carrying that
version's province (`pieces`). The number of pieces holding D per (programme, province) is a
step function of D, kept as `totals`: one row per instant where it changes, holding the
value from there on. The answer at D is, per (programme, province) in `keys`, the last row
at or before D: one index seek each, however many pairs and changes the history has.

Written in the enrolment read model's transaction after the spans (both relations are its
own: `organisation_counted` is its image of the organisation fold), for every pair whose
spans were recomputed and every pair of an organisation the batch touched: the old pieces'
corners (-1 where one begins, +1 where it ends) and the new pieces' corners go to a scratch
table (`delta`), and their net per instant is folded into the running totals (a new change
point takes the value before it; every row at or after a corner adds it).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Dialect

from contracts_schema.calendar import dutch_midnight
from eventstore.bitemporal_sql import micros
from eventstore.bulk import Statement
from eventstore.rebuild_indexes import WRITE_PATH
from eventstore.timeline import FOREVER

UNKNOWN = "unknown"  # the province of a municipality registered without one, as answered
NEVER = -(2**62)  # counted until: a merger recorded without its day never counts it


def counted_until(successor_code: str | None, merged_on: date | None) -> int:
    """The instant a municipality stops being counted (`participation.not_merged_away`: a
    merger counts from the Dutch day it takes effect; one without a day from always)."""
    if successor_code is None:
        return FOREVER
    if merged_on is None:
        return NEVER
    return micros(dutch_midnight(merged_on))


class ProgrammeCounts:
    """The pieces, the running totals, their keys and the scratch table of one batch."""

    def __init__(self, prefix: str, metadata: MetaData) -> None:
        self.pieces = Table(
            f"{prefix}_programme_pieces",
            metadata,
            Column("programme_id", String(128), primary_key=True),
            Column("organisation_code", String(40), primary_key=True),
            Column("valid_from", BigInteger, primary_key=True),
            Column("valid_to", BigInteger, nullable=False),
            Column("province", String(80), nullable=False),
            sqlite_with_rowid=False,
        )
        self.totals = Table(
            f"{prefix}_programme_totals",
            metadata,
            Column("programme_id", String(128), primary_key=True),
            Column("province", String(80), primary_key=True),
            Column("valid", BigInteger, primary_key=True),
            Column("total", Integer, nullable=False),
            sqlite_with_rowid=False,  # the seek at D reads the primary key's b-tree alone
        )
        self.keys = Table(
            f"{prefix}_programme_total_keys",
            metadata,
            Column("programme_id", String(128), primary_key=True),
            Column("province", String(80), primary_key=True),
            sqlite_with_rowid=False,
        )
        # Empty between batches: the corners of the pieces one batch removed and added.
        self.delta = Table(
            f"{prefix}_programme_delta",
            metadata,
            Column("programme_id", String(128), nullable=False),
            Column("province", String(80), nullable=False),
            Column("valid", BigInteger, nullable=False),
            Column("n", Integer, nullable=False),
            # Each total's corners at or before it (the update reads them per total row):
            # the write path's own, kept while a rebuild writes (apply15: without it each
            # total row of a touched key scanned the batch's corners, ~170 us an event).
            Index(
                f"ix_{prefix}_programme_delta",
                "programme_id",
                "province",
                "valid",
                "n",
                info={WRITE_PATH: True},
            ),
        )

    def statements(
        self,
        dialect: Dialect,
        organisations: list[str],
        dirty: Table,
        spans: Table,
        counted: Table,
        *,
        every: bool = False,
    ) -> tuple[list[Statement], list[Statement]]:
        """(before, after): `before` marks the pairs of `organisations` dirty (run with the
        spans' marking, before they are recomputed); `after` replaces the dirty pairs'
        pieces and folds the change into the totals (run after the spans, before the dirty
        pairs are forgotten). `every`: every pair is dirty and no piece or total is stored
        yet (a rebuild deriving them once at its end): the pieces cut from every span."""
        quote = dialect.identifier_preparer.format_table
        m = "?" if dialect.paramstyle == "qmark" else "%s"
        pi, to, ks, de, di, sp, oc = (
            quote(t)
            for t in (self.pieces, self.totals, self.keys, self.delta, dirty, spans, counted)
        )
        once: list[tuple[object, ...]] = [()]
        mark = (
            f"INSERT INTO {di} (programme_id, organisation_code)"
            f" SELECT DISTINCT programme_id, organisation_code FROM {sp}"
            f" WHERE organisation_code = {m} ON CONFLICT DO NOTHING"
        )
        before = [Statement(mark, [(o,) for o in organisations])] if organisations else []
        is_dirty = (
            f"(organisation_code, programme_id) IN"
            f" (SELECT organisation_code, programme_id FROM {di})"
        )

        def corners(sign: int) -> str:
            # A piece adds one from where it begins and takes it away where it ends (an end
            # at FOREVER is never reached by a horizon).
            return (
                f"INSERT INTO {de} (programme_id, province, valid, n)"
                f" SELECT programme_id, province, valid_from, {sign} FROM {pi} WHERE {is_dirty}"
                f" UNION ALL SELECT programme_id, province, valid_to, {-sign} FROM {pi}"
                f" WHERE {is_dirty} AND valid_to < {FOREVER}"
            )

        # The pair's spans cut to its municipality's counted versions known now.
        start = "CASE WHEN s.valid_from > c.valid_from THEN s.valid_from ELSE c.valid_from END"
        end = (
            "CASE WHEN s.valid_to < c.valid_to AND s.valid_to < c.counted_until THEN s.valid_to"
            " WHEN c.valid_to < c.counted_until THEN c.valid_to ELSE c.counted_until END"
        )
        cut = (
            f"SELECT s.programme_id AS p, s.organisation_code AS o, c.province AS r,"
            f" {start} AS vs, {end} AS ve"
            # From the dirty pairs out (SQLite takes a CROSS JOIN's order as written): left
            # to itself it went from every municipality to all its spans, every batch.
            f" FROM {di} d CROSS JOIN {sp} s CROSS JOIN {oc} c"
            " WHERE s.programme_id = d.programme_id"
            " AND s.organisation_code = d.organisation_code"
            f" AND c.code = d.organisation_code AND c.known_to = {FOREVER}"
            # (municipalities only: `organisation_counted` holds no other organisation)
            " AND c.valid_from < s.valid_to AND c.valid_to > s.valid_from"
        )
        if every:
            # From each span out, once (from the pairs out, each pair read every span of its
            # municipality for its programme's).
            cut = (
                f"SELECT s.programme_id AS p, s.organisation_code AS o, c.province AS r,"
                f" {start} AS vs, {end} AS ve"
                f" FROM {sp} s JOIN {oc} c ON c.code = s.organisation_code"
                f" AND c.known_to = {FOREVER}"
                " AND c.valid_from < s.valid_to AND c.valid_to > s.valid_from"
            )
        cut_in = (
            f"INSERT INTO {pi} (programme_id, organisation_code, province, valid_from, valid_to)"
            f" SELECT p, o, r, vs, ve FROM ({cut}) cut WHERE vs < ve"
        )
        # A change point not stored yet takes the value before it (the totals before this
        # batch: rows inserted by this statement carry that same value, so the order the
        # rows are inserted in does not matter); then each row adds every corner at or
        # before it.
        points = (
            f"SELECT programme_id, province, valid FROM {de}"
            " GROUP BY programme_id, province, valid HAVING sum(n) <> 0"
        )
        prior = (
            f"SELECT t.total FROM {to} t WHERE t.programme_id = a.programme_id"
            " AND t.province = a.province AND t.valid < a.valid ORDER BY t.valid DESC LIMIT 1"
        )
        new_points = (
            f"INSERT INTO {to} (programme_id, province, valid, total)"
            f" SELECT a.programme_id, a.province, a.valid, coalesce(({prior}), 0)"
            f" FROM ({points}) a WHERE true ON CONFLICT DO NOTHING"
        )
        touched = f"(programme_id, province) IN (SELECT programme_id, province FROM {de})"
        same_key = f"d.programme_id = {to}.programme_id AND d.province = {to}.province"
        added = (
            f"UPDATE {to} SET total = total + (SELECT coalesce(sum(d.n), 0) FROM {de} d"
            f" WHERE {same_key} AND d.valid <= {to}.valid)"
            f" WHERE {touched}"
        )
        # Kept minimal, so the rows are the step function's alone, whatever batches wrote
        # them (a rebuild and the live path store the same rows): a change point that no
        # longer changes the value is removed (equal runs compare alike whether or not a
        # row before was removed first), and a key without change points (0 throughout).
        previous = (
            f"SELECT t.total FROM {to} t WHERE t.programme_id = {to}.programme_id"
            f" AND t.province = {to}.province AND t.valid < {to}.valid"
            " ORDER BY t.valid DESC LIMIT 1"
        )
        unchanged = f"DELETE FROM {to} WHERE {touched} AND total = coalesce(({previous}), 0)"
        new_keys = (
            f"INSERT INTO {ks} (programme_id, province)"
            f" SELECT DISTINCT programme_id, province FROM {to} WHERE {touched}"
            " ON CONFLICT DO NOTHING"
        )
        gone = (
            f"DELETE FROM {ks} WHERE {touched} AND NOT EXISTS (SELECT 1 FROM {to} t"
            f" WHERE t.programme_id = {ks}.programme_id AND t.province = {ks}.province)"
        )
        after = [
            Statement(corners(-1), once),
            Statement(f"DELETE FROM {pi} WHERE {is_dirty}", once),
            Statement(cut_in, once),
            Statement(corners(1), once),
            Statement(new_points, once),
            Statement(added, once),
            Statement(unchanged, once),
            Statement(new_keys, once),
            Statement(gone, once),
            Statement(f"DELETE FROM {de}", once),
        ]
        return before, after

    def at(self, day: Any) -> Any:
        """(programme_id, province, n) at the valid instant `day` (a bound parameter): every
        key's last change point at or before it (rows of 0 included)."""
        t, k = self.totals, self.keys
        last = (
            select(t.c.total)
            .where(
                t.c.programme_id == k.c.programme_id,
                t.c.province == k.c.province,
                t.c.valid <= day,
            )
            .order_by(t.c.valid.desc())
            .limit(1)
            .scalar_subquery()
        )
        return select(k.c.programme_id, k.c.province, last.label("n"))
