"""Configuration from environment variables (the same names in every deployment)."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# nats-server reads an unquoted `$VAR` in its config as a config value, not as text: digits
# become a number, true/false/yes/no/on/off a boolean, and whitespace or config punctuation
# splits or ends the value. The account's password then never matches the client's.
_CONFIG_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})
_SAFE_PASSWORD = re.compile(r"[A-Za-z0-9_\-.+/=~]+")

# Settings whose values are secrets: a bad one is named, its value never quoted (a process's
# stderr ends up in logs that more people read than hold the secret).
SECRET_SETTINGS = frozenset(
    {"GT_NATS_PASSWORD", "GT_SIGNING_SEED", "GT_WEBHOOK_MASTER_KEY", "GT_JWT_SECRET"}
)


DATABASE_DRIVERS = frozenset({"sqlite", "postgresql", "postgresql+psycopg"})


def quoted_setting(name: str, value: object) -> str:
    """How a bad setting's value is quoted after its error: ` (got 'x')`, never a secret's
    (nor a URL's password)."""
    if name in SECRET_SETTINGS or (name.startswith("GT_NATS_") and name.endswith("PASSWORD")):
        return " (its value, a secret, is not shown)"
    if isinstance(value, str):
        return f" (got {without_password(value)!r})"
    return "" if isinstance(value, dict) else f" (got {value!r})"


def without_password(url: str) -> str:
    """`url` with the password of its `user:password@` part replaced (for an error message)."""
    return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)


def database_url_problem(url: str) -> str | None:
    """Why `url` is not a read-model database URL we can use, as words to follow the URL
    (`f"{without_password(url)!r} {problem}"`), or None. Never quotes the password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    expected = "expected sqlite:///path or postgresql://user:password@host:port/name"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        why = " (its port is not a number)" if isinstance(exc, ValueError) else ""
        return f"is not a database URL{why}; {expected}"
    if parsed.drivername not in DATABASE_DRIVERS:
        return (
            f"is not a database URL we can use: driver {parsed.drivername!r} is not supported;"
            " use sqlite or postgresql"
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"is not a database URL we can use: port {parsed.port} is not 1..65535"
    return None


def setting_problems(exc: ValidationError) -> list[str]:
    """pydantic's report as one line per variable: `GT_HTTP_PORT: ... (got 'x')`."""
    return [
        f"{name}: {error['msg']}{quoted_setting(name, error.get('input'))}"
        for error in exc.errors()
        for name in ["GT_" + "_".join(str(p) for p in error["loc"]).upper()]
    ]


def signing_seed_problem(value: str, kind: str = "user") -> str | None:
    """Why `value` is not an ed25519 nkey seed of `kind` ("user", as `data/keys/<context>.seed`
    holds, or "account", as the NATS auth callout's), or None. Never quotes the value."""
    import nkeys

    prefix, named = {"user": ("SU", "a user's"), "account": ("SA", "an account's")}[kind]
    try:
        public = nkeys.from_seed(value.encode()).public_key.decode()
    except Exception:  # nkeys raises its own errors and binascii's for bad base32
        return f"is not an nkey seed ({named} is 58 characters starting with {prefix!r})"
    if public[0] != prefix[1]:
        return f"is an nkey seed, but not {named} (that starts with {prefix!r})"
    return None


def nats_password_problem(value: str) -> str | None:
    """Why nats-server would not take `value` as a password from its environment, or None."""
    if not value:
        return "is empty"
    if re.fullmatch(r"[0-9.eE+-]+|[0-9]+([kKmMgGtT][bB]?)", value):
        return "is a number to nats-server's config parser, not text"
    if value.lower() in _CONFIG_WORDS:
        return "is a boolean word to nats-server's config parser, not text"
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

    @field_validator("signing_seed")
    @classmethod
    def _signing_seed_is_one(cls, value: str | None) -> str | None:
        problem = None if value is None else signing_seed_problem(value)
        if problem:
            raise ValueError(f"GT_SIGNING_SEED {problem}: the service cannot sign its events")
        return value


HEARTBEAT_ENV = "GT_PROJECTION_HEARTBEAT_SECONDS"
DEFAULT_HEARTBEAT = 5.0  # seconds (eventstore.projection_news.HEARTBEAT)
AUDIT_NICENESS_ENV = "GT_AUDIT_PROJECTOR_NICENESS"  # bootstrap.projector_child.audit_niceness


class ProjectionSettings(BaseSettings):
    """How often an idle projector says its positions (eventstore.projection_news)."""

    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    # Read by every process that applies or follows a read model (projector, gateway, make
    # run); a follower reports its projector after three beats of silence, so all must have
    # the same. Lowered by the tests that wait for a silent projector (suite23).
    projection_heartbeat_seconds: float = Field(
        default=DEFAULT_HEARTBEAT,
        ge=0.2,
        le=60,
        description="Seconds between an idle projector's announcements; a follower that hears"
        " nothing for three of them reports the projector (0.2 to 60).",
    )
    # Read by the audit's projector process (bootstrap.projector_child); here so that make
    # run's and `serve projector`'s checks refuse a bad one before anything starts (fresh24).
    audit_projector_niceness: int = Field(
        default=0,
        ge=0,
        le=19,
        description="How much nicer (os.nice) the audit's projector runs than the rest (0 to 19).",
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
