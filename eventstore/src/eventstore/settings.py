"""Configuration from environment variables (the same names in every deployment)."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# nats-server reads an unquoted `$VAR` in its config as a config value, not as text: digits
# become a number, true/false/yes/no/on/off a boolean, and whitespace or config punctuation
# splits or ends the value. The account's password then never matches the client's.
_CONFIG_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})
_SAFE_PASSWORD = re.compile(r"[A-Za-z0-9_\-.+/=~]+")


def nats_password_problem(value: str) -> str | None:
    """Why nats-server would not take `value` as a password from its environment, or None."""
    if not value:
        return "is empty"
    if re.fullmatch(r"[0-9.eE+-]+|[0-9]+([kKmMgGtT][bB]?)", value):
        return "is a number to nats-server's config parser, not text"
    if value.lower() in _CONFIG_WORDS:
        return f"is the boolean {value!r} to nats-server's config parser, not text"
    if not _SAFE_PASSWORD.fullmatch(value):
        return (
            "contains whitespace or characters the nats-server config parser treats as syntax;"
            " use letters, digits and _-.+/=~ only"
        )
    return None


class NatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

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
    # At most a day: `inf` was taken and no checkpoint was ever written (correct22), and a
    # cut after the last checkpoint goes unseen for up to one interval (docs/security.md).
    checkpoint_interval: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="Seconds between signed checkpoints of its stream (at most a day).",
    )
    stream_replicas: int = Field(default=1, ge=1, le=5, description="3 on a JetStream cluster.")
    # Read only by the one-shot commands of `python -m bootstrap.serve` (reference-data,
    # notifier tick); a service retries its connect for ever. Lowered by the tests (suite22).
    one_shot_connect_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3_600,
        description="Seconds a one-shot command tries to reach NATS before it ends, exit 1.",
    )
    database_url: str = Field(
        default="sqlite:///data/registry.db", description="SQLAlchemy URL of the read models."
    )
    data_dir: str = "data"

    @field_validator("nats_password")
    @classmethod
    def _password_nats_can_read(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = nats_password_problem(value)
        if problem:
            raise ValueError(
                f"GT_NATS_PASSWORD {problem}: the NATS servers would not start or would not"
                " match it (choose e.g. the output of `openssl rand -hex 24`)"
            )
        return value


HEARTBEAT_ENV = "GT_PROJECTION_HEARTBEAT_SECONDS"


class ProjectionSettings(BaseSettings):
    """How often an idle projector says its positions (eventstore.projection_news)."""

    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    # Read by every process that applies or follows a read model (projector, gateway, make
    # run); a follower reports its projector after three beats of silence, so all must have
    # the same. Lowered by the tests that wait for a silent projector (suite23).
    projection_heartbeat_seconds: float = Field(
        default=5.0,
        ge=0.2,
        le=60,
        description="Seconds between an idle projector's announcements; a follower that hears"
        " nothing for three of them reports the projector (0.2 to 60).",
    )


class CommandSettings(BaseSettings):
    """How every CommandService decides (GT_VALID_TIME_TOLERANCE_SECONDS)."""

    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

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
