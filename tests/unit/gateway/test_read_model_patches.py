"""A read model's `patch` (the rows one event touched) agrees with its whole `image`.

Every aggregate of a generated history (enrolments, withdrawals, extensions, frozen lists,
backdated facts) is recorded on two timelines, one re-imaging the whole aggregate per event
and one patching only the rows the event touched: every event's row changes are the same.
"""

from __future__ import annotations

from bench.direct import stored_events
from bench.history.generator import generate
from eventstore.timeline import Changes, Timeline
from eventstore.versioned import VersionedProjection, recorded
from gateway.projections import ALL


def test_patched_timelines_write_the_same_versions_as_whole_images() -> None:
    streams = stored_events(generate(seed=11, events=6_000))
    checked = backdated = 0
    for kind in ALL:
        projection = kind()
        if not isinstance(projection, VersionedProjection):
            continue
        readings = projection.readings()
        for name, reading in readings.items():
            if reading.patch is None:
                continue
            whole: dict[str, Timeline[object, object]] = {}
            patched: dict[str, Timeline[object, object]] = {}
            for events in streams.values():
                for event in events:
                    e = event.envelope
                    if e.aggregate_type != name:
                        continue
                    aid = e.aggregate_id
                    if aid not in whole:
                        whole[aid] = Timeline(reading.initial(aid), reading.evolve, reading.image)
                        patched[aid] = Timeline(
                            reading.initial(aid), reading.evolve, reading.image, reading.patch
                        )
                    r = recorded(event)
                    timelines = whole[aid].events
                    if timelines and r.order < timelines[-1].order:
                        backdated += 1
                    expected, got = Changes(), Changes()
                    whole[aid].record(r, expected)
                    patched[aid].record(r, got)
                    assert got == expected, (name, aid, e.event_type)
                    checked += 1
            for aid, timeline in whole.items():
                assert patched[aid].open == timeline.open
    assert checked > 1_000
    assert backdated > 10  # the refold path was taken too
