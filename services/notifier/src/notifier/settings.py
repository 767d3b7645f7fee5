"""The notifier's configuration (environment variables, prefix GT_, as everywhere)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from eventstore.settings import NatsSettings, database_url_problem, without_password
from notifier.domain.schedule import ExpiryPolicy

MAX_THRESHOLD_MONTHS = 1200  # a century: a warning's due day stays a real calendar day
DAY_SECONDS = 86_400
MAX_ACK_WAIT_SECONDS = DAY_SECONDS
# Every number has a ceiling (as in gateway.settings): 1e308 seconds is a loop asleep for
# ever, and a lease or delay that large overflows the dates it is added to.
MAX_DAYS = 36_500  # a century


class NotifierSettings(NatsSettings):
    database_url: str = Field(
        default="sqlite:///data/notifier.db", description="SQLAlchemy URL of the notifier's tables."
    )
    expiry_thresholds_months: tuple[int, ...] = Field(
        default=(24, 18, 12, 6, 3), description="Warn this many months before an end date."
    )
    expiry_late_after_days: int = Field(default=7, ge=0, le=MAX_DAYS)
    expiry_forget_after_days: int = Field(default=30, ge=0, le=MAX_DAYS)
    # At most a day: NATS keeps the wait as int64 nanoseconds (~292 years), and a larger
    # value (1e11, 1e308) passed make run's check and then ended the notifier's start in a
    # traceback from the broker ("cannot unmarshal ... ack_wait") or from nats-py.
    integration_ack_wait: float = Field(
        default=30.0,
        gt=0,
        le=MAX_ACK_WAIT_SECONDS,
        description="Seconds before a dead instance's batch is redelivered (at most a day).",
    )
    tick_interval_seconds: float = Field(default=3600.0, gt=0, le=DAY_SECONDS)
    webhook_master_key: str | None = Field(
        default=None,
        min_length=16,
        description="Derives each subscription's signing secret; required to deliver webhooks.",
    )
    webhook_allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Hosts a webhook may reach although not public https (the operator's list).",
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=100_000, description="Parked after this many."
    )
    webhook_base_delay: float = Field(
        default=2.0, gt=0, le=DAY_SECONDS, description="First retry delay (s)."
    )
    webhook_max_delay: float = Field(
        default=600.0, gt=0, le=7 * DAY_SECONDS, description="Backoff cap (s)."
    )
    webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description=(
            "Deadline of one delivery attempt (s): resolving, connecting, sending and the"
            " answer's head; also httpx's per-read timeout."
        ),
    )
    webhook_poll_interval: float = Field(default=1.0, gt=0, le=3600)
    webhook_claim_batch: int = Field(
        default=20, ge=1, le=10_000, description="Deliveries one dispatcher claims per round."
    )
    webhook_claim_lease: float = Field(
        default=120.0,
        gt=0,
        le=DAY_SECONDS,
        description="Seconds a claimed delivery stays with its dispatcher; after that (the"
        " dispatcher died mid-attempt) another instance may attempt it.",
    )

    @field_validator("database_url")
    @classmethod
    def _a_database_we_use(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise ValueError(f"{without_password(value)!r} {problem}")
        return value

    @field_validator("expiry_thresholds_months")
    @classmethod
    def _thresholds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        # Checked here, not only by ExpiryPolicy: a bad value then stopped the notifier
        # (make run's child, after the demo was in) with a traceback instead of one line.
        wrong = [m for m in value if not 1 <= m <= MAX_THRESHOLD_MONTHS]
        if wrong:
            raise ValueError(
                f"each threshold must be between 1 and {MAX_THRESHOLD_MONTHS} months before"
                f" the end date; got {', '.join(map(str, wrong))}"
            )
        if len(set(value)) != len(value):
            raise ValueError("the thresholds must be distinct")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> Self:
        if self.webhook_claim_lease <= self.webhook_timeout:
            raise ValueError(
                f"webhook_claim_lease ({self.webhook_claim_lease}s) must exceed webhook_timeout"
                f" ({self.webhook_timeout}s): a lease that ends during a request lets a second"
                " notifier instance deliver the same event again"
            )
        return self

    def master_key(self) -> str:
        """The webhook master key, or a startup error that says how to set it."""
        if not self.webhook_master_key:
            raise ValueError(
                "GT_WEBHOOK_MASTER_KEY is not set: webhooks are signed with secrets derived from"
                " it, so the notifier will not deliver without one (16+ random characters)"
            )
        return self.webhook_master_key

    def expiry_policy(self) -> ExpiryPolicy:
        return ExpiryPolicy(
            self.expiry_thresholds_months,
            self.expiry_late_after_days,
            self.expiry_forget_after_days,
        )
