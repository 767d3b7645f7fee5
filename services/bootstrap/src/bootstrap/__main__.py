"""`python -m bootstrap` (`make run`): the whole system in one process, see `bootstrap.embedded`."""

from __future__ import annotations

import argparse
import re
import sys

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from audit.ocds.ocid_prefix import BadOcidPrefix, read_ocid_prefix
from bootstrap.embedded import run, settings_problems
from enrolment.app import EnrolmentSettings
from eventstore.observability import ObservabilitySettings
from eventstore.projection import prepare_ahead_default
from eventstore.settings import CommandSettings, NatsSettings, ProjectionSettings
from eventstore.signing import BadSetting
from eventstore.trust import configured
from gateway.commandbus import CommandRetrySettings
from notifier.settings import NotifierSettings

DESCRIPTION = (
    "Start the whole system with demo data (`make run`): NATS, the services, the projector"
    " and the GraphQL gateway (console /console/, GraphiQL /graphql). It takes no arguments;"
    " its settings are GT_* environment variables (README: Environment variables), e.g."
    " GT_HTTP_PORT (default 8000), GT_DATA_DIR (default ./data) and GT_DEMO (default true;"
    " false: no demo history, the reference data only). Ctrl-C stops it."
)
# The settings the child processes read besides those `run` checks itself (HTTP, gateway):
# checked here, so a bad one is named before anything starts, not as "the notifier process
# exited with code 1" after the demo is loaded.
CHILDREN_READ: tuple[type[BaseSettings], ...] = (
    ObservabilitySettings,
    NatsSettings,
    ProjectionSettings,  # the projector's and the gateway's (GT_PROJECTION_HEARTBEAT_SECONDS)
    CommandSettings,  # the registry's and enrolment's (GT_VALID_TIME_TOLERANCE_SECONDS)
    EnrolmentSettings,
    NotifierSettings,
    CommandRetrySettings,
)


def check_settings() -> None:
    try:
        read_ocid_prefix()  # the gateway's OCDS field and the CLIs read it
    except BadOcidPrefix as exc:
        sys.exit(f"error: bad setting: {str(exc).removeprefix('bad setting ')}")
    try:
        configured()  # every reader's trust: GT_SIGNING_PUBLIC_KEYS, GT_READERS_VERIFY_*
        prepare_ahead_default()  # the projections' GT_PROJECTION_PREPARE_AHEAD
    except BadSetting as exc:
        sys.exit(f"error: bad setting: {exc}")
    for settings in CHILDREN_READ:
        try:
            settings()
        except ValidationError as exc:
            sys.exit(f"error: bad setting: {settings_problems(exc)}")
        except SettingsError as exc:  # a list or a map that is not JSON
            field = re.search(r'field "(\w+)"', str(exc))
            name = f"GT_{field.group(1).upper()}" if field else settings.__name__
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            sys.exit(f"error: bad setting: {name}: not a JSON value{cause}")


def main(argv: list[str] | None = None) -> None:
    # Settings are environment variables; an argument (a mistyped flag, --help) is answered
    # here instead of starting everything with it ignored.
    argparse.ArgumentParser(prog="python -m bootstrap", description=DESCRIPTION).parse_args(argv)
    check_settings()
    run()


if __name__ == "__main__":
    main()
