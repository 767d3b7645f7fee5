"""rebuild16: the gateway's read models split for the two-process rebuild by their measured
cost, so that each group reads what its read models share: enrolment with the two read
models of its streams (tenders, organisations), against the three that read every stream
(contracts, the event log and its counts).

A/B'd on one loaded history (`python -m bench.rebuild_groups 20000 --split ...`, findings
"Rebuild, sixteenth round"): the groups' CPU 214/214 and 263/271 us/event with this split,
against 190/227 and 233/320 with enrolment alone (rebuild15's weights, before apply15 cut
enrolment's writes 8x)."""

from __future__ import annotations

from eventstore.split_rebuild import partition
from gateway.projections import ALL


def test_enrolment_goes_with_the_read_models_of_its_streams() -> None:
    """rebuild22: with enrolment's spans and totals derived once at the end of a split
    rebuild (its cost x0.74), the event counts join enrolment's group: on one loaded 100k
    history (`bench.rebuild_derived_ab`, two rounds, load 14-17) the costlier group's CPU
    was 202.5/169.0 us/event against 235.9/203.5 with the split before (and 234.2/214.3
    with the spans per batch)."""
    parts = partition(ALL, 2)
    assert sorted(sorted(m.name for m in part) for part in parts) == [
        ["contracts", "event_log"],
        ["enrolment", "event_counts", "organisations", "tenders"],
    ]


def test_each_group_reads_only_streams_the_other_reads_too() -> None:
    """The enrolment group's streams are read by the other group as well: every range of
    them is read once, shared (`eventstore.shared_read`). Since rebuild22 (the event counts
    in enrolment's group) both groups read every stream, the notifier's too."""
    first, second = (
        {c.stream for make in part for c in make().contexts} for part in partition(ALL, 2)
    )
    assert min(first, second, key=len) <= max(first, second, key=len)
    assert first == second == {"REGISTRY", "ENROLMENT", "NOTIFIER"}
