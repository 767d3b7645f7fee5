"""Gateway configuration from environment variables (prefix GT_, as everywhere)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_RETENTION_DAYS = 36_500  # a century
# Every number has a ceiling: a value far beyond any real need (1e308, 10**30) is a typo or an
# attack on the configuration, and some overflow only later (a SQL LIMIT past int64, a deadline
# past year 9999), after `make run`'s check has passed.
GIB = 1024**3  # bytes
LARGE = 1_000_000_000  # counts and rates no deployment comes near


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    database_url: str = Field(
        default="sqlite:///data/read-models.db", description="SQLAlchemy URL of the read models."
    )
    audit_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the audit's history read model (entitiesAsOf), when"
        " apart from the read models (`make run`: its own SQLite file, so its own writer);"
        " unset: in GT_DATABASE_URL.",
    )
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str | None = Field(default=None, description="HS256 shared secret.")
    jwt_public_key: str | None = Field(default=None, description="RS256 public key (PEM).")
    jwt_audience: str = "gt-registry"
    max_depth: int = Field(default=10, ge=2, le=100)
    max_tokens: int = Field(
        default=2000, ge=50, le=1_000_000, description="Tokens of a signed-in query."
    )
    max_aliases: int = Field(default=15, ge=1, le=10_000)
    max_page_size: int = Field(default=100, ge=1, le=100_000)
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, le=GIB, description="Largest HTTP request body (413 beyond)."
    )
    # Per role: anonymous clients get the strictest document limits (see gateway.schema.guard).
    max_query_bytes: int = Field(
        default=32 * 1024, ge=256, le=GIB, description="Largest query text, comments included."
    )
    max_selections: int = Field(
        default=1000,
        ge=10,
        le=LARGE,
        description="Selections after fragment expansion, duplicates too.",
    )
    max_cost: int = Field(
        default=50_000, ge=10, le=LARGE, description="Selections weighted by each list's `first`."
    )
    max_repeats: int = Field(
        default=8,
        ge=1,
        le=10_000,
        description="Times one response field may be selected (fragments too).",
    )
    anonymous_max_query_bytes: int = Field(default=4 * 1024, ge=256, le=GIB)
    anonymous_max_tokens: int = Field(default=600, ge=50, le=1_000_000)
    anonymous_max_selections: int = Field(default=200, ge=10, le=LARGE)
    anonymous_max_cost: int = Field(default=5_000, ge=10, le=LARGE)
    lane_threshold_bytes: int = Field(
        default=1024,
        ge=0,
        le=GIB,
        description="Uncached queries larger than this are paced (guard).",
    )
    lane_duty: float = Field(
        default=0.25, gt=0, le=1, description="Share of the event loop large queries may use."
    )
    max_list_argument: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Most values one list argument (a filter) may carry.",
    )
    parse_cache_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=0,
        le=GIB,
        description="Query text the parse/validation caches keep.",
    )
    max_subscriptions_per_client: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Live subscriptions one signed-in subject may hold.",
    )
    # Per signed-in subject (gateway.command_rate): a token bucket of mutations' commands.
    command_rate_per_minute: float = Field(
        default=120.0,
        ge=0,
        le=LARGE,
        description="Commands one signed-in subject (not a coordinator) may send per minute,"
        " sustained; 0 = no limit.",
    )
    coordinator_command_rate_per_minute: float = Field(
        default=0.0,
        ge=0,
        le=LARGE,
        description="The same for coordinators; 0 (default) = no limit (they load in bulk).",
    )
    command_burst: int = Field(
        default=60,
        ge=1,
        le=LARGE,
        description="Commands one subject may send at once (bucket size).",
    )
    webhook_allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Hosts a webhook may target although not public https (operator's list).",
    )
    consistency_timeout: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Longest wait for projections to reach a token (seconds).",
    )
    # Privacy (docs/privacy.md): where pseudonyms meet identities, and for how long.
    identity_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the identity store (pseudonym -> login subject), apart"
        " from the read models; unset: kept in memory (forgotten on restart).",
    )
    # At most a century: a larger value passed make run's check and then stopped the gateway
    # ("OverflowError: Python int too large to convert to C int", from 10^9 days) or failed
    # every daily sweep with a traceback (the cut-off before year 1, from ~740,000 days).
    identity_retention_days: int = Field(
        default=3650,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="A person's identity is erased (with a PersonErased event) when unused for"
        " this many days (at most 36500, a century); 0 = kept until an erasure request.",
    )
    # Production defaults: off. `make run` (the embedded system) turns them on.
    graphiql: bool = False
    introspection: bool = False
    suggestions: bool = Field(
        default=False, description="'Did you mean ...' hints in validation errors."
    )
