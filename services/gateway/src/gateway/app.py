"""The ASGI app: GraphQL over HTTP and graphql-transport-ws, /metrics, /healthz, the console."""

from __future__ import annotations

import time
from typing import Any

from cross_web import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from audit.graphql import AuditSources
from eventstore.observability import server_span
from gateway.auth import BearerCheck
from gateway.body import BodyLimit, decode_json
from gateway.commandbus import CommandBus
from gateway.console.routes import console_routes, graphiql_response
from gateway.live import LiveEvents
from gateway.metrics import refresh
from gateway.planner import PlannerStatistics
from gateway.privacy.identities import IdentityStore
from gateway.readmodels import ReadModels
from gateway.schema.build import build_schema
from gateway.schema.compiled import Compiler
from gateway.schema.context import Context
from gateway.schema.health import problems
from gateway.settings import GatewaySettings
from gateway.token_waits import SERVER_TIMING, server_timing

CONSISTENCY_HEADER = "x-consistency-token"


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        read: ReadModels,
        settings: GatewaySettings,
        commands: CommandBus | None,
        live: LiveEvents | None,
        audit: AuditSources | None = None,
        identities: IdentityStore | None = None,
        compiled: bool = True,
    ) -> None:
        schema = build_schema(settings)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # the legacy protocol is off
            max_subscriptions_per_connection=settings.max_subscriptions_per_client,
        )
        self.read = read
        self.settings = settings
        self.commands = commands
        self.live = live
        self.audit = audit
        self.identities = identities or IdentityStore.open(settings.identity_database_url)
        self.planner = PlannerStatistics(read.engine)
        self.compiled = Compiler(schema, settings, schema.document_cache) if compiled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        arrived = time.time()
        self.planner.maybe_refresh()
        # One span per request, in the client's trace when it sends W3C `traceparent`: a
        # mutation and the query that reads it with the consistency token join one trace.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with server_span("graphql", headers, **{"http.method": scope["method"]}):
            request = Request(scope=scope, receive=receive)
            response, tried = await self._compiled(request)
            answered_on = tried
            if response is None:
                # The ordinary way, on a context of its own (its loaders and horizon as if
                # nothing had run): only a read-your-writes wait that failed is not waited
                # out twice.
                fresh = answered_on = await self.get_context(request, None)
                if tried is not None:
                    fresh._failed.update(tried._failed)
                try:
                    response = await self.run(request, context=fresh)
                except HTTPException as e:
                    response = PlainTextResponse(e.reason, status_code=e.status_code)
            if answered_on is not None and answered_on.waits is not None:
                # What the request's read-your-writes waited (a token named): for an operator
                # in the browser's network panel, and the freshness benchmark.
                timing = server_timing(arrived, answered_on.waits, time.time())
                response.headers.append(SERVER_TIMING, timing)
            await response(scope, receive, send)

    async def _compiled(self, request: Request) -> tuple[Response | None, Context | None]:
        """The answer of a kept document's compiled plan (schema/compiled.py), or None when
        the request is not one a plan answers as strawberry would; and the context the plan
        ran on, if one did."""
        if self.compiled is None or request.method != "POST":
            return None, None
        if "application/json" not in request.headers.get("content-type", ""):
            return None, None
        if self._get_stream_transport_from_headers(request.headers) is not None:
            return None, None
        try:
            data = self.decode_json(await request.body())
        except HTTPException:
            return None, None  # strawberry's view says what is wrong with the body
        if not isinstance(data, dict) or data.get("extensions") is not None:
            return None, None
        query, variables = data.get("query"), data.get("variables")
        operation = data.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None, None
        if not isinstance(operation, str | None):
            return None, None
        context = await self.get_context(request, None)
        answer = await self.compiled.answer(context, query, variables, operation)
        if answer is None:
            return None, context
        body = self.encode_json(answer)
        return Response(body, status_code=200, media_type="application/json"), context

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response()  # the vendored page: no CDN

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            read=self.read.at_now(),
            settings=self.settings,
            commands=self.commands,
            live=self.live,
            authorization=request.headers.get("authorization"),
            consistency_header=consistency_header(request),
            audit=self.audit,
            identities=self.identities,
            websocket=isinstance(request, WebSocket),
        )
        await context.note_header()  # every root waits for it, not only those naming a token
        return context


def consistency_header(request: Request | WebSocket) -> str | None:
    """The `X-Consistency-Token` header's token. Sent more than once, it is every one of
    them: a token is a comma-separated list of positions, and a repeated header is that list
    (RFC 9110, 5.3), so the read waits for each (`parse_consistency_token` keeps the furthest
    position of a stream named twice; a malformed or too long one is refused where a root
    asks). The first alone was taken and the others dropped without a word: a write the
    client had named could be missing from the answer (correct23)."""
    given = request.headers.getlist(CONSISTENCY_HEADER)
    if len(given) <= 1:
        return given[0] if given else None
    return ",".join(value.strip() for value in given)


def build_app(
    read: ReadModels,
    settings: GatewaySettings,
    commands: CommandBus | None = None,
    live: LiveEvents | None = None,
    audit: AuditSources | None = None,
    identities: IdentityStore | None = None,
    compiled: bool = True,
) -> Starlette:
    """`compiled`: kept documents answered by their compiled plans (schema/compiled.py);
    False runs every request through strawberry (the equivalence tests compare both)."""
    graphql = GatewayGraphQL(read, settings, commands, live, audit, identities, compiled)

    async def metrics(_: Request) -> Response:
        await refresh(read)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> JSONResponse:
        found = await problems(read)
        return JSONResponse({"ok": not found, "problems": found}, status_code=200)

    # Starlette 1.x: routes are declared up front (no add_websocket_route).
    app = Starlette(
        routes=[
            Route(
                "/graphql",
                # Before any JSON is decoded: the body's size, then the bearer token.
                BodyLimit(BearerCheck(graphql, settings), settings.max_body_bytes),
                methods=["GET", "POST"],
            ),
            WebSocketRoute("/graphql", BearerCheck(graphql, settings)),
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            *console_routes(),  # /static (GraphiQL's assets) and /console
        ]
    )
    app.state.graphql = graphql  # its compiler's counts (tests)
    return app
