"""Gateway configuration from environment variables (prefix GT_, as everywhere)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///data/read-models.db", description="SQLAlchemy URL of the read models."
    )
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: str | None = Field(default=None, description="HS256 shared secret.")
    jwt_public_key: str | None = Field(default=None, description="RS256 public key (PEM).")
    jwt_audience: str = "gt-registry"
    max_depth: int = Field(default=10, ge=2)
    max_tokens: int = Field(default=2000, ge=50)
    max_aliases: int = Field(default=15, ge=1)
    max_page_size: int = Field(default=100, ge=1)
    consistency_timeout: float = Field(
        default=5.0, gt=0, description="Longest wait for projections to reach a token (seconds)."
    )
    graphiql: bool = True
