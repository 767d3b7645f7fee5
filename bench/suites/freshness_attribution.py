"""Where a freshness figure's time goes, stage by stage, for the probes that make it.

`bench.suites.freshness` keeps each stage's own p50/p99 over all probes, which do not add up
(a stage's p99 and the figure's p99 are different probes). This module takes the probes around
a percentile of the figure (a band of them), follows each one's write through its chain of
instants -- the reply, the projector's subscriber handed the batch, a runner thread, the fold,
the SQLite writer turn, the commit, the announcement, the gateway hearing it, the answer --
and averages each consecutive step over the band. The steps of one probe sum to its latency,
so the band's steps sum to its mean: a p50 of 47 ms reads as "20 ms to reach the projector,
8 ms for the writer, ...".

For a figure that waits for several read models (the consistency token), the chain is the
read model that reached the write last (the one the answer waited for); which one that was,
and how long after the first the last committed, are counted too.

Also the cold timelines of each versioned read model (`eventstore.projection_news.News.
histories`): how many were folded from the event log and how many loaded from the event store
while the probes ran, counters the projector process alone keeps and announces.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A probe's chain of instants, in order, each named as the projector's announcement (or the
# probe) names it; a step is the time between two neighbours that the probe has.
CHAIN: tuple[tuple[str, str], ...] = (
    ("replied", "the mutation's reply (start)"),
    # Its batch's first event at the projector (`eventstore.live_pull`; the probe's own
    # event came between this and "fetched", the batch's last).
    ("arrived", "its batch's first event at the projector"),
    ("fetched", "delivered to the projector (fetched)"),
    # Live delivery pushes events into the projector while the batch before is applied
    # (`eventstore.live_pull`): "fetched" is when its batch's last message arrived, "taken"
    # when its subscriber was free to hand it over.
    ("taken", "taken by its subscriber (the batch before applied)"),
    ("received", "batch decoded, handed to its runner"),
    ("thread", "in a runner thread"),
    ("prepared", "folded (batch lock; a cold history)"),
    ("turn", "the SQLite writer turn taken"),
    ("committed", "applied and committed"),
    ("announced", "announced (notified)"),
    ("heard", "heard by the gateway"),
    ("visible", "visible in an answer"),
)


@dataclass(frozen=True)
class Reached:
    """One probe's write as the read models reached it: the latency (s) and, per read model
    that had to reach it, the announced instants (wall clock, s), "heard" included."""

    latency: float
    replied: float
    visible: float
    per_model: Mapping[str, Mapping[str, float]]


def band(items: Sequence[Reached], percentile: float) -> list[Reached]:
    """The probes around `percentile` of the latencies: the middle fifth for a median-ish
    percentile, the slowest 2% (at least one) for a tail one."""
    ranked = sorted(items, key=lambda r: r.latency)
    n = len(ranked)
    if n == 0:
        return []
    if percentile >= 90:
        keep = max(1, math.ceil(n * (100 - percentile + 1) / 100))
        return ranked[n - keep :]
    low = max(0, math.floor(n * (percentile - 10) / 100))
    high = min(n, max(low + 1, math.ceil(n * (percentile + 10) / 100)))
    return ranked[low:high]


def steps(reached: Reached) -> tuple[str, dict[str, float]]:
    """The read model the answer waited for (the last to be heard) and its chain's steps (s),
    which sum to the probe's latency."""
    last = max(reached.per_model, key=lambda k: reached.per_model[k].get("heard", 0.0))
    at = {**reached.per_model[last], "replied": reached.replied, "visible": reached.visible}
    names = [name for name, _ in CHAIN if name in at]
    return last, {b: at[b] - at[a] for a, b in itertools.pairwise(names)}


def attribute(items: Sequence[Reached], percentile: float) -> dict[str, Any]:
    """The steps of the probes around `percentile`, averaged (ms), with what the band is."""
    chosen = band(items, percentile)
    if not chosen:
        return {}
    sums: dict[str, float] = {}
    last_models: Counter[str] = Counter()
    spreads: list[float] = []
    for r in chosen:
        last, found = steps(r)
        last_models[last] += 1
        for name, seconds in found.items():
            sums[name] = sums.get(name, 0.0) + seconds
        commits = [m["committed"] for m in r.per_model.values() if "committed" in m]
        if len(commits) > 1:
            spreads.append(max(commits) - min(commits))
    labels = dict(CHAIN)
    result: dict[str, Any] = {
        "probes": len(chosen),
        "mean ms": round(sum(r.latency for r in chosen) / len(chosen) * 1000, 1),
        "steps ms": {labels[k]: round(v / len(chosen) * 1000, 1) for k, v in sums.items()},
        "answer waited for": dict(last_models.most_common()),
    }
    if spreads:
        result["first -> last read model committed, mean ms"] = round(
            sum(spreads) / len(spreads) * 1000, 1
        )
    return result


def sentence(label: str, found: Mapping[str, Any]) -> str:
    """`attribute`'s answer as one line of a figure's note."""
    if not found:
        return ""
    parts = ", ".join(f"{name} {ms}" for name, ms in found["steps ms"].items())
    waited = ", ".join(f"{k} {n}" for k, n in found["answer waited for"].items())
    text = (
        f"{label} ({found['probes']} probes, mean {found['mean ms']} ms) from the reply: {parts}"
        f"; the answer waited for {waited}"
    )
    if "first -> last read model committed, mean ms" in found:
        spread = found["first -> last read model committed, mean ms"]
        text += f"; the last read model committed {spread} ms after the first"
    return text


def histories(
    heard: Iterable[tuple[float, str, Any]], since: float, until: float
) -> dict[str, dict[str, int]]:
    """Per versioned read model, the cold timelines folded from the event log ("local") and
    loaded from the event store ("loaded") between `since` and `until` (announcement arrival
    times, s): the difference of the counters last announced before each."""
    before: dict[str, dict[str, int]] = {}
    after: dict[str, dict[str, int]] = {}
    for arrived, key, news in heard:
        counts = getattr(news, "histories", None)
        if not counts:
            continue
        if arrived <= since:
            before[key] = dict(counts)
        if arrived <= until:
            after[key] = dict(counts)
    return {
        key: {k: n - before.get(key, {}).get(k, 0) for k, n in counts.items()}
        for key, counts in sorted(after.items())
    }


def histories_sentence(found: Mapping[str, Mapping[str, int]]) -> str:
    if not found:
        return "cold timelines: none announced (a projector without the counters)"
    parts = ", ".join(
        f"{key} {c.get('local', 0)} from the event log / {c.get('loaded', 0)} from the store"
        for key, c in found.items()
    )
    return f"cold timelines folded while these probes ran: {parts}"
