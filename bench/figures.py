"""A measured figure next to its baseline from the same run, and latency statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    if not samples:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(samples: Sequence[float]) -> dict[str, float]:
    """Seconds in, milliseconds out."""
    return {
        "p50_ms": round(percentile(samples, 50) * 1000, 3),
        "p99_ms": round(percentile(samples, 99) * 1000, 3),
    }


@dataclass
class Figure:
    suite: str  # e.g. "commands"
    name: str  # what was measured, e.g. "throughput at concurrency 16"
    unit: str  # "events/s", "ms", "req/s", "s"
    value: float | None  # None: not measured (see note)
    baseline_name: str
    baseline: float | None
    higher_is_better: bool = True
    target: str = ""  # the target in words, "" when none
    target_met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        return data


def not_measured(suite: str, name: str, unit: str, baseline_name: str, why: str) -> Figure:
    return Figure(suite, name, unit, None, baseline_name, None, note=why)
