"""The contracts of a status at a past horizon, paged in key order (asof15).

`contracts(filter: {status})` orders by `contract_id`. SQLite answered its page from the
status index (status, known_to, ...): every version of the status known now, tested for the
horizon and then sorted for the first 20. On the bench's histories that is every active
version ever (4.2k at 10k events, 42k at 100k): 0.8 ms against 45 ms a page, the part of the
request that grew with the history (the count is stored since asof12).

Walked along the key index (contract_id, known_to, valid_from) instead, the page stops at its
21st match: 715 versions read at 10k and 712 at 100k for the active contracts at the bench's
middle day (0.15 ms either way). That walk reads few versions only while the statuses asked
are common at the horizon: for a rare one (the bench's terminated contracts: 16 at the middle
day of 100k) it reads the whole table, and the status index is the cheaper way. So the walk
is taken when the stored counts (`projections.status_counts`, asked first: two sums of a
few hundred week rows) say the statuses asked hold at least half the contracts at the
horizon; else the page is planned as before. Same rows either way: the same predicate on the
versions, only the index SQLite reads them by differs.

SQLite only: the walk is forced by making the horizon's interval tests and the status test
unindexable (`+ 0`, `|| ''`), so the key index, which gives the order, is the only one left.
PostgreSQL plans its own way (not measured here); its page is unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Table, and_, bindparam, literal_column
from sqlalchemy.sql import FromClause

from contracts_schema.registry.state import ContractStatus
from gateway.readmodels import HORIZON_KNOWN, HORIZON_VALID, ReadModels

EVERY_STATUS = [s.value for s in ContractStatus]

_views: WeakKeyDictionary[Table, FromClause] = WeakKeyDictionary()


def walk_view(table: Table) -> FromClause:
    """`table` at the request's horizon (`readmodels.horizon_view`'s predicate, the same
    parameters), with its interval tests written so that no index answers them: SQLite then
    reads the versions in the order of the index that gives the page's order. One per table,
    so that the statements built from it are kept by shape."""
    found = _views.get(table)
    if found is None:
        c = table.c
        valid: Any = bindparam(HORIZON_VALID)
        known: Any = bindparam(HORIZON_KNOWN)
        # `x + 0` is x for every value stored (integers): only the index choice changes.
        found = _views[table] = (
            table.select()
            .where(
                and_(
                    c.valid_from + literal_column("0") <= valid,
                    c.valid_to + literal_column("0") > valid,
                    c.known_from + literal_column("0") <= known,
                    c.known_to + literal_column("0") > known,
                )
            )
            .subquery(table.name)
        )
    return found


async def walk_in_key_order(
    read: ReadModels,
    counted: tuple[Any, Mapping[str, Any]],
    statuses: Sequence[str],
    every_status: Sequence[str] = EVERY_STATUS,
) -> bool:
    """Whether `statuses` hold at least half the contracts at the request's (past) horizon,
    by the stored counts `counted` (`ReadModels.status_count`): then a page walked in key
    order finds its rows among a few times as many versions. SQLite only. (`every_status`:
    every value of the counted column; the tenders' phases since asof23.)"""
    if read.engine.dialect.name != "sqlite":
        return False
    statement, parameters = counted
    asked, every = await asyncio.gather(
        read.scalar(statement, {**parameters, "filter_statuses": list(statuses)}),
        read.scalar(statement, {**parameters, "filter_statuses": list(every_status)}),
    )
    return bool(every) and 2 * int(asked or 0) >= int(every)
