"""The freshness figures' attribution: the steps of the probes around a percentile sum to their
latency, the chain is the read model the answer waited for, and the cold-timeline counters are
what was folded while the probes ran."""

from __future__ import annotations

from bench.suites.freshness_attribution import Reached, attribute, band, histories, sentence
from eventstore.projection_news import News


def probe(latency_ms: float, *, slow_model_extra: float = 0.0) -> Reached:
    """A probe replied at t=100 s whose write two read models reached: "b" later than "a"."""
    t = 100.0
    a = {
        "fetched": t + 0.002,
        "received": t + 0.0021,
        "thread": t + 0.003,
        "prepared": t + 0.0031,
        "turn": t + 0.004,
        "committed": t + 0.005,
        "announced": t + 0.006,
        "heard": t + 0.007,
    }
    later = 0.001 + slow_model_extra
    b = {k: v + later for k, v in a.items()}
    visible = t + latency_ms / 1000
    return Reached(visible - t, t, visible, {"a": a, "b": b})


def test_a_band_s_steps_sum_to_its_mean_and_follow_the_model_heard_last() -> None:
    probes = [probe(10.0 + i) for i in range(100)]
    found = attribute(probes, 50)
    assert found["probes"] == len(band(probes, 50)) == 20
    assert abs(sum(found["steps ms"].values()) - found["mean ms"]) < 0.2
    assert found["answer waited for"] == {"b": 20}
    assert found["first -> last read model committed, mean ms"] == 1.0
    # From the reply to the fetch of the last model: its 2 ms plus its 1 ms behind "a".
    assert found["steps ms"]["delivered to the projector (fetched)"] == 3.0
    assert "the answer waited for b 20" in sentence("p50 band", found)


def test_the_tail_band_is_the_slowest_probes() -> None:
    probes = [probe(10.0 + i) for i in range(99)] + [probe(500.0, slow_model_extra=0.3)]
    found = attribute(probes, 99)
    assert found["probes"] == 2
    assert found["mean ms"] == round((108.0 + 500.0) / 2, 1)
    assert attribute([], 50) == {}


def test_cold_timelines_counted_between_the_probes_first_and_last_instants() -> None:
    def news(local: int, loaded: int) -> News:
        return News({"REGISTRY": 1}, 4, 0, {}, {"local": local, "loaded": loaded})

    heard = [
        (1.0, "contracts_v4", news(3, 1)),
        (2.0, "event_log_v2", News({"REGISTRY": 1}, 2)),  # folds no timelines: no counters
        (5.0, "contracts_v4", news(10, 1)),
        (9.0, "contracts_v4", news(20, 2)),  # after the probes
    ]
    assert histories(heard, since=1.5, until=6.0) == {"contracts_v4": {"local": 7, "loaded": 0}}
