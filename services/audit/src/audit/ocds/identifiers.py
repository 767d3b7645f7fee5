"""Organisation identifiers (OCDS `Identifier`: scheme + id) from our organisation codes (pure).

Our codes say which register issued them (contracts_schema ORGANISATION_CODE_PATTERN):
- `KVK-########`: the Kamer van Koophandel number, org-id.guide scheme `NL-KVK`.
- `OIN-####################`: the Dutch government's organisation identification number,
  org-id.guide scheme `NL-OIN`.
- `GM####`: the CBS municipality code (gemeentecode). org-id.guide has no list for it, so
  it uses our documented scheme `NL-CBS-GM` (docs/ocds.md): the code as CBS publishes it in
  "Gemeenten alfabetisch", e.g. `GM0363` for Amsterdam.
"""

from __future__ import annotations

from typing import Any

KVK_SCHEME = "NL-KVK"
OIN_SCHEME = "NL-OIN"
CBS_MUNICIPALITY_SCHEME = "NL-CBS-GM"


def scheme_and_id(code: str) -> tuple[str, str] | None:
    """The register and the number in it of one of our organisation codes, if known."""
    if code.startswith("KVK-"):
        return KVK_SCHEME, code.removeprefix("KVK-")
    if code.startswith("OIN-"):
        return OIN_SCHEME, code.removeprefix("OIN-")
    if code.startswith("GM") and code[2:].isdigit():
        return CBS_MUNICIPALITY_SCHEME, code
    return None


def identifier(code: str, name: str | None = None) -> dict[str, Any] | None:
    found = scheme_and_id(code)
    if found is None:
        return None
    scheme, number = found
    return {"scheme": scheme, "id": number, "legalName": name if name != code else None}


def organisation_code(scheme: str, number: str) -> str | None:
    """The inverse, for importers: our code for an identifier, or None for other schemes."""
    if scheme == KVK_SCHEME and number.isdigit() and len(number) == 8:
        return f"KVK-{number}"
    if scheme == OIN_SCHEME and number.isdigit() and len(number) == 20:
        return f"OIN-{number}"
    if scheme == CBS_MUNICIPALITY_SCHEME and number.startswith("GM") and number[2:].isdigit():
        return number
    return None
