"""An announcement of a commit says when its batch was received, took the writer, committed and
was announced (for whoever measures where a write's time to visibility goes); a heartbeat says
none, and news without stages (an older projector) still reads."""

from __future__ import annotations

import json

from eventstore.projection_news import News


def test_a_commit_s_stages_travel_with_its_positions_and_gain_the_announcement() -> None:
    stages = {"received": 100.0, "turn": 100.002, "committed": 100.004}
    heard = News.decode(News({"REGISTRY": 7}, 4, 0, stages).encode())
    assert heard.positions == {"REGISTRY": 7}
    assert {k: heard.stages[k] for k in stages} == stages
    assert heard.stages["announced"] >= stages["committed"]


def test_a_heartbeat_and_older_news_carry_no_stages() -> None:
    assert News.decode(News({"REGISTRY": 7}, 4).encode()).stages == {}
    older = json.dumps({"positions": {"REGISTRY": 7}, "live_version": 4, "parked": 0})
    assert News.decode(older.encode()) == News({"REGISTRY": 7}, 4, 0)


def test_a_versioned_read_model_s_cold_timeline_counters_travel_and_older_news_has_none() -> None:
    counts = {"local": 12, "loaded": 1}
    assert News.decode(News({"REGISTRY": 7}, 4, 0, {}, counts).encode()).histories == counts
    assert News.decode(News({"REGISTRY": 7}, 4).encode()).histories == {}
    older = json.dumps({"positions": {"REGISTRY": 7}, "live_version": 4, "parked": 0})
    assert News.decode(older.encode()).histories == {}
