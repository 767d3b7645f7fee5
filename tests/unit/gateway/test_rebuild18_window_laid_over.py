"""The enrolment read model lays a backdated enrolment over its window's later states
(`Reading.commutes`, from the owner's `Fold.commute`) and writes the same versions as
re-imaging the whole window per event (rebuild18).

Every window of a generated history (enrolments, withdrawals, extensions, frozen lists,
backdated facts) on two timelines: the read model's own reading, and the whole image
without patch or commutes. Every event's row changes are the same; so are the states and
the open rows; and many backdated enrolments were laid over (their patch asked about them
alone, not about the events after them).
"""

from __future__ import annotations

from typing import Any

from bench.direct import stored_events
from bench.history.generator import generate
from contracts_schema.enrolment.events import ParticipantEnrolled
from eventstore.timeline import Changes, Patch, Timeline
from eventstore.versioned import recorded
from gateway.projections.enrolment import EnrolmentProjection


def test_laid_over_windows_write_the_same_versions_as_whole_images() -> None:
    reading = EnrolmentProjection().readings()["enrolment_window"]
    assert reading.commutes is not None
    assert reading.patch is not None
    asked: list[Any] = []
    product_patch = reading.patch

    def patch(state: Any, event: Any) -> Patch | None:
        asked.append(event)
        return product_patch(state, event)

    streams = stored_events(generate(seed=11, events=6_000))
    whole: dict[str, Timeline[Any, Any]] = {}
    laid: dict[str, Timeline[Any, Any]] = {}
    checked = backdated = laid_over = 0
    for event in streams["ENROLMENT"]:
        e = event.envelope
        if e.aggregate_type != "enrolment_window":
            continue
        aid = e.aggregate_id
        if aid not in whole:
            whole[aid] = Timeline(reading.initial(aid), reading.evolve, reading.image)
            laid[aid] = Timeline(
                reading.initial(aid), reading.evolve, reading.image, patch, reading.commutes
            )
        r = recorded(event)
        is_backdated = bool(whole[aid].events) and r.order < whole[aid].events[-1].order
        expected, got = Changes(), Changes()
        whole[aid].record(r, expected)
        asked.clear()
        laid[aid].record(r, got)
        assert got == expected, (aid, e.event_type)
        assert laid[aid].open == whole[aid].open
        assert laid[aid].state == whole[aid].state
        checked += 1
        if is_backdated:
            backdated += 1
            if isinstance(r.event, ParticipantEnrolled) and asked == [r.event, r.event]:
                laid_over += 1
    for aid, timeline in whole.items():
        assert laid[aid].states == timeline.states
        assert laid[aid].last_image == timeline.last_image
    assert checked > 1_000
    assert laid_over > 20
    assert backdated > laid_over
