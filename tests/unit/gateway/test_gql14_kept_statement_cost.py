"""A contract page whose statement is kept by shape builds no SQL expression per request: the
expiring page spent ~10% of its CPU building an operator expression (`status || ''`) that
only a new statement uses (gql14)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

from eventstore.sql import make_engine
from gateway.auth import Principal, Role
from gateway.readmodels import ReadModels
from gateway.schema.filters import ContractFilter, DateRange, contract_query

COORDINATOR = Principal(Role.COORDINATOR, "c")
PARTICIPANT = Principal(Role.PARTICIPANT, "p", organisation="GM0363")


def _sql_expression_calls(run: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """`run(*args, **kwargs)`'s result and the SQLAlchemy expression-language functions
    (sqlalchemy/sql/) it called."""
    seen: list[str] = []

    def hook(frame: FrameType, event: str, _: Any) -> None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if event == "call" and "/sqlalchemy/sql/" in path:
            seen.append(f"{path.rsplit('/', 1)[1]}:{frame.f_code.co_name}")

    sys.setprofile(hook)
    try:
        result = run(*args, **kwargs)
    finally:
        sys.setprofile(None)
    return result, seen


def test_a_kept_contract_statement_is_not_rebuilt_in_part(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    read = ReadModels(engine)
    filters = [
        ContractFilter(expiring=DateRange(from_=date(2026, 1, 1), to=date(2026, 12, 31))),
        ContractFilter(tender_id="T-1"),
        ContractFilter(),
    ]
    for principal in (COORDINATOR, PARTICIPANT):
        for f in filters:
            first, _ = contract_query(read.at_now(), f, principal, active_only=True)
            (again, _), calls = _sql_expression_calls(
                contract_query, read.at_now(), f, principal, active_only=True
            )
            assert again is first  # the kept statement
            assert calls == [], (f, principal, calls[:5])
    engine.dispose()
