"""The standalone gateway's configuration: GT_* environment variables only, checked up front.

Every problem is reported at once, by variable name, before anything connects: values that
do not parse (a port out of range, a word for a number) and values that parse but cannot
work (a malformed URL, a missing JWT key, one port for two servers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventstore.observability import ObservabilitySettings
from eventstore.settings import (
    NatsSettings,
    database_url_problem,
    setting_problems,
    without_password,
)
from gateway.settings import GatewaySettings

NATS_SCHEMES = {"nats", "tls", "ws", "wss"}
MAX_HTTP_WORKERS = 32


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    http_host: str = Field(default="127.0.0.1", description="Interface of the GraphQL endpoint.")
    http_port: int = Field(default=8000, ge=0, le=65535, description="0 = any free port.")
    read_database_url: str | None = Field(
        default=None,
        description="Optional URL (a read-only role) for GraphQL reads; default GT_DATABASE_URL.",
    )
    dev_mode: bool = Field(
        default=False, description="Allow running without a JWT key (anonymous access only)."
    )
    http_shutdown_grace: float = Field(
        default=10.0,  # gateway.serve.DEFAULT_SHUTDOWN_GRACE (not imported: uvicorn's import)
        gt=0,
        le=3600,
        description="Seconds a stopping gateway lets the requests being answered finish before"
        " it cancels them (idle connections and websockets are closed at once).",
    )
    http_workers: int = Field(
        default=1,
        ge=1,
        le=MAX_HTTP_WORKERS,
        description=(
            "Gateway processes serving the one GraphQL port (each follows the projector's"
            " announcements itself); more than 1 uses more cores for GraphQL."
        ),
    )


def _servers(nats: NatsSettings) -> list[str]:
    return [u.strip() for u in nats.nats_url.split(",")]


def _check_nats_settings(nats: NatsSettings) -> list[str]:
    problems = _check_nats(_servers(nats))
    if bool(nats.nats_user) != bool(nats.nats_password):
        problems.append("GT_NATS_USER and GT_NATS_PASSWORD go together: set both or neither")
    return problems


def _check_databases(gateway: GatewaySettings) -> list[str]:
    """The read models' database and, when set apart, the audit's (both processes read it) and
    the identities'."""
    problems = _check_database("GT_DATABASE_URL", gateway.database_url)
    if gateway.audit_database_url:
        problems += _check_database("GT_AUDIT_DATABASE_URL", gateway.audit_database_url)
    if gateway.identity_database_url:
        problems += _check_database("GT_IDENTITY_DATABASE_URL", gateway.identity_database_url)
    return problems


@dataclass(frozen=True)
class GatewayConfig:
    nats: NatsSettings
    gateway: GatewaySettings
    http: HttpSettings
    observability: ObservabilitySettings

    @property
    def nats_servers(self) -> list[str]:
        return _servers(self.nats)


def load_config() -> GatewayConfig:
    """Read and check the configuration; raises ConfigError naming every bad variable."""
    problems: list[str] = []
    nats = _parse(NatsSettings, problems)
    gateway = _parse(GatewaySettings, problems)
    http = _parse(HttpSettings, problems)
    observability = _parse(ObservabilitySettings, problems)
    # Check what did parse, so that one run reports every problem.
    if nats is not None:
        problems += _check_nats_settings(nats)
    if gateway is not None:
        problems += _check_databases(gateway)
    if http is not None and http.read_database_url:
        problems += _check_database("GT_READ_DATABASE_URL", http.read_database_url)
    if gateway is not None and not (http is not None and http.dev_mode):
        problems += _check_keys(gateway)
    if http is not None and observability is not None:
        port = http.http_port
        if port > 0 and port == observability.metrics_port:
            problems.append(f"GT_HTTP_PORT and GT_METRICS_PORT are both {port}; use two ports")
    if problems or nats is None or gateway is None or http is None or observability is None:
        raise ConfigError(problems)
    return GatewayConfig(nats, gateway, http, observability)


@dataclass(frozen=True)
class ProjectorConfig:
    """The projector process (`python -m bootstrap.serve projector`): NATS, the read-model
    database it writes (GT_DATABASE_URL, as the gateway's; the audit's history into
    GT_AUDIT_DATABASE_URL when set), observability."""

    nats: NatsSettings
    database_url: str
    observability: ObservabilitySettings
    audit_database_url: str | None = None

    @property
    def nats_servers(self) -> list[str]:
        return _servers(self.nats)


def load_projector_config() -> ProjectorConfig:
    """Read and check the projector's configuration; raises ConfigError naming every bad one."""
    problems: list[str] = []
    nats = _parse(NatsSettings, problems)
    gateway = _parse(GatewaySettings, problems)
    observability = _parse(ObservabilitySettings, problems)
    if nats is not None:
        problems += _check_nats_settings(nats)
    if gateway is not None:
        problems += _check_databases(gateway)
    if problems or nats is None or gateway is None or observability is None:
        raise ConfigError(problems)
    return ProjectorConfig(nats, gateway.database_url, observability, gateway.audit_database_url)


S = TypeVar("S", bound=BaseSettings)


def _parse(kind: type[S], problems: list[str]) -> S | None:
    try:
        return kind()
    except ValidationError as exc:
        problems += setting_problems(exc)
        return None


def _check_nats(servers: list[str]) -> list[str]:
    problems = []
    for url in servers:
        try:
            parsed = urlsplit(url)
            port = parsed.port
        except ValueError as exc:
            problems.append(f"GT_NATS_URL: {url!r} is not a valid URL ({exc})")
            continue
        if parsed.scheme not in NATS_SCHEMES or not parsed.hostname:
            problems.append(
                f"GT_NATS_URL: {url!r} is not a NATS URL; expected e.g. nats://host:4222"
                " (comma separated for a cluster)"
            )
        elif port == 0:
            problems.append(f"GT_NATS_URL: {url!r} names port 0")
    return problems


def _check_database(name: str, url: str) -> list[str]:
    problem = database_url_problem(url)
    return [f"{name}: {without_password(url)!r} {problem}"] if problem else []


def _check_keys(settings: GatewaySettings) -> list[str]:
    if settings.jwt_algorithm == "HS256" and not settings.jwt_secret:
        return [
            "GT_JWT_SECRET is not set: the gateway cannot verify HS256 tokens"
            " (set GT_DEV_MODE=true to run with anonymous access only)"
        ]
    if settings.jwt_algorithm == "RS256" and not settings.jwt_public_key:
        return ["GT_JWT_PUBLIC_KEY is not set: the gateway cannot verify RS256 tokens"]
    return []
