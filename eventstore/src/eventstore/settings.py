"""Configuration from environment variables (the same names in every deployment)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222", description="NATS server URL(s), comma separated."
    )
    nats_user: str | None = None
    nats_password: str | None = None
    signing_seed: str | None = Field(
        default=None,
        description="The service's ed25519 nkey seed (GT_SIGNING_SEED, a secret): it signs the"
        " events the service appends and its stream checkpoints.",
    )
    checkpoint_interval: float = Field(
        default=60.0, gt=0, description="Seconds between signed checkpoints of its stream."
    )
    stream_replicas: int = Field(default=1, ge=1, le=5, description="3 on a JetStream cluster.")
    database_url: str = Field(
        default="sqlite:///data/registry.db", description="SQLAlchemy URL of the read models."
    )
    data_dir: str = "data"
