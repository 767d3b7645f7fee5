"""The runners of a process judge a live event in their own threads at about the same moment:
one of them decodes, hashes and verifies it, the others take its verdict (fresh14)."""

from __future__ import annotations

import threading

import pytest

from contracts_schema.envelope import EventEnvelope
from eventstore.trust import Trust
from tests.unit.eventstore.test_trust import KEY, sealed

READERS = 5  # the gateway projector's read models of the registry stream


class _CountedGets(dict[bytes, object]):
    """The verdict cache, counting its lookups: each reader looks once before judging."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.all_looked = threading.Event()

    def get(self, key: bytes, default: object = None) -> object:
        found = super().get(key, default)
        self.gets += 1
        if self.gets >= READERS:
            self.all_looked.set()
        return found


def test_readers_judging_the_same_bytes_at_once_judge_them_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trust = Trust.of({"registry": {KEY.public_key}})
    verdicts = _CountedGets()
    trust._verdicts = verdicts  # type: ignore[assignment]
    judged: list[str] = []
    judge = Trust._judge

    def slow_judge(self: Trust, data: bytes) -> tuple[EventEnvelope | None, str | None]:
        # Holds the first judgement until every reader has found no verdict: without one
        # judge at a time, each of them then judges the bytes too.
        verdicts.all_looked.wait(timeout=30)
        judged.append(threading.current_thread().name)
        return judge(self, data)

    monkeypatch.setattr(Trust, "_judge", slow_judge)
    data = sealed()
    answers: list[tuple[EventEnvelope | None, str | None]] = []
    readers = [
        threading.Thread(target=lambda: answers.append(trust.content(data)), name=f"r{i}")
        for i in range(READERS)
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=60)
    assert len(answers) == READERS
    assert len(judged) == 1
    envelope, problem = answers[0]
    assert problem is None
    assert envelope is not None
    assert all(a == answers[0] for a in answers)
