"""The identifiers an OCDS import records (pure): registry ids of OCDS ids, the commands'
ids, days as published, and organisations' codes (split from importer_map, import24)."""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import date, datetime
from typing import Any

from audit.ocds.ocid_prefix import FORM
from contracts_schema.registry.values import (
    ORGANISATION_CODE_PATTERN,
    named_only_code,
    named_supplier_code,
)

_CODE = re.compile(ORGANISATION_CODE_PATTERN)
_DUTCH = {"NL-KVK": "KVK", "NL-OIN": "OIN"}


class Unmappable(ValueError):
    """A release the registry cannot record: where (a JSON path inside it) and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def ident(value: str) -> str:
    """An OCDS id as a registry id (letters, digits, '-', '_'; at most 128)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", value)
    if len(cleaned) > 128:
        cleaned = cleaned[:100] + "-" + hashlib.sha256(value.encode()).hexdigest()[:27]
    return cleaned


def tender_id_of(ocid: str) -> str:
    return ident(ocid)


def command_id(ocid: str, release_id: str, aggregate: str) -> str:
    digest = hashlib.sha256(f"{ocid}\n{release_id}\n{aggregate}".encode()).hexdigest()
    return f"import-{digest[:48]}"


def day(value: Any) -> date | None:
    """The calendar date as published (its own offset), or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def organisation_code(ref: dict[str, Any], parties: dict[str, Any], path: str) -> str:
    pid = str(ref.get("id", ""))
    # A party's code is found once a release (import40: its suppliers are read by the
    # awards, the contracts and their checks): a reference to a party is the party's code.
    known = parties.codes if isinstance(parties, Parties) and pid in parties else None
    if known is not None and pid in known:
        return known[pid]
    party = parties.get(pid, ref)
    identifier = party.get("identifier") or {}
    candidates = [pid]
    if identifier.get("scheme") and identifier.get("id"):
        candidates.insert(0, f"{identifier['scheme']}-{identifier['id']}")
    for c in candidates:
        for prefix, ours in _DUTCH.items():
            if c.startswith(prefix + "-"):
                c = f"{ours}-{c[len(prefix) + 1 :]}"
        if _CODE.fullmatch(c):
            if known is not None:
                known[pid] = c
            return c
    raise Unmappable(path, f"organisation {pid!r} ({party.get('name', 'no name')}) has no"
                     " identifier the registry records: NL-KVK-########, NL-OIN-####...,"
                     " a CBS code GM#### or an org-id.guide identifier XX-REGISTER-id")  # fmt: skip


def published_name(ref: dict[str, Any], parties: dict[str, Any]) -> str:
    """The name an organisation reference is published with (its party's, else its own)."""
    party = parties.get(str(ref.get("id", "")), ref)
    return " ".join(str(party.get("name") or ref.get("name") or "").split())[:300]


class Parties(dict[str, Any]):
    """A compiled release's parties by id, with the scope a supplier published by name only
    is known in (`supplier_code`): the ocid's registered prefix (`ocds-` and six letters or
    digits, one per publisher), else the ocid itself (a publisher without one: its firms are
    not taken as one across its processes)."""

    scope: str
    codes: dict[str, str]  # party id -> its code, as `organisation_code` found it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codes = {}

    @classmethod
    def of(cls, compiled: dict[str, Any]) -> Parties:
        found = cls(
            (str(p.get("id")), p) for p in compiled.get("parties", []) if isinstance(p, dict)
        )
        ocid = str(compiled.get("ocid", ""))
        prefix = FORM.match(ocid)
        registered = prefix is not None and ocid[prefix.end() : prefix.end() + 1] in ("", "-")
        found.scope = prefix[0] if prefix and registered else ocid
        return found


def _by_name(name: str, parties: dict[str, Any], path: str) -> str | None:
    """The one code recorded for `name` among the parties (spaces and case aside), or None."""
    same = " ".join(name.split()).casefold()
    codes = set()
    for i, other in enumerate(parties.values()):
        if " ".join(str(other.get("name") or "").split()).casefold() == same:
            with contextlib.suppress(Unmappable):
                codes.add(organisation_code(other, parties, f"parties[{i}]"))
    if len(codes) > 1:
        raise Unmappable(path, f"organisation {name!r} has no identifier, and the parties of"
                         f" that name have several: {', '.join(sorted(codes))}")  # fmt: skip
    return codes.pop() if codes else None


def supplier_code(ref: dict[str, Any], parties: dict[str, Any], path: str) -> str:
    """A supplier's code (import35, #17): its identifier's, as `organisation_code`; without
    one the registry records (a name only, or a local scheme such as `RFC` or `NIT` that no
    org-id.guide register is), the one code recorded for its name among the release's
    parties; else a code derived from its name in its publisher's scope (`Parties.scope`,
    `named_supplier_code`), which the registry's import turns into a finding
    (SUPPLIER_UNIDENTIFIED). Two publishers' firms of one name stay two; within one
    publisher one name is one firm. Without a name it is still refused."""
    if not isinstance(parties, Parties):
        raise TypeError("supplier_code reads a release's Parties (Parties.of(compiled))")
    try:
        return organisation_code(ref, parties, path)
    except Unmappable:
        name = published_name(ref, parties)
        if not name:
            raise
    return _by_name(name, parties, path) or named_supplier_code(parties.scope, name)


def supplier_codes(award: dict[str, Any], parties: dict[str, Any], path: str) -> list[str]:
    """An award's suppliers' codes, each once (a release may name one firm twice: two
    parties of one name, or the same reference repeated), in the order published."""
    codes = (supplier_code(ref, parties, f"{path}.suppliers[{j}]")
             for j, ref in enumerate(award.get("suppliers") or []))  # fmt: skip
    return list(dict.fromkeys(codes))


def authority_code(ref: dict[str, Any], parties: dict[str, Any], path: str) -> str:
    """The contracting authority's code (correct11; importer11's file, party mapping only).

    Portals publish buyers without an `identifier` (a name and a local id): such a release
    was refused whole. Now the buyer is found by its name among the release's parties when
    exactly one code is recorded for that name; failing that, it is recorded under a code
    derived from its name (`named_only_code`), which the registry's import turns into a
    finding (CONTRACTING_AUTHORITY_UNIDENTIFIED). Without a name it is still refused."""
    try:
        return organisation_code(ref, parties, path)
    except Unmappable:
        name = published_name(ref, parties)
        if not name:
            raise
    return _by_name(name, parties, path) or named_only_code(name)


def contract_id_of(ocid: str, contract_id: str) -> str:
    return ident(contract_id if contract_id.startswith(ocid) else f"{ocid}-{contract_id}")
