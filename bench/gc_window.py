"""What the garbage collector did inside a timed window of the bench process (import14).

The ocds-import suite times `import_items` in the bench's own process, after every other
suite of a full run has left its objects there; the CLI it stands for runs in a fresh
process. A full collection of a heap of millions of objects costs the importer's CPU (and
the window's wall time) what a fresh process never pays: this says how much of it there was.
"""

from __future__ import annotations

import gc
import time
from typing import Any


class GcWindow:
    """Counts collections and their CPU seconds per generation while open (`gc.callbacks`;
    a collection runs in the thread that triggered it)."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.tracked_at_start = 0
        self._started: float | None = None

    def __enter__(self) -> GcWindow:
        self.tracked_at_start = len(gc.get_objects())
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()  # CPU: a preempted collection is not longer
        elif self._started is not None:
            generation = info["generation"]
            self.collections[generation] += 1
            self.seconds[generation] += time.thread_time() - self._started
            self._started = None

    def summary(self) -> dict[str, Any]:
        return {
            "gc_tracked_objects_at_start": self.tracked_at_start,
            "gc_collections": self.collections,
            "gc_cpu_seconds": [round(s, 3) for s in self.seconds],
        }
