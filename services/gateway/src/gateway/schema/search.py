"""Search by a part of a name: case-insensitive, LIKE's wildcards taken literally."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, func, or_


def name_matches(table: Table, text: str) -> ColumnElement[bool]:
    escaped = text.strip().lower()
    for special in ("\\", "%", "_"):
        escaped = escaped.replace(special, "\\" + special)
    pattern = f"%{escaped}%"
    return or_(
        func.lower(table.c.name).like(pattern, escape="\\"),
        func.lower(table.c.code).like(pattern, escape="\\"),
    )
