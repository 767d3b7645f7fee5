"""Which municipalities took part in a programme when, as known now, kept as spans instead of
found per request (asof13).

`participationByProgramme` (and per province) at a past valid day D counts the distinct
(programme, municipality) pairs over every participant valid at D joined to its tender's
programme: on the 100k generated history that read every participation up to D (~10x the
10k's) for an answer of at most programmes x municipalities pairs (100k/10k asOf p50 2.4x
and 2.7x). A pair holds at D when some participant version of the municipality in one of
the programme's tenders, intersected with that tender's own valid time, holds D: the union
of those intervals. `spans` keeps that union per pair as its disjoint intervals
[valid_from, valid_to), computed from the versions known now (`known_to` = FOREVER), so the
pairs at D are the spans holding D: as many rows as pairs (plus the few ended ones), however
long the history.

The spans are recomputed in the enrolment read model's own transaction, after the batch's
versions are written, for every pair of a tender the batch touched (a window's events change
its participants' rows, a tender's its programme row): both relations are that read model's
(`EnrolmentProjection.tender_programmes` reads the registry's tender fold), so the spans and
the rows never disagree, and a backdated fact that re-derives versions re-derives its pairs'
spans. A participant key never loses all its versions (a window's image keeps every
participant once enrolled; a tender's programme is set when it is planned), so the pairs of
a touched tender are found from its rows.

Only "as known now" is kept: a past known instant (`knownAt`) counts the rows, unchanged.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table
from sqlalchemy.engine import Dialect

from contracts_schema import catalogue
from contracts_schema.folds import FOLDS
from eventstore.bulk import Statement
from eventstore.rebuild_indexes import WRITE_PATH
from eventstore.timeline import FOREVER


def registry_events_ignored() -> frozenset[str]:
    """The registry's event types other than the tender fold's: the enrolment read model
    reads the registry for the tenders' programmes only."""
    tender = FOLDS["registry", "tender"]
    read = {m.event_type for m in tender.handled | tender.ignored}
    every = {m.event_type for m in catalogue.EVENT_MODELS if m.context == "registry"}
    return frozenset(every - read)


class ProgrammeSpans:
    """The spans table and the scratch table of the pairs a batch recomputes."""

    def __init__(self, prefix: str, metadata: MetaData) -> None:
        # Keyed from the valid start: the pairs at D are the spans begun by D (a range of
        # this key alone, every column in it), of which those not yet ended; no index leads
        # with the programme, which would let SQLite scan every span for the group's order.
        self.spans = Table(
            f"{prefix}_programme_spans",
            metadata,
            Column("valid_from", BigInteger, primary_key=True),
            Column("programme_id", String(128), primary_key=True),
            Column("organisation_code", String(40), primary_key=True),
            Column("valid_to", BigInteger, nullable=False),
            # A municipality's spans begun by D (the planner may go from the municipalities
            # at the horizon); a recomputed pair's spans, forgotten by its municipality.
            # The batch's own statements find the pairs by it (an organisation's pairs, the
            # dirty pairs' spans): kept while a rebuild writes (`WRITE_PATH`), else each
            # batch scanned every span, several times (apply15).
            Index(
                f"ix_{prefix}_programme_spans_organisation",
                "organisation_code",
                "valid_from",
                "valid_to",
                "programme_id",
                info={WRITE_PATH: True},
            ),
            sqlite_with_rowid=False,
        )
        # Empty between batches: the pairs one batch recomputes (several touched tenders
        # may share a pair; each is recomputed once).
        self.dirty = Table(
            f"{prefix}_programme_spans_dirty",
            metadata,
            Column("programme_id", String(128), primary_key=True),
            Column("organisation_code", String(40), primary_key=True),
        )

    def statements(
        self,
        dialect: Dialect,
        tenders: list[str] | None,
        programmes: Table,
        participants: Table,
        marks: list[Statement] | None = None,
        then: list[Statement] | None = None,
    ) -> list[Statement]:
        """The spans of every pair of `tenders` (None: of every tender) recomputed from the
        versions known now (run after the batch's versions are written; every tender's from
        nothing at the end of a rebuild that deferred them). `marks` mark more pairs dirty (their
        spans are recomputed too); `then` runs after the recompute, while the dirty pairs
        are still listed (the counts kept from the spans: `programme_counts`)."""
        quote = dialect.identifier_preparer.format_table
        m = "?" if dialect.paramstyle == "qmark" else "%s"
        spans, dirty, tp, pa = (
            quote(self.spans),
            quote(self.dirty),
            quote(programmes),
            quote(participants),
        )
        # Every pair a touched tender has or had (any version, any known instant).
        mark = (
            f"INSERT INTO {dirty} (programme_id, organisation_code)"
            f" SELECT DISTINCT tp.programme_id, pa.organisation_code FROM {tp} tp"
            f" JOIN {pa} pa ON pa.tender_id = tp.tender_id WHERE tp.tender_id = {m}"
            " ON CONFLICT DO NOTHING"
        )
        # (SQLite reads `ON CONFLICT` after a join as the join's: a WHERE ends the SELECT.)
        mark_every = (
            f"INSERT INTO {dirty} (programme_id, organisation_code)"
            f" SELECT DISTINCT tp.programme_id, pa.organisation_code FROM {tp} tp"
            f" JOIN {pa} pa ON pa.tender_id = tp.tender_id WHERE true"
            " ON CONFLICT DO NOTHING"
        )
        forget = (
            f"DELETE FROM {spans} WHERE (organisation_code, programme_id) IN"
            f" (SELECT organisation_code, programme_id FROM {dirty})"
        )
        # Each participation known now, cut to its tender's valid time; then the islands
        # of their union per pair: an interval starting after every earlier one ended
        # begins an island (touching intervals join: they are half-open).
        parts = (
            "SELECT d.programme_id AS p, d.organisation_code AS o,"
            " CASE WHEN pa.valid_from > tp.valid_from THEN pa.valid_from ELSE tp.valid_from END"
            " AS s,"
            " CASE WHEN pa.valid_to < tp.valid_to THEN pa.valid_to ELSE tp.valid_to END AS e"
            # From the dirty pairs out (SQLite takes a CROSS JOIN's order as written): left
            # to itself, without statistics, it scanned every tender's participants for
            # each batch (apply15).
            f" FROM {dirty} d CROSS JOIN {tp} tp CROSS JOIN {pa} pa"
            f" WHERE tp.programme_id = d.programme_id AND tp.known_to = {FOREVER}"
            " AND pa.tender_id = tp.tender_id"
            f" AND pa.organisation_code = d.organisation_code AND pa.known_to = {FOREVER}"
            " AND pa.participates"
        )
        if dialect.name == "postgresql":
            # PostgreSQL reorders CROSS JOINs as it likes, and a rebuild's tables have no
            # statistics: it looked each pair's participations up by the organisation alone
            # (a scan of the whole key index, which leads with the tender) and kept that plan
            # as the table grew (pg15: 0.3 -> 7.7 s a batch at 10k events, the two-process
            # rebuild 3x slower). A participation is found by its whole key instead: the
            # subquery is not flattened (OFFSET 0), so the tender and the organisation are
            # both known when it runs and the key index is searched by both.
            parts = (
                "SELECT d.programme_id AS p, d.organisation_code AS o,"
                " CASE WHEN pa.valid_from > tp.valid_from THEN pa.valid_from"
                " ELSE tp.valid_from END AS s,"
                " CASE WHEN pa.valid_to < tp.valid_to THEN pa.valid_to ELSE tp.valid_to END"
                " AS e"
                f" FROM {dirty} d JOIN {tp} tp ON tp.programme_id = d.programme_id"
                f" AND tp.known_to = {FOREVER}"
                " CROSS JOIN LATERAL (SELECT x.valid_from, x.valid_to"
                f" FROM {pa} x WHERE x.tender_id = tp.tender_id"
                f" AND x.organisation_code = d.organisation_code AND x.known_to = {FOREVER}"
                " AND x.participates OFFSET 0) pa"
            )
        if tenders is None:
            # Every pair from nothing: from each participation out, once (from the pairs
            # out, each pair looked up its programme's every tender: ~70 us an event at 100k).
            parts = (
                "SELECT tp.programme_id AS p, pa.organisation_code AS o,"
                " CASE WHEN pa.valid_from > tp.valid_from THEN pa.valid_from ELSE tp.valid_from END"
                " AS s,"
                " CASE WHEN pa.valid_to < tp.valid_to THEN pa.valid_to ELSE tp.valid_to END AS e"
                f" FROM {pa} pa JOIN {tp} tp ON tp.tender_id = pa.tender_id"
                f" AND tp.known_to = {FOREVER}"
                f" WHERE pa.known_to = {FOREVER} AND pa.participates"
            )
        marked = (
            "SELECT p, o, s, e, CASE WHEN s <= max(e) OVER (PARTITION BY p, o ORDER BY s, e"
            " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS fresh"
            f" FROM ({parts}) parts WHERE s < e"
        )
        numbered = (
            "SELECT p, o, s, e, sum(fresh) OVER (PARTITION BY p, o ORDER BY s, e"
            f" ROWS UNBOUNDED PRECEDING) AS island FROM ({marked}) marked"
        )
        compute = (
            f"INSERT INTO {spans} (programme_id, organisation_code, valid_from, valid_to)"
            f" SELECT p, o, min(s), max(e) FROM ({numbered}) numbered GROUP BY p, o, island"
        )
        done = f"DELETE FROM {dirty}"
        once: list[tuple[object, ...]] = [()]
        return [
            Statement(mark_every, once)
            if tenders is None
            else Statement(mark, [(t,) for t in tenders]),
            *(marks or []),
            Statement(forget, once),
            Statement(compute, once),
            *(then or []),
            Statement(done, once),
        ]
