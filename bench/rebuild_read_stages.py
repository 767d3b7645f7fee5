"""`python -m bench.rebuild_read_stages [N]`: a rebuild's CPU per event, stage by stage.

Without a broker, in one process, on the generated history (seed 2026): what each stage of
a catch-up rebuild costs an event of CPU (`time.process_time`): the decode of the stored
bytes (`EventEnvelope.model_validate_json`), the hash recomputed (`trust._intact`'s part
after the decode), one ed25519 verify (`read_range` verifies ~0.5 an event in a catch-up
range: one per hash chain, rebuild9), handing a judged range to another process and taking
it (`eventstore.shared_read`: pickle, unpickle, decode again), and each gateway read
model's apply and write through its runner's batch path (`bench.direct`). The broker's read
(the raw suite's ordered-consumer figure) is not here: it needs the broker.
"""

from __future__ import annotations

import base64
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from contracts_schema.envelope import EventEnvelope
from eventstore.hashing import json_form_hash
from eventstore.shared_read import decoded
from eventstore.signing import EventSigner, _verify_key, new_seed
from eventstore.sql import make_engine

RANGE = 2_000


def _cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main(n: int) -> None:
    streams = stored_events(generate(seed=2026, events=n))
    events = [e for s in streams.values() for e in s]
    data = [e.envelope.model_dump_json().encode() for e in events]
    count = len(data)
    per = {}
    envelopes: list[EventEnvelope] = []
    per["decode"] = _cpu(
        lambda: envelopes.extend(EventEnvelope.model_validate_json(d) for d in data)
    )
    per["hash"] = _cpu(lambda: [json_form_hash(e.model_dump(mode="json")) for e in envelopes])
    signer = EventSigner(new_seed())
    digest = envelopes[0].hash or "x"
    signature = signer.sign(digest)
    key = _verify_key(signer.public_key)
    raw = base64.b64decode(signature)
    verifies = 2_000
    per["verify (x0.5)"] = (
        _cpu(lambda: [key.verify(digest.encode(), raw) for _ in range(verifies)])
        / verifies
        * count
        * 0.5
    )
    ranges = [
        [
            (e.subject, e.seq, d, None)
            for e, d in zip(events[i : i + RANGE], data[i : i + RANGE], strict=True)
        ]
        for i in range(0, count, RANGE)
    ]
    blobs: list[bytes] = []
    per["pickle (sender)"] = _cpu(
        lambda: blobs.extend(pickle.dumps((r, [None] * len(r)), protocol=5) for r in ranges)
    )
    per["unpickle + decode (taker)"] = _cpu(
        lambda: [decoded("ENROLMENT", *pickle.loads(b)) for b in blobs]
    )
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'stages.db'}")
        started = time.process_time()
        built = build_read_models(engine, streams, batch=RANGE)
        applies = time.process_time() - started
        engine.dispose()
    wall = sum(built.per_projection.values())
    for key_, seconds in built.per_projection.items():
        per[f"apply+write {key_}"] = applies * seconds / wall  # CPU shared out by wall
    print(f"{count:,} events; CPU us/event by stage")
    for name, seconds in per.items():
        print(f"  {name:32s} {seconds / count * 1e6:8.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
