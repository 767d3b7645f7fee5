"""The request body, bounded before anything decodes it: 413 past the limit, 400 for a body
that is not UTF-8 JSON (invalid bytes, lone surrogates, nesting deeper than the limit)."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_NESTING = 64  # a GraphQL request's JSON is a few levels deep; variables a few more


class BodyLimit:
    """ASGI middleware: reads at most `max_bytes` of an HTTP body, then replays it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"errors": [{"message": f"the request body exceeds {self.max_bytes} bytes"}]},
            status_code=413,
        )
        await response(scope, receive, send)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of decoded JSON, iteratively (no recursion to exhaust)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def decode_json(data: str | bytes) -> object:
    """json.loads, with the client's mistakes as 400s that say what is wrong."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"the request body is not valid UTF-8 ({exc.reason})") from exc
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise HTTPException(400, f"the JSON body nests deeper than {MAX_NESTING} levels") from exc
    except json.JSONDecodeError as exc:  # both paths (compiled, strawberry's) say where
        raise HTTPException(
            400,
            f"the request body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno};"
            ' send {"query": "...", "variables": {...}}',
        ) from exc
    if _depth(value, MAX_NESTING) > MAX_NESTING:
        raise HTTPException(400, f"the JSON body nests deeper than {MAX_NESTING} levels")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HTTPException(
            400, "the JSON body contains a lone surrogate (\\ud800-\\udfff): not Unicode text"
        ) from exc
    return value
