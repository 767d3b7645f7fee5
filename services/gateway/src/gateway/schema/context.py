"""Per-request context: who asks, their DataLoaders, the read models, the command bus."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from contracts_schema.errors import shown
from contracts_schema.subjects import CONTEXTS
from gateway.auth import AuthenticationFailed, Principal, principal_from_header
from gateway.privacy.erasure import actor_names
from gateway.privacy.identities import IdentityStore
from gateway.readmodels import ConsistencyError, ReadModels
from gateway.schema.errors import ClientError, Forbidden
from gateway.settings import GatewaySettings
from gateway.token_waits import TokenWaits, parse

if TYPE_CHECKING:
    from audit.graphql import AuditSources
    from gateway.commandbus import CommandBus
    from gateway.history.horizon import Chosen
    from gateway.live import LiveEvents
    from gateway.schema.loaders import Loaders


@dataclass
class Context:
    read: ReadModels
    settings: GatewaySettings
    commands: CommandBus | None
    live: LiveEvents | None
    authorization: str | None = None
    consistency_header: str | None = None
    connection_params: dict[str, Any] | None = None  # graphql-transport-ws connection_init
    audit: AuditSources | None = None  # the audit GraphQL's sources (history, OCDS)
    horizon: Chosen | None = None  # the asOf/knownAt this request's roots asked (history/)
    websocket: bool = False  # subscriptions only there (graphql-transport-ws)
    identities: IdentityStore | None = None  # pseudonym <-> identity (gateway.privacy)
    waits: TokenWaits | None = None  # the tokens named (header, arguments) and their waits
    _waited: set[str] = field(default_factory=set)
    # Tokens refused or whose wait failed: asked again in this request (the compiled
    # executor's fallback runs the document again), they fail at once with the same error.
    _failed: dict[str, ConsistencyError] = field(default_factory=dict)

    @cached_property
    def principal(self) -> Principal:
        header = self.authorization
        if header is None and self.connection_params:
            header = self.connection_params.get("Authorization") or self.connection_params.get(
                "authorization"
            )
        try:
            return principal_from_header(header, self.settings)
        except AuthenticationFailed as exc:
            raise ClientError(str(exc), "UNAUTHENTICATED") from exc

    @property
    def identity_store(self) -> IdentityStore:
        if self.identities is None:
            raise ClientError("this gateway keeps no identity store", "READ_ONLY")
        return self.identities

    @cached_property
    def actor_names(self) -> dict[str, str]:
        return {}  # this request's rendered actors (gateway.privacy.erasure.actor_names)

    def actor_name(self, actor: str) -> str:
        """The actor as people read it: identity while mapped, else 'erased person'."""
        if actor not in self.actor_names:
            if self.identities is None:
                return actor
            self.actor_names.update(actor_names(self.identities, {actor}))
        return self.actor_names[actor]

    @cached_property
    def loaders(self) -> Loaders:
        from gateway.schema.loaders import Loaders

        return Loaders(self.read, self.enrolments_of)

    @cached_property
    def enrolments_of(self) -> str | None:
        """Whose enrolments this request may see: None everyone's (coordinators, auditors),
        else only this organisation's ("" for anonymous clients and bad tokens: no one's)."""
        try:
            principal = self.principal
        except ClientError:
            return ""  # the resolvers report the token; meanwhile nothing is shown
        return None if principal.sees_everything else (principal.organisation or "")

    async def consistent(self, token: str | None = None) -> None:
        """Read-your-writes: this request's reads see the writes the token(s) name. A bad
        token is refused here; nothing waits here: each read model is waited for (boundedly)
        when the request first reads it (`gateway.token_waits`), so a query waits only for
        the read models it reads, nested fields' included. A token named by one root field
        holds for every read of the request after it (on a websocket: of the operation)."""
        for candidate in (self.consistency_header, token):
            if candidate and candidate in self._failed:
                failed = self._failed[candidate]
                raise ClientError(failed.message, failed.code) from failed
            if candidate and candidate not in self._waited:
                if self.waits is None:
                    timeout = self.settings.consistency_timeout
                    self.waits = TokenWaits(timeout, self._refused)
                try:
                    known_streams(candidate)
                    self.waits.add(candidate)
                except ConsistencyError as exc:
                    self._failed[candidate] = exc
                    raise ClientError(exc.message, exc.code) from exc
                self._waited.add(candidate)
        if self.waits is not None:
            self.read.waits = self.waits  # (`ReadModels.at` hands it to the request's horizons)

    async def note_header(self) -> None:
        """Name the `X-Consistency-Token` header's token for every read of the request,
        including roots that name no token argument (every read model read then waits for
        it). A malformed header is refused by the roots that call `consistent`, as before."""
        if self.consistency_header:
            with suppress(ClientError):  # kept in `_failed`: raised where a root asks
                await self.consistent()

    async def begin_operation(self) -> None:
        """A websocket's context serves every operation of its connection: each operation
        starts afresh at the present, with its own tokens, deadlines, horizon and DataLoaders.
        (Before: a token that timed out failed the next operations; a past horizon or a
        DataLoader's cached rows, even a cached failure, answered them.)"""
        self.waits = None
        self._waited.clear()
        self._failed.clear()
        self.horizon = None
        self.read = self.read.at_now()
        self.read.waits = None
        self.__dict__.pop("loaders", None)
        self.__dict__.pop("actor_names", None)
        await self.note_header()

    def _refused(self, token: str, error: ConsistencyError) -> ClientError:
        """A read model's wait for `token` failed: that read, and the token asked again in
        this request (the compiled executor's fallback), fail with this error."""
        self._failed.setdefault(token, error)
        refused = ClientError(error.message, error.code)
        refused.__cause__ = error
        return refused

    def see_present(self) -> None:
        """Read at a fresh now: after this request's own command, its facts are valid now."""
        self.read = self.read.at_now()
        self.__dict__.pop("loaders", None)

    def require_signed_in(self, what: str) -> Principal:
        principal = self.principal
        if principal.role.value == "anonymous":
            raise Forbidden(f"{what} is not public; sign in with a bearer token")
        return principal

    def require_organisation(self, code: str, what: str) -> Principal:
        principal = self.require_signed_in(what)
        if not principal.may_see_organisation(code):
            raise Forbidden(
                f"{what} of {code} is visible only to {code} itself, coordinators and auditors"
            )
        return principal


STREAMS = frozenset(c.stream for c in CONTEXTS.values())
# Each stream named once by a 20-digit position is under 100 characters; a client that joins
# the tokens of many mutations (`A:1,A:5,...`) still fits.
TOKEN_MAX = 1024


def known_streams(token: str) -> None:
    """A token naming a stream this registry does not have (a typo, another system's token)
    is refused: nothing could wait for it, and a read answered at once might lack the write
    the client meant; a live subscription resuming `after` it would miss every event since
    (correct17; a malformed one is refused as before, by `parse`). One longer than any token
    is refused before it is parsed, repeated cut short (correct22: the parser's complaint
    repeated a 100,000-character token whole)."""
    if len(token) > TOKEN_MAX:
        raise ConsistencyError(
            "INVALID_CONSISTENCY_TOKEN",
            f"consistency token {shown(token)} is longer than any token of this registry"
            f" ({TOKEN_MAX:,} characters at most): pass the consistencyToken a mutation"
            " returned, unchanged",
        )
    unknown = sorted(set(parse(token)) - STREAMS)
    if unknown:
        raise ConsistencyError(
            "INVALID_CONSISTENCY_TOKEN",
            f"consistency token {shown(token)} names no stream of this registry"
            f" ({', '.join(unknown)}); its streams are {', '.join(sorted(STREAMS))}:"
            " pass the consistencyToken a mutation returned, unchanged",
        )


Info = StrawberryInfo[Context, None]
