"""The NATS auth callout: admits organisations, issued and revoked while the cluster runs.

    python -m notifier.nats_auth serve            # the callout (GT_NATS_CALLOUT_SEED, user auth)
    python -m notifier.nats_auth issue GM1234     # prints the organisation's new secret once
    python -m notifier.nats_auth revoke GM1234

nats-server sends every login that is not a config user (services, operator, auditor) to
`$SYS.REQ.USER.AUTH` as an authorization request JWT. The callout looks the organisation up in
the KV bucket `org-credentials` (code -> SHA-256 of its secret, written by `issue` with the
operator's credentials) and answers with a user JWT, signed with the callout's account nkey
(whose public key is the `issuer` in the server config), that places the organisation in the
ORGS account with `nats_accounts.organisation_grant(code)`. Unknown code, wrong secret or a
revoked organisation: refused. A user JWT lives `USER_JWT_TTL`; the server then disconnects
the client, which logs in again, so a revocation reaches live connections within that time.

The JWTs are the NATS v2 format (header `ed25519-nkey`, claims under `nats`), encoded here in
a few lines with the `nkeys` package: no maintained Python library issues them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

import nats
import nkeys
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from eventstore.nats_connect import CONNECT_TIMEOUT, quiet_errors
from eventstore.settings import signing_seed_problem
from notifier.nats_accounts import CREDENTIALS_BUCKET, ORGS_ACCOUNT, Grant, organisation_grant

log = logging.getLogger(__name__)

AUTH_SUBJECT = "$SYS.REQ.USER.AUTH"
USER_JWT_TTL = 900  # seconds
ORGANISATION_CODE = re.compile(r"[A-Z]{2}[0-9A-Z]{2,32}")
_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any], signer: nkeys.KeyPair) -> str:
    """A NATS JWT: `iss` is the signer's public key, `jti` the hash of the claims."""
    body = {**claims, "iss": signer.public_key.decode(), "iat": int(time.time())}
    body["jti"] = base64.b32encode(hashlib.sha256(json.dumps(body).encode()).digest()).decode()
    signing_input = f"{_b64(json.dumps(_HEADER).encode())}.{_b64(json.dumps(body).encode())}"
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode()))}"


def decode_jwt(token: str, trusted: Callable[[str], bool]) -> dict[str, Any]:
    """Claims of a NATS JWT whose issuer `trusted` accepts and whose signature holds."""
    try:
        header, claims, signature = token.split(".")
        body: dict[str, Any] = json.loads(_unb64(claims))
        issuer = str(body["iss"])
        verify_key(issuer).verify(f"{header}.{claims}".encode(), _unb64(signature))
    except (ValueError, KeyError, binascii.Error, BadSignatureError) as exc:
        raise ValueError(f"not a valid NATS JWT: {exc}") from exc
    if not trusted(issuer):
        raise ValueError(f"JWT issued by an untrusted key {issuer}")
    return body


def verify_key(public: str) -> VerifyKey:
    """The ed25519 key of a public nkey (base32: prefix byte, 32 key bytes, CRC-16)."""
    raw = base64.b32decode(public + "=" * (-len(public) % 8))
    if len(raw) != 35:
        raise ValueError(f"not a public nkey: {public!r}")
    return VerifyKey(raw[1:33])


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_claims(code: str, user_nkey: str, grant: Grant) -> dict[str, Any]:
    return {
        "sub": user_nkey,
        "name": code,
        "aud": ORGS_ACCOUNT,  # the account the organisation is placed in
        "exp": int(time.time()) + USER_JWT_TTL,
        "nats": {
            "pub": {"allow": grant.publish},
            "sub": {"allow": grant.subscribe},
            "subs": -1,
            "data": -1,
            "payload": -1,
            "type": "user",
            "version": 2,
        },
    }


class Callout:
    """Answers the server's authorization requests from the credentials bucket."""

    def __init__(self, signer: nkeys.KeyPair, credentials: KeyValue) -> None:
        self._signer = signer
        self._credentials = credentials

    async def decide(self, request: dict[str, Any]) -> tuple[str | None, str]:
        """(user JWT, "") for a known organisation with the right secret, else (None, why)."""
        nats_claims = request["nats"]
        options = nats_claims.get("connect_opts", {})
        code = str(options.get("user") or "")
        secret = str(options.get("pass") or "")
        if not ORGANISATION_CODE.fullmatch(code):
            return None, "unknown user"
        try:
            entry = await self._credentials.get(code)
        except KeyNotFoundError:
            return None, f"no credentials for {code}"
        record = json.loads(entry.value or b"{}")
        if not secrets.compare_digest(record.get("sha256", ""), secret_digest(secret)):
            return None, f"wrong secret for {code}"
        claims = user_claims(code, nats_claims["user_nkey"], organisation_grant(code))
        return encode_jwt(claims, self._signer), ""

    async def answer(self, msg: Msg) -> None:
        server_id = ""
        user_nkey = ""
        try:
            # The server signs with its own nkey: its id is in the claims we answer to.
            request = decode_jwt(msg.data.decode(), lambda issuer: issuer.startswith("N"))
            server_id = request["nats"]["server_id"]["id"]
            user_nkey = request["nats"]["user_nkey"]
            user_jwt, error = await self.decide(request)
        except (ValueError, KeyError) as exc:
            user_jwt, error = None, f"malformed authorization request: {exc}"
        if error:
            log.info("refused an organisation login: %s", error)
        response = {
            "sub": user_nkey,
            "aud": server_id,
            "nats": {
                "jwt": user_jwt or "",
                "error": error,
                "type": "authorization_response",
                "version": 2,
            },
        }
        await msg.respond(encode_jwt(response, self._signer).encode())


async def credentials_bucket(nc: NATS, *, create: bool = False, replicas: int = 1) -> KeyValue:
    js = nc.jetstream()
    try:
        return await js.key_value(CREDENTIALS_BUCKET)
    except BucketNotFoundError:
        if not create:
            raise
        config = KeyValueConfig(bucket=CREDENTIALS_BUCKET, history=1, replicas=replicas)
        return await js.create_key_value(config)


async def serve(nc: NATS, signer: nkeys.KeyPair) -> Any:
    """Subscribe the callout (a queue group: run two or more for availability)."""
    callout = Callout(signer, await credentials_bucket(nc))
    return await nc.subscribe(AUTH_SUBJECT, queue="auth-callout", cb=callout.answer)


async def issue(nc: NATS, code: str, *, replicas: int = 1) -> str:
    """A new secret for `code` (replacing any earlier one); returns it, stores only its hash."""
    secret = secrets.token_hex(32)  # hex: never starts with "-" (a command-line option)
    await grant(nc, code, secret, replicas=replicas)
    return secret


async def grant(nc: NATS, code: str, secret: str, *, replicas: int = 1) -> None:
    """Admit `code` with a secret chosen elsewhere (`make run` keeps its local ones)."""
    if not ORGANISATION_CODE.fullmatch(code):
        raise ValueError(f"not an organisation code: {code!r}")
    kv = await credentials_bucket(nc, create=True, replicas=replicas)
    await kv.put(code, json.dumps({"sha256": secret_digest(secret)}).encode())


async def revoke(nc: NATS, code: str) -> None:
    kv = await credentials_bucket(nc)
    await kv.delete(code)


def _settings() -> tuple[list[str], str | None, str | None]:
    return (
        os.environ.get("GT_NATS_URL", "nats://127.0.0.1:4222").split(","),
        os.environ.get("GT_NATS_USER"),
        os.environ.get("GT_NATS_PASSWORD"),
    )


async def _main(argv: list[str]) -> int:
    servers, user, password = _settings()
    if (
        not argv
        or argv[0] not in ("serve", "issue", "revoke")
        or (argv[0] != "serve") != (len(argv) == 2)
    ):
        print(__doc__, file=sys.stderr)
        return 2
    seed = os.environ.get("GT_NATS_CALLOUT_SEED", "")
    if argv[0] == "serve":  # checked before it connects; the seed itself is never printed
        problem = signing_seed_problem(seed, "account") if seed else "is not set"
        if problem:
            print(f"GT_NATS_CALLOUT_SEED {problem}: the callout signs with it", file=sys.stderr)
            return 2
    try:
        nc = await nats.connect(
            servers,
            user=user,
            password=password,
            max_reconnect_attempts=-1,
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet_errors("nats-auth"),
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(f"cannot reach NATS at {','.join(servers)} ({type(exc).__name__})", file=sys.stderr)
        return 1
    try:
        if argv[0] == "serve":
            await serve(nc, nkeys.from_seed(seed.encode()))
            await asyncio.Event().wait()
        elif argv[0] == "issue":
            print(await issue(nc, argv[1]))
        else:
            await revoke(nc, argv[1])
        return 0
    finally:
        await nc.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(asyncio.run(_main(sys.argv[1:])))
