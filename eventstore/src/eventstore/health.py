"""The HTTP side of observability: `/healthz`, `/readyz`, `/health` and `/metrics` for every
service.

`/health` is the service's health report: its readiness checks, and what its reports say
(`add_report`: e.g. an event stream that lost messages, `eventstore.losses`), with every
problem in one list; it answers 200 whatever it says (`/readyz` is the probe).

A deliberately tiny HTTP/1.1 responder on asyncio (one request per connection), so that a
service that has no web framework still answers its orchestrator's probes and Prometheus.
`python -m eventstore.health probe URL` exits 0 when URL answers 200: the containers' check.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from eventstore.observability import refresh_projection_metrics

log = logging.getLogger(__name__)

Check = Callable[[], bool | Awaitable[bool]]
# A part of the health report: a JSON object, its problems (sentences) under "problems".
Report = Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HealthServer:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self._host = host
        self._requested_port = port
        self._registry = registry
        self._checks: dict[str, Check] = {}
        self._reports: dict[str, Report] = {}
        self._server: asyncio.Server | None = None

    def add_readiness(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def add_report(self, name: str, report: Report) -> None:
        """A part of `/health` (and of `/readyz`'s body), asked at each request."""
        self._reports[name] = report

    async def reports(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, report in self._reports.items():
            try:
                outcome = report()
                found[name] = dict(await outcome if inspect.isawaitable(outcome) else outcome)
            except Exception as exc:
                found[name] = {"problems": [f"the report failed: {exc!r}"]}
        return found

    async def health(self) -> dict[str, Any]:
        """Readiness, the reports, and every problem they name."""
        checks = await self.readiness()
        reports = await self.reports()
        problems = [f"{name}: not ready" for name, ready in checks.items() if not ready]
        for report in reports.values():
            problems += [str(p) for p in report.get("problems") or ()]
        return {
            "status": "problems" if problems else "ok",
            "checks": checks,
            "problems": problems,
            "reports": reports,
        }

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("health server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> HealthServer:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._requested_port, reuse_address=True
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def readiness(self) -> dict[str, bool]:
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                outcome = check()
                results[name] = bool(await outcome if inspect.isawaitable(outcome) else outcome)
            except Exception:
                results[name] = False
        return results

    async def _respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in {"GET", "HEAD"}:
            return 405, "text/plain", b"only GET\n"
        route = path.split("?", 1)[0]
        if route in {"/healthz", "/livez"}:
            return 200, "application/json", b'{"status":"ok"}'
        if route == "/readyz":
            checks = await self.readiness()
            ready = all(checks.values())
            answer: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
            if self._reports:
                answer["reports"] = await self.reports()
            body = json.dumps(answer)
            return (200 if ready else 503), "application/json", body.encode()
        if route == "/health":
            return 200, "application/json", json.dumps(await self.health()).encode()
        if route == "/metrics":
            await refresh_projection_metrics()
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return 404, "text/plain", b"not found; try /healthz, /readyz, /health or /metrics\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in {b"\r\n", b""}:
                pass  # headers are not needed
            parts = request_line.decode("latin-1").split()
            if len(parts) < 2:
                status, ctype, body = 400, "text/plain", b"malformed request line\n"
            else:
                status, ctype, body = await self._respond(parts[0], parts[1])
            head = (
                f"HTTP/1.1 {status} {REASONS.get(status, 'Bad Request')}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if parts[:1] == ["HEAD"] else body))
            await writer.drain()
        except (TimeoutError, ConnectionError) as exc:
            log.debug("health request dropped: %s", exc)
        finally:
            writer.close()


def probe(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "probe":
        print("usage: python -m eventstore.health probe URL", file=sys.stderr)
        return 2
    return 0 if probe(argv[1]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
