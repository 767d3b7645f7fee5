"""Naming an aggregate on the command line and loading its events."""

from __future__ import annotations

import logging

from audit.folding import OWNERS
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import CONTEXTS
from eventstore.store import EventStore
from eventstore.trust import DUPLICATE, trust_of

log = logging.getLogger(__name__)


def parse_aggregate(text: str) -> tuple[str, str, str]:
    """`tender/LNVT-0800-2000` or `registry/tender/LNVT-0800-2000` -> (context, type, id)."""
    parts = text.split("/")
    if len(parts) == 2 and parts[0] in OWNERS:
        return OWNERS[parts[0]], parts[0], parts[1]
    if len(parts) == 3 and parts[0] in CONTEXTS and parts[2]:
        return parts[0], parts[1], parts[2]
    raise ValueError(
        f"cannot read aggregate {text!r}: write <type>/<id> with type one of "
        f"{sorted(OWNERS)}, or <context>/<type>/<id> with context one of {sorted(CONTEXTS)}"
    )


async def load_envelopes(store: EventStore, text: str) -> tuple[str, str, list[EventEnvelope]]:
    context, aggregate_type, aggregate_id = parse_aggregate(text)
    history = await store.load(CONTEXTS[context], aggregate_type, aggregate_id)
    # The history every reader takes as fact: what they refuse (unsigned, altered, an
    # untrusted signer, a repeated version) is left out and logged, as the read models park
    # it; `audit verify` is what lists it.
    trust = trust_of(getattr(store, "nc", None))
    kept: list[EventEnvelope] = []
    for event in history.events:
        version = event.envelope.aggregate_version
        problem = trust.stored_problem(event)
        if problem is None and kept and version <= kept[-1].aggregate_version:
            problem = f"{DUPLICATE}: version {version} follows {kept[-1].aggregate_version}"
        if problem is not None:
            log.warning("%s seq %s left out of %s: %s", event.stream, event.seq, text, problem)
            continue
        kept.append(event.envelope)
    return aggregate_type, aggregate_id, kept
