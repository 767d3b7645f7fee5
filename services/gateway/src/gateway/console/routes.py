"""Routes for the static pages: `/static/...`, `/console/` and the GraphiQL page."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).with_name("static")

# Nothing but the gateway itself: no CDN, no inline script, no third-party connection.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class _Static(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["content-security-policy"] = CSP
        response.headers["x-content-type-options"] = "nosniff"
        return response


@cache
def graphiql_html() -> str:
    return (STATIC / "graphiql.html").read_text(encoding="utf-8")


def graphiql_response() -> HTMLResponse:
    return HTMLResponse(graphiql_html(), headers={"content-security-policy": CSP})


async def _to_console(_: object) -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


def console_routes() -> list[BaseRoute]:
    return [
        Mount("/static", _Static(directory=STATIC)),
        Route("/console", _to_console),
        Mount("/console", _Static(directory=STATIC / "console", html=True)),
    ]
