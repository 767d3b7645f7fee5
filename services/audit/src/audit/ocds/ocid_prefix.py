"""The ocid prefix this deployment publishes under (GT_OCDS_OCID_PREFIX).

OCDS gives each publisher a prefix of its own (`ocds-` and six lowercase letters or digits,
registered with the OCDS helpdesk), so that ocids are unique across publishers. The prefix
belongs to the deployment, not to the software: two deployments of this registry publish
under two prefixes, and an import tells this registry's own publications (its prefix)
from another deployment's (docs/ocds-import.md, "Our own export"). Unset, the prefix is
`ocds-gtnl01`, as every export so far used.
"""

from __future__ import annotations

import re
from functools import cache

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_OCID_PREFIX = "ocds-gtnl01"
ENV = "GT_OCDS_OCID_PREFIX"
# OCDS's registered form (standard.open-contracting.org, "Open Contracting Identifier").
FORM = re.compile(r"ocds-[a-z0-9]{6}")


class OcidPrefixSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_OCDS_", extra="ignore", allow_inf_nan=False)

    ocid_prefix: str = Field(
        default=DEFAULT_OCID_PREFIX,
        description="The ocid prefix this deployment publishes under (OCDS registers one"
        " per publisher): `ocds-` and six lowercase letters or digits.",
    )

    @field_validator("ocid_prefix")
    @classmethod
    def _registered_form(cls, value: str) -> str:
        if FORM.fullmatch(value) is None:
            raise ValueError(
                "an ocid prefix is 'ocds-' followed by six lowercase letters or digits"
                f" (OCDS registers one per publisher, e.g. {DEFAULT_OCID_PREFIX})"
            )
        return value


class BadOcidPrefix(RuntimeError):
    """GT_OCDS_OCID_PREFIX is not an ocid prefix: nothing is exported or imported with it.
    The deployment's fault, never a client's: not a ValueError (which the gateway answers as
    the client's INVALID_ARGUMENT)."""


@cache
def ocid_prefix() -> str:
    """The configured prefix, read once per process (a changed setting needs a restart, as
    every other); a bad one raises `BadOcidPrefix` naming the variable and the form."""
    return read_ocid_prefix()


def read_ocid_prefix() -> str:
    """The setting read now (`make run` checks it before starting anything)."""
    try:
        return OcidPrefixSettings().ocid_prefix
    except ValidationError as exc:
        error = exc.errors()[0]
        why = str(error["msg"]).removeprefix("Value error, ")
        raise BadOcidPrefix(f"bad setting {ENV}={error.get('input')!r}: {why}") from None
