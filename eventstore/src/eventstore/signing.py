"""Who appended an event: each service signs the hash of what it appends (ed25519 nkeys).

Stream access alone (a NATS password) no longer makes an event: the auditor checks every
event's `signature` over its `hash` with the public key of the service owning the event's
context, so it needs public keys only. `signer` (the public nkey, `U…`) is part of the hashed
content; `signature` is not (it signs the hash).

Key material: a service's seed comes from `GT_SIGNING_SEED` (a secret in a deployment); `make
run` and tests generate one per context under `<data>/keys/` (`<context>.seed`, mode 0600)
beside its public key (`<context>.pub`), which is where `audit verify` reads them, or from
`GT_SIGNING_PUBLIC_KEYS` (`registry=U…,enrolment=U…`).

A rotated key stays trusted for what it signed, and for nothing after: `registry=U…@1200`
(or a line `U…@1200` in `<data>/keys/registry.retired`) trusts that key for REGISTRY's events
and checkpoints up to stream sequence 1200 only, so a retired (or leaked) key, or a service
rolled back to its old seed, signs nothing the auditor accepts later (`retired-signer`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import nkeys
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic_settings import SettingsError

from contracts_schema.subjects import CONTEXTS

log = logging.getLogger(__name__)

PUBLIC_KEYS_ENV = "GT_SIGNING_PUBLIC_KEYS"
KEYS_DIR = "keys"
# A public user nkey (`U` and base32), a retired one with `@` and its last sequence.
_KEY_ENTRY = re.compile(r"U[A-Z2-7]+(@[0-9]+)?")


class BadSetting(SettingsError):
    """A setting read outside pydantic's models that does not parse; its message starts with
    the variable's name (a ValueError, and the CLIs' SettingsError: named in one line)."""


class EventSigner:
    def __init__(self, seed: str | bytes) -> None:
        self._key = nkeys.from_seed(seed.encode() if isinstance(seed, str) else seed)
        self.public_key: str = self._key.public_key.decode()

    def sign(self, digest: str) -> str:
        return base64.b64encode(self._key.sign(digest.encode())).decode()


def new_seed() -> str:
    return str(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode())


def _verify_key(public: str) -> VerifyKey:
    raw = base64.b32decode(public + "=" * (-len(public) % 8))
    if len(raw) != 35 or raw[0] != nkeys.PREFIX_BYTE_USER:
        raise ValueError(f"not a public user nkey: {public!r}")
    return VerifyKey(raw[1:33])


def signature_holds(public: str, digest: str, signature: str) -> bool:
    try:
        _verify_key(public).verify(digest.encode(), base64.b64decode(signature))
    except (ValueError, binascii.Error, BadSignatureError):
        return False
    return True


def local_seed(data: Path, context: str) -> str:
    """This installation's key for `context`, made on first use (make run, tests); its public
    key is published beside it for `audit verify`."""
    keys = data / KEYS_DIR
    keys.mkdir(parents=True, exist_ok=True)
    seed_file = keys / f"{context}.seed"
    if not seed_file.exists():
        seed_file.touch(mode=0o600)
        seed_file.write_text(new_seed())
    seed_file.chmod(0o600)  # one made or copied with looser rights too (attack10)
    seed = seed_file.read_text().strip()
    (keys / f"{context}.pub").write_text(EventSigner(seed).public_key + "\n")
    return seed


def local_signer(data: Path, context: str) -> EventSigner:
    return EventSigner(local_seed(data, context))


RETIRED_AFTER = "@"


def key_bounds(keys: Iterable[str]) -> dict[str, int | None]:
    """Public key -> the last stream sequence it may sign (None: no bound), from trusted-key
    entries `KEY` or `KEY@SEQ` (a retired key). A key given both ways keeps its bound: a
    retirement must not be undone by an old `.pub` file or list entry left in place."""
    bounds: dict[str, int | None] = {}
    for entry in keys:
        key, mark, last = entry.partition(RETIRED_AFTER)
        if not mark:
            bounds.setdefault(key, None)
            continue
        if not (last.isascii() and last.isdigit()):
            raise ValueError(
                f"trusted key {entry!r}: after {RETIRED_AFTER!r} comes the last stream sequence"
                " the retired key signed (e.g. U…@1200)"
            )
        bounds[key] = max(int(last), bounds.get(key) or 0)
    return bounds


def public_keys_entries(spec: str) -> list[tuple[str, str]]:
    """`GT_SIGNING_PUBLIC_KEYS` as (context, key) pairs; BadSetting naming the entry that is
    not `<context>=U…` (or `U…@SEQ`) with a context of this registry. Before (correct17), an
    entry without `=` or with another separator was taken as a context of that name: a
    `registry=U…;enrolment=U…` trusted no key for enrolment, and no word said at start."""
    entries = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        context, sep, key = (part.strip() for part in item.partition("="))
        if not sep or context not in CONTEXTS or not _KEY_ENTRY.fullmatch(key):
            raise BadSetting(
                f"{PUBLIC_KEYS_ENV}: {item!r} is not <context>=<public key>: comma-separated"
                f" entries such as registry=U…, a context one of {', '.join(sorted(CONTEXTS))},"
                " a public user nkey (U and base32 capitals), a retired one as U…@<last seq>"
            )
        entries.append((context, key))
    return entries


def trusted_keys(
    data: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, set[str]]:
    """Context name -> the public keys whose signatures the auditor accepts for it."""
    found: dict[str, set[str]] = {}
    spec = (environ if environ is not None else os.environ).get(PUBLIC_KEYS_ENV, "")
    for context, key in public_keys_entries(spec):
        found.setdefault(context, set()).add(key)
    if data is not None and (data / KEYS_DIR).is_dir():
        for path in _context_files(data / KEYS_DIR, "*.pub") + _context_files(
            data / KEYS_DIR, "*.retired"
        ):
            found.setdefault(path.stem, set()).update(_file_keys(path))
    return found


def _file_keys(path: Path) -> list[str]:
    """The key entries of a key file (`U…`, a retired one `U…@SEQ`), one a line; a line that is
    none (a comment, a stray note) is passed over with a warning naming the file and line.
    Before (review17b) such a line was trusted as a "key": make run passed it on to its
    children in GT_SIGNING_PUBLIC_KEYS, which refused to start over a setting never set."""
    keys = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        if _KEY_ENTRY.fullmatch(entry):
            keys.append(entry)
        else:
            log.warning(
                "%s, line %d: not a public key (U and base32 capitals, a retired one"
                " U…@<last seq>): ignored",
                path,
                number,
            )
    return keys


def _context_files(keys: Path, pattern: str) -> list[Path]:
    """The key files named after a context of this registry; any other (a `registry-old.pub`
    kept aside, a `Registry.pub`) is passed over with a warning naming it. Before (correct18)
    it was trusted as a "context" of that name: make run passed it on to its children in
    GT_SIGNING_PUBLIC_KEYS, which refused to start over a setting the user never set."""
    named = []
    for path in sorted(keys.glob(pattern)):
        if path.stem in CONTEXTS:
            named.append(path)
        else:
            log.warning(
                "%s: not a context's key file (<context>%s, a context one of %s): ignored,"
                " no key in it is trusted",
                path,
                path.suffix,
                ", ".join(sorted(CONTEXTS)),
            )
    return named
