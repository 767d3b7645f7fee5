"""Configuration from environment variables (the same names in every deployment)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222", description="NATS server URL(s), comma separated."
    )
    nats_user: str | None = None
    nats_password: str | None = None
    stream_replicas: int = Field(default=1, ge=1, le=5, description="3 on a JetStream cluster.")
    database_url: str = Field(
        default="sqlite:///data/registry.db", description="SQLAlchemy URL of the read models."
    )
    data_dir: str = "data"


class CommandSettings(BaseSettings):
    """How every CommandService decides (GT_VALID_TIME_TOLERANCE_SECONDS)."""

    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore")

    valid_time_tolerance_seconds: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How far a command's occurred_at may lie in the future (clock skew) before"
        " it is refused with VALID_TIME_IN_FUTURE; default 5 minutes, at most a day.",
    )

    @property
    def valid_time_tolerance(self) -> timedelta:
        return timedelta(seconds=self.valid_time_tolerance_seconds)
