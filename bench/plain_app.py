"""The baseline for the GraphQL benchmark: a plain ASGI endpoint running the same SQL and
returning the same JSON, with no GraphQL layer. Served by uvicorn in its own process:
`uvicorn --factory bench.plain_app:create` with BENCH_READ_MODEL_URL set."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TODAY = date(2026, 1, 15)

EXPIRING = text(
    "SELECT contract_id, kind, authority, end_date FROM bench_rm_contracts"
    " WHERE status = 'active' AND end_date >= :start AND end_date < :stop"
    " AND (end_date, contract_id) > (:after_date, :after_id)"
    " ORDER BY end_date, contract_id LIMIT :first"
)
FRAMEWORK = text(
    "SELECT contract_id, kind, tender_id, authority, start_date, end_date, suppliers"
    " FROM bench_rm_contracts WHERE contract_id = :id"
)
PARTICIPANTS = text(
    "SELECT organisation_code, lot_ids FROM bench_rm_participants"
    " WHERE tender_id = :tender AND status = 'enrolled' ORDER BY organisation_code"
)
CALL_OFFS = text(
    "SELECT call_off_id, participant_code, supplier_id, procedure, start_date, end_date"
    " FROM bench_rm_call_offs WHERE framework_contract_id = :id ORDER BY call_off_id"
)
TENDER_AS_OF = text(
    "SELECT event_type, payload FROM bench_rm_tender_events"
    " WHERE tender_id = :id AND occurred_at <= :as_of ORDER BY occurred_at, stream, seq"
)


def expiring(engine: Engine, first: int = 20) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            EXPIRING,
            {
                "start": TODAY,
                "stop": TODAY + timedelta(days=365),
                "after_date": date.min,
                "after_id": "",
                "first": first,
            },
        ).all()
    items = [
        {"contractId": r[0], "kind": r[1], "authority": r[2], "endDate": str(r[3])} for r in rows
    ]
    return {"expiringContracts": {"items": items, "hasNext": len(items) == first}}


def framework(engine: Engine, contract_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(FRAMEWORK, {"id": contract_id}).first()
        if row is None:
            return {"contract": None}
        participants = conn.execute(PARTICIPANTS, {"tender": row.tender_id}).all()
        call_offs = conn.execute(CALL_OFFS, {"id": contract_id}).all()
    return {
        "contract": {
            "contractId": row.contract_id,
            "kind": row.kind,
            "authority": row.authority,
            "endDate": str(row.end_date),
            "participants": [{"code": p[0], "lotIds": p[1]} for p in participants],
            "callOffs": [
                {"callOffId": c[0], "participant": c[1], "supplier": c[2], "procedure": c[3]}
                for c in call_offs
            ],
        }
    }


def tender_as_of(engine: Engine, tender_id: str, as_of: date) -> dict[str, Any]:
    moment = datetime(as_of.year, as_of.month, as_of.day, 23, 59, tzinfo=UTC)
    with engine.connect() as conn:
        rows = conn.execute(TENDER_AS_OF, {"id": tender_id, "as_of": moment}).all()
    state: dict[str, Any] = {"tenderId": tender_id, "phase": None, "participants": 0}
    for kind, raw in rows:
        payload = json.loads(raw) if isinstance(raw, str) else raw
        if kind == "TenderPlanned":
            state.update(title=payload["title"], phase="planned", lots=len(payload["lots"]))
        elif kind == "ParticipantEnrolled":
            state["participants"] += 1
        elif kind == "ParticipantWithdrawn":
            state["participants"] -= 1
        elif kind == "TenderPublished":
            state["phase"] = "published"
        elif kind in ("ProvisionalAwardDecided", "ProvisionalAwardRevised"):
            state["phase"] = "provisionally_awarded"
        elif kind == "AwardMadeDefinitive":
            state["phase"] = "awarded"
    return {"tender": state}


def create() -> Starlette:
    engine = create_engine(os.environ["BENCH_READ_MODEL_URL"])

    async def endpoint(request: Request) -> JSONResponse:
        q = request.query_params
        which = request.path_params["query"]
        if which == "expiring":
            body = expiring(engine)
        elif which == "framework":
            body = framework(engine, q["id"])
        else:
            body = tender_as_of(engine, q["id"], date.fromisoformat(q["as_of"]))
        return JSONResponse({"data": body})

    return Starlette(routes=[Route("/plain/{query}", endpoint)])
