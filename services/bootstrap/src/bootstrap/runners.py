"""The one construction of `ProjectionRunner` (re-exported by `bootstrap.parts`), light to import:
the projector process imports it without any service's command side.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from eventstore.ports import EventSource
from eventstore.projection import Projection, ProjectionRunner


def projection_runner(
    source: NATS | EventSource,
    engine: Engine,
    projection: Projection,
    *,
    batch: int = 500,
    instance: str | None = None,
    follow: bool = False,
) -> ProjectionRunner:
    """The runner of one projection into `engine` (an `eventstore.projection.RunnerFactory`);
    with `follow`, one that only follows the positions its projector process announces."""
    return ProjectionRunner(
        source, engine, projection, batch=batch, instance=instance, follow=follow
    )


async def gateway_projections(
    nc: NATS, engine: Engine, read_models: str = "all", audit_engine: Engine | None = None
) -> list[ProjectionRunner]:
    """A projector process's runners: the read models the gateway reads (`read_models`: a key
    of `gateway.readside.SELECTIONS`: the gateway's own, the audit's history, or all), applied
    here; the audit's history into `audit_engine` when given."""
    from gateway.readside import SELECTIONS, start_projections

    return await start_projections(
        nc,
        engine,
        projection_runner,
        projections=SELECTIONS[read_models],
        audit_engine=audit_engine,
    )
