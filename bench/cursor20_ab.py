"""`python -m bench.cursor20_ab [BASE_COMMIT]`: what a cursor that names its list costs (cursor20).

A side by side A/B in one process, alternating rounds: the cursor code of BASE_COMMIT (default:
the parent of the branch's first cursor20 commit, read with `git show`) against this tree's.
Per edge: `pagination._encode` (the resolvers' cursors) and `compiled._cursor` (the plans'),
for the two key shapes the bench's pages have (expiring contracts: a day and an id; the event
log: an instant, a stream, a sequence). Per page (new only): `cursor_tag` (a JSON text and a
hash of the arguments) and, on the resolvers' path, `arguments` (graphql-core's argument
values for the field, asked again); decoding an `after` old and new. The least disturbed round
of each side is printed (another process's burst lands in some rounds, not all).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from graphql import parse
from sqlalchemy import Column, Date, MetaData, String, Table

from gateway.schema import compiled, pagination
from gateway.schema.build import build_schema
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[1]
BASE = "40d05972"  # main when cursor20 began
ROUNDS, EDGES, PAGES = 7, 20, 2_000  # a round: PAGES pages of EDGES edges


def _base(commit: str, path: str, name: str) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(text)
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (strawberry looks its types' module up)
    spec.loader.exec_module(module)
    return module


def _per(run: Callable[[], Any], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        run()
    return (time.process_time() - start) / n * 1e9  # ns


def _best(pairs: dict[str, tuple[Callable[[], Any], int]]) -> dict[str, float]:
    rounds: dict[str, list[float]] = {k: [] for k in pairs}
    for _ in range(ROUNDS):
        for k, (run, n) in pairs.items():  # alternating: a, b, a, b, ...
            rounds[k].append(_per(run, n))
    return {k: min(v) for k, v in rounds.items()}


def main() -> None:
    commit = sys.argv[1] if len(sys.argv) > 1 else BASE
    old_pagination = _base(commit, "services/gateway/src/gateway/schema/pagination.py", "old_p")
    old_compiled = _base(commit, "services/gateway/src/gateway/schema/compiled.py", "old_c")
    with open("/proc/loadavg") as f:
        print(f"load: {f.read().strip()}; base {commit}; {ROUNDS} rounds, best of each")
    shapes = {
        "expiring (day, id)": (
            [[date(2026, 1, 1 + i % 28), f"h7004-t{i}-lot1-contract"] for i in range(EDGES)],
            "expiringContracts",
            {"from": date(2025, 1, 1), "to": date(2026, 1, 1), "first": 20, "after": None},
            [("end_date", False), ("contract_id", False)],
        ),
        "events (instant, stream, seq)": (
            [[datetime(2026, 1, 1, 10, i, tzinfo=UTC), "REGISTRY", 1000 + i] for i in range(EDGES)],
            "events",
            {"filter": {"aggregateType": "TENDER", "aggregateId": "gt-mc1"}, "first": 100},
            [("recorded_at", False), ("stream", False), ("seq", False)],
        ),
    }
    for shape, (rows, name, args, order) in shapes.items():
        opening = pagination._opening(pagination.cursor_tag(name, args, order))

        def old_encode(rows: list[list[Any]] = rows) -> None:
            for values in rows:
                old_pagination._encode(values)

        def new_encode(rows: list[list[Any]] = rows, opening: str = opening) -> None:
            for values in rows:
                pagination._encode(values, opening)

        def old_plan(rows: list[list[Any]] = rows) -> None:
            for values in rows:
                old_compiled._cursor(values)

        def new_plan(rows: list[list[Any]] = rows, opening: str = opening) -> None:
            for values in rows:
                compiled._cursor(values, opening)

        best = _best(
            {
                "old _encode": (old_encode, PAGES),
                "new _encode": (new_encode, PAGES),
                "old _cursor": (old_plan, PAGES),
                "new _cursor": (new_plan, PAGES),
                "cursor_tag": (partial(pagination.cursor_tag, name, args, order), PAGES),
            }
        )
        print(f"== {shape}: per edge, ns")
        for side in ("_encode", "_cursor"):
            old, new = best[f"old {side}"] / EDGES, best[f"new {side}"] / EDGES
            ratio = f"({new / old:.2f}x, {new - old:+,.0f} ns)"
            print(f"  {side:8} old {old:7,.0f}  new {new:7,.0f}  {ratio}")
        print(f"  cursor_tag once per page: {best['cursor_tag']:,.0f} ns")

    # The resolvers' path asks graphql-core for the field's arguments once per page.
    schema = build_schema(GatewaySettings(jwt_secret="x" * 40))._schema
    assert schema.query_type is not None
    document = parse(
        "query($after: String) { contracts(filter: {kind: [FRAMEWORK], status: [ACTIVE]},"
        " orderBy: {field: END_DATE}, first: 20, after: $after) { totalCount } }"
    )
    node = document.definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]
    info: Any = SimpleNamespace(
        _raw_info=SimpleNamespace(
            parent_type=schema.query_type,
            field_name="contracts",
            field_nodes=[node],
            variable_values={"after": None},
        )
    )
    tag = pagination.cursor_tag(
        "expiringContracts", shapes["expiring (day, id)"][2], shapes["expiring (day, id)"][3]
    )
    cursor = pagination._encode(
        [date(2026, 1, 5), "h7004-t4-lot1-contract"], pagination._opening(tag)
    )
    old_cursor = old_pagination._encode([date(2026, 1, 5), "h7004-t4-lot1-contract"])
    t = Table("c", MetaData(), Column("end_date", Date), Column("contract_id", String))
    columns = [(t.c.end_date, False), (t.c.contract_id, False)]
    best = _best(
        {
            "arguments": (lambda: pagination.arguments(info), PAGES),
            "old decode": (lambda: old_pagination._decode(old_cursor, columns), PAGES),
            "new decode": (lambda: pagination._decode(cursor, columns, tag), PAGES),
        }
    )
    print("== per page, ns")
    print(f"  arguments (resolver path, graphql-core): {best['arguments']:,.0f}")
    print(
        f"  decode `after`: old {best['old decode']:,.0f}  new {best['new decode']:,.0f}"
        f" ({best['new decode'] / best['old decode']:.2f}x)"
    )


if __name__ == "__main__":
    main()
