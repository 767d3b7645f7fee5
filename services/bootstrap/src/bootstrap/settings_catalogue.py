"""Which GT_* variables each container command reads, from the settings classes it builds.

The deployment manifests give a service exactly these (tests/integration/deploy checks
docker-compose.yml against it), so no manifest sets a variable nobody reads.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings

from enrolment.app import EnrolmentSettings
from eventstore.observability import ObservabilitySettings
from eventstore.settings import NatsSettings, ProjectionSettings
from eventstore.signing import PUBLIC_KEYS_ENV
from eventstore.trust import VERIFY_ENV, VERIFY_EVERY_ENV
from gateway.commandbus import CommandRetrySettings
from gateway.process_config import HttpSettings
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings


def _env(model: type[BaseSettings], *fields: str) -> set[str]:
    """GT_<FIELD> of the named fields (all of the class's when none is named)."""
    names = fields or tuple(model.model_fields)
    missing = [f for f in names if f not in model.model_fields]
    assert not missing, f"{model.__name__} has no field {missing}"
    return {f"GT_{name.upper()}" for name in names}


# The connection every service makes (NatsSettings also carries fields only some read).
CONNECTION = _env(NatsSettings, "nats_url", "nats_user", "nats_password", "stream_replicas")
OBSERVABILITY = _env(ObservabilitySettings)
# What a service that appends through service_app reads besides: its signing key and cadence.
SIGNING = _env(NatsSettings, "signing_seed", "checkpoint_interval")
# The readers' trust (eventstore.trust), read by every process that reads events.
READERS = {PUBLIC_KEYS_ENV, VERIFY_ENV, VERIFY_EVERY_ENV}


def settings_read_by(command: str) -> set[str]:
    """The variables `python -m bootstrap.serve <command>` reads."""
    readers: dict[str, set[str]] = {
        "registry": CONNECTION | OBSERVABILITY | SIGNING | READERS,
        "enrolment": CONNECTION
        | OBSERVABILITY
        | SIGNING
        | READERS
        | _env(EnrolmentSettings, "enrolment_database_url"),
        "notifier": CONNECTION
        | OBSERVABILITY
        | READERS
        | _env(NotifierSettings) - _env(NatsSettings, "data_dir"),
        "gateway": CONNECTION
        | OBSERVABILITY
        | READERS
        | _env(ProjectionSettings)
        | _env(GatewaySettings)
        | _env(HttpSettings)
        | _env(CommandRetrySettings),
        "projector": CONNECTION
        | OBSERVABILITY
        | READERS
        | _env(ProjectionSettings)
        | _env(GatewaySettings, "database_url", "audit_database_url"),
        "reference-data": _env(NatsSettings, "nats_url", "nats_user", "nats_password")
        | _env(ObservabilitySettings, "log_format", "log_level"),
    }
    return readers[command]
