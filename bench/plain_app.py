"""The baseline for the GraphQL benchmark: a plain ASGI endpoint over the gateway's own read
model tables, running the SQL the gateway runs and returning the JSON the gateway returns,
with no GraphQL layer. Served by uvicorn with BENCH_READ_MODEL_URL set: as one process
(`uvicorn --factory bench.plain_app:create`), or as one of several worker processes on one port
(`python -m bench.plain_app PORT`), each on its own socket, exactly as the gateway's workers are
served (`bench.gateway_app`): the two sides are compared on the same number of processes.

The suite checks that both sides answer with equal JSON before it measures.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from eventstore.sql import make_engine
from gateway.projections import ContractsProjection, EnrolmentProjection, EventLogProjection
from gateway.schema.pagination import cursor_tag

PAGE = 20
# The read models keep row versions (valid and known intervals, µs): the present is the
# versions valid now and still known, the predicate the gateway's present answers use.
NOW = " AND valid_from <= :now AND valid_to > :now AND known_to > :known"
KNOWN_NOW = 2**62 - 1
# The tables of the projections' current versions (a new version builds new tables).
CONTRACTS = f"{ContractsProjection().key}_contracts"
PARTICIPANTS_TABLE = f"{EnrolmentProjection().key}_participants"
CALL_OFFS_TABLE = f"{EnrolmentProjection().key}_call_offs"
EVENTS_TABLE = f"{EventLogProjection().key}_events"

# `status || ''` as the gateway compares it (gateway/schema/filters.py): the same test, which
# no index answers, so the end-date range is searched. With `status = 'active'` SQLite took
# the status index whenever the sampled statistics made it look narrower (most read models
# the bench builds): 15 ms a request against 0.8 ms, not the SQL the gateway runs. A
# contract whose source states no end is never listed (`end_stated`), as there.
EXPIRING_COUNT = text(
    f"SELECT count(*) FROM {CONTRACTS}"
    " WHERE end_date >= :start AND end_date <= :stop AND (status || '') = 'active'"
    " AND end_stated IS true" + NOW
)
EXPIRING = text(
    "SELECT contract_id, kind, contracting_authority, end_date, status"
    f" FROM {CONTRACTS}"
    " WHERE end_date >= :start AND end_date <= :stop AND (status || '') = 'active'"
    " AND end_stated IS true" + NOW + ""
    " ORDER BY end_date, contract_id LIMIT :limit"
)
CONTRACT = text(
    f"SELECT contract_id, kind, tender_id, end_date FROM {CONTRACTS}"
    " WHERE contract_id IN (:id)" + NOW
)
PARTICIPANTS = text(
    "SELECT tender_id, organisation_code, lot_ids, status"
    f" FROM {PARTICIPANTS_TABLE}"
    " WHERE tender_id IN (:tender)" + NOW + " ORDER BY organisation_code"
)
CALL_OFFS = text(
    "SELECT call_off_id, participant_code, supplier_id, procedure"
    f" FROM {CALL_OFFS_TABLE}"
    " WHERE framework_contract_id IN (:id)" + NOW + " ORDER BY call_off_id"
)
EVENTS_COUNT = text(
    f"SELECT count(*) FROM {EVENTS_TABLE}"
    " WHERE aggregate_type = 'tender' AND aggregate_id = :id AND recorded_at < :before"
)
EVENTS = text(
    "SELECT event_type, aggregate_type, aggregate_version, occurred_at, recorded_at, payload"
    f" FROM {EVENTS_TABLE}"
    " WHERE aggregate_type = 'tender' AND aggregate_id = :id AND recorded_at < :before"
    " ORDER BY recorded_at, stream, seq LIMIT :limit"
)


EXPIRING_ORDER = [("end_date", False), ("contract_id", False)]


def _cursor(tag: tuple[str, str], values: list[Any]) -> str:
    # The gateway's cursor names its list and what it was asked with (cursor20).
    raw = json.dumps([*tag, [v.isoformat() if isinstance(v, date) else v for v in values]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _now() -> dict[str, int]:
    moment = datetime.now(UTC)
    return {"now": int(moment.timestamp()) * 1_000_000 + moment.microsecond, "known": KNOWN_NOW}


def expiring(engine: Engine, start: date, stop: date) -> dict[str, Any]:
    window = {"start": start, "stop": stop, **_now()}
    with engine.connect() as conn:
        total = conn.execute(EXPIRING_COUNT, window).scalar_one()
        rows = conn.execute(EXPIRING, {**window, "limit": PAGE + 1}).all()
    tag = cursor_tag("expiringContracts", {"from": start, "to": stop}, EXPIRING_ORDER)
    edges = [
        {
            "cursor": _cursor(tag, [_day(r.end_date), r.contract_id]),
            "node": {
                "contractId": r.contract_id,
                "kind": r.kind.upper(),
                "contractingAuthorityCode": r.contracting_authority,
                "endDate": _day(r.end_date).isoformat(),
                "status": r.status.upper(),
            },
        }
        for r in rows[:PAGE]
    ]
    return {
        "expiringContracts": {
            "totalCount": total,
            "pageInfo": {
                "hasNextPage": len(rows) > PAGE,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }
    }


def framework(engine: Engine, contract_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        now = _now()
        row = conn.execute(CONTRACT, {"id": contract_id, **now}).first()
        if row is None:
            return {"contract": None}
        participants = (
            conn.execute(PARTICIPANTS, {"tender": row.tender_id, **now}).all()
            if row.tender_id
            else []
        )
        call_offs = conn.execute(CALL_OFFS, {"id": contract_id, **now}).all()
    return {
        "contract": {
            "contractId": row.contract_id,
            "kind": row.kind.upper(),
            "endDate": _day(row.end_date).isoformat(),
            "participants": [
                {"organisationCode": p.organisation_code, "lotIds": _json(p.lot_ids)}
                for p in participants
                if p.status == "enrolled"
            ],
            "callOffs": [
                {
                    "callOffId": c.call_off_id,
                    "participantCode": c.participant_code,
                    "supplierId": c.supplier_id,
                    "procedure": c.procedure.upper(),
                }
                for c in call_offs
            ],
        }
    }


def tender_history(engine: Engine, tender_id: str, before: datetime) -> dict[str, Any]:
    # SQLite keeps the event log's times naive UTC; PostgreSQL compares aware values.
    bound = before.replace(tzinfo=None) if engine.dialect.name == "sqlite" else before
    with engine.connect() as conn:
        total = conn.execute(EVENTS_COUNT, {"id": tender_id, "before": bound}).scalar_one()
        rows = conn.execute(EVENTS, {"id": tender_id, "before": bound, "limit": 101}).all()
    return {
        "events": {
            "totalCount": total,
            "edges": [
                {
                    "node": {
                        "eventType": r.event_type,
                        "aggregateType": r.aggregate_type.upper(),
                        "aggregateVersion": r.aggregate_version,
                        "occurredAt": _utc(r.occurred_at),
                        "recordedAt": _utc(r.recorded_at),
                        "payload": _json(r.payload),
                    }
                }
                for r in rows[:100]
            ],
        }
    }


def _utc(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat()


def create() -> Starlette:
    engine = make_engine(os.environ["BENCH_READ_MODEL_URL"])

    async def endpoint(request: Request) -> JSONResponse:
        q = request.query_params
        which = request.path_params["query"]
        if which == "expiring":
            body = expiring(engine, date.fromisoformat(q["from"]), date.fromisoformat(q["to"]))
        elif which == "framework":
            body = framework(engine, q["id"])
        else:
            body = tender_history(engine, q["id"], datetime.fromisoformat(q["before"]))
        return JSONResponse({"data": body})

    return Starlette(routes=[Route("/plain/{query}", endpoint)])


def main() -> None:
    from bench.gateway_app import serve_worker

    serve_worker("bench.plain_app:create")


if __name__ == "__main__":
    main()
