"""Bearer JWTs -> a Principal: coordinator, participant (bound to an org), auditor, anonymous."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

import jwt
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts_schema.bounds import unsafe_character
from gateway.settings import GatewaySettings

ORG_CODE = re.compile(r"GM\d{4}|KVK-\d{8}|OIN-\d{20}")  # fullmatch: `$` lets "\n" through
# OpenID Connect Core 1.0 §2: a `sub` "MUST NOT exceed 255 ASCII characters". A longer one is
# refused with the token, not met later by the identity store's column (PostgreSQL refused
# the insert and the mutation answered "Unexpected error"; SQLite stored anything).
SUBJECT_MAX_LENGTH = 255


def subject_problem(subject: object) -> str | None:
    """Why `subject` cannot be a login subject (a token's `sub`), or None. Beside the length,
    no control, bidirectional-formatting or invisible (zero-width) character: the subject is
    stored in the identity store (PostgreSQL text holds no NUL: each mutation failed
    "Unexpected error") and shown in place of the pseudonym in views and the audit's output
    (an ESC or U+202E as it came)."""
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX_LENGTH:
        given = f"{len(subject)} characters" if isinstance(subject, str) else "not a string"
        return (
            f"the bearer token's `sub` must be a string of 1 to {SUBJECT_MAX_LENGTH}"
            f" characters (OpenID Connect); this one is {given}"
        )
    char = unsafe_character(subject)
    if char is not None:
        return (
            "the bearer token's `sub` must not contain control, bidirectional formatting or"
            f" invisible characters (found U+{ord(char):04X})"
        )
    return None


class Role(Enum):
    COORDINATOR = "coordinator"
    PARTICIPANT = "participant"
    AUDITOR = "auditor"
    ANONYMOUS = "anonymous"


class AuthenticationFailed(Exception):
    """The bearer token was present but not acceptable; the message says why."""


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str = "anonymous"
    organisation: str | None = None  # participants only
    expires_at: float | None = None  # the token's `exp` (epoch seconds); None: anonymous

    @property
    def actor(self) -> str:
        suffix = f"@{self.organisation}" if self.organisation else ""
        return f"{self.role.value}:{self.subject}{suffix}"

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.COORDINATOR, Role.AUDITOR)

    def may_see_organisation(self, code: str) -> bool:
        return self.sees_everything or self.organisation == code


ANONYMOUS = Principal(Role.ANONYMOUS)


def principal_from_header(value: object, settings: GatewaySettings) -> Principal:
    if value is None or value == "":
        return ANONYMOUS
    if not isinstance(value, str):  # a websocket's connection_init carries any JSON
        raise AuthenticationFailed(
            f"the Authorization value must be a string 'Bearer <JWT>' (got {type(value).__name__})"
        )
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("the Authorization header must be 'Bearer <JWT>'")
    return principal_from_token(token.strip(), settings)


class VerifiedTokens:
    """Tokens already verified, with their principal, until they expire (LRU, bounded).

    A client sends the same token with every request; verifying its signature again costs
    more than a small query. Only tokens that passed every check are kept, under the key
    and audience that verified them, and each use checks the expiry again: as time only
    moves on, expiry is the one check a verified token can fail later.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str, str, str], Principal] = OrderedDict()

    def get(self, key: tuple[str, str, str, str]) -> Principal | None:
        principal = self._entries.get(key)
        if principal is None:
            return None
        if principal.expires_at is None or time.time() >= principal.expires_at:
            self._entries.pop(key, None)
            raise AuthenticationFailed("the bearer token has expired")
        self._entries.move_to_end(key)
        return principal

    def put(self, key: tuple[str, str, str, str], principal: Principal) -> None:
        self._entries[key] = principal
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


VERIFIED = VerifiedTokens(4096)


def principal_from_token(token: str, settings: GatewaySettings) -> Principal:
    key = settings.jwt_secret if settings.jwt_algorithm == "HS256" else settings.jwt_public_key
    if not key:
        raise AuthenticationFailed(
            f"this gateway has no {settings.jwt_algorithm} key configured; only anonymous access"
        )
    cache_key = (token, key, settings.jwt_algorithm, settings.jwt_audience)
    principal = VERIFIED.get(cache_key)
    if principal is None:
        principal = _verify(token, key, settings)
        if principal.expires_at is not None:  # anonymous-role tokens are not worth keeping
            VERIFIED.put(cache_key, principal)
    return principal


def _verify(token: str, key: str, settings: GatewaySettings) -> Principal:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[settings.jwt_algorithm],  # never trust the token's own `alg`
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("the bearer token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationFailed(f"invalid bearer token: {exc}") from exc
    subject = claims["sub"]
    problem = subject_problem(subject)
    if problem is not None:
        raise AuthenticationFailed(problem)
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise AuthenticationFailed("the bearer token's `exp` must be a number (epoch seconds)")
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise AuthenticationFailed(f"unknown role {claims['role']!r}") from exc
    if role is Role.ANONYMOUS:
        return ANONYMOUS
    organisation = claims.get("org")
    if role is Role.PARTICIPANT and not (
        isinstance(organisation, str) and ORG_CODE.fullmatch(organisation)
    ):
        raise AuthenticationFailed("a participant token must carry its organisation code in `org`")
    own = organisation if role is Role.PARTICIPANT else None
    return Principal(role, subject, own, float(exp))


def issue_token(
    settings: GatewaySettings,
    role: Role,
    subject: str,
    *,
    organisation: str | None = None,
    lifetime_seconds: int = 12 * 3600,
    private_key: str | None = None,
) -> str:
    """Dev and test tokens (RS256 needs the private key)."""
    claims: dict[str, object] = {
        "sub": subject,
        "role": role.value,
        "aud": settings.jwt_audience,
        "iat": int(time.time()),
        "exp": int(time.time()) + lifetime_seconds,
    }
    if organisation:
        claims["org"] = organisation
    key = settings.jwt_secret if settings.jwt_algorithm == "HS256" else private_key
    if not key:
        raise ValueError("no signing key for issuing a token")
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)


class BearerCheck:
    """ASGI middleware of the HTTP GraphQL route: a request whose Authorization header the
    gateway cannot accept (expired, another key, `alg: none`, not a JWT, not `Bearer`) is
    refused as a whole with 401 (RFC 6750 `invalid_token`), whatever it asks. Without it a
    query of public fields only was answered as if anonymous, so a client never learned its
    token had lapsed. No header: anonymous, as before. More than one header is refused too
    (the check and the request's context must read the same one). A websocket's handshake
    carrying a bad header is refused the same way; a token sent in `connection_init` is
    judged by the resolvers (they did already)."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = self._problem(scope.get("headers") or [])
            if problem is not None:
                if scope["type"] == "websocket":  # refused at the handshake (HTTP 403)
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 1008, "reason": problem})
                    return
                refusal = {"message": problem, "extensions": {"code": "UNAUTHENTICATED"}}
                response = JSONResponse(
                    {"errors": [refusal]},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        """Why the request's Authorization cannot be accepted, or None (none, or a good one).
        More than one header is refused: the check and the request must read the same one."""
        given = [value for name, value in headers if name.lower() == b"authorization"]
        if len(given) > 1:
            return "more than one Authorization header: send one"
        if given:
            try:
                principal_from_header(given[0].decode("latin-1"), self.settings)
            except AuthenticationFailed as exc:
                return str(exc)
        return None
