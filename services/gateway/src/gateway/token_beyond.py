"""What a consistency token that timed out asks for past its streams' ends (correct18).

A token beyond a stream's last event (another system's, or one kept from before the stream
was reset) can never be reached: its wait ends in CONSISTENCY_TIMEOUT like a slow read
model's. After such a timeout only (never on the fast path), one look-up of each stream the
late read models read says so, so the client does not retry the same token forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from eventstore.projection import ProjectionRunner

log = logging.getLogger(__name__)
LOOKUP_SECONDS = 2.0  # the look-up adds at most this to an answer already late


async def beyond_the_end(late: Sequence[ProjectionRunner], positions: Mapping[str, int]) -> str:
    """`"; REGISTRY's last event is 1,234, the token asks for 99,999: ..."`, or "" (no stream
    short of the token, or the look-up failed)."""
    heads: dict[str, int] = {}
    try:
        async with asyncio.timeout(LOOKUP_SECONDS):
            for runner in late:
                heads |= await runner.stream_heads()
    except Exception as exc:  # the timeout's message is enough without it
        log.info("consistency timeout: the streams' ends not looked up: %r", exc)
        return ""
    short = [
        f"{stream}'s last event is {heads[stream]:,}, the token asks for {positions[stream]:,}"
        for stream in sorted(heads)
        if positions.get(stream, 0) > heads[stream]
    ]
    if not short:
        return ""
    return f"; {'; '.join(short)}: a token of another system, or of a stream since reset?"
