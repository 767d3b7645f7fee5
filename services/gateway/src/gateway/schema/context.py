"""Per-request context: who asks, their DataLoaders, the read models, the command bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from eventstore.observability import tracer
from gateway.auth import AuthenticationFailed, Principal, principal_from_header
from gateway.privacy.erasure import actor_names
from gateway.privacy.identities import IdentityStore
from gateway.readmodels import ConsistencyError, ReadModels
from gateway.schema.errors import ClientError, Forbidden
from gateway.settings import GatewaySettings

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
    _waited: set[str] = field(default_factory=set)
    # Tokens whose wait failed: asked again in this request (the compiled executor's
    # fallback runs the document again), they fail at once with the same error.
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
        """Read-your-writes: wait (boundedly) until the projections reached the token(s)."""
        for candidate in (self.consistency_header, token):
            if candidate and candidate in self._failed:
                failed = self._failed[candidate]
                raise ClientError(failed.message, failed.code) from failed
            if candidate and candidate not in self._waited:
                # The token names the stream positions of the write: the events there carry
                # the mutation's trace, and so do the projection spans that applied them.
                attributes = {"gt.consistency_token": candidate}
                with tracer.start_as_current_span("read-your-writes", attributes=attributes):
                    try:
                        await self.read.wait_for(candidate, self.settings.consistency_timeout)
                    except ConsistencyError as exc:
                        self._failed[candidate] = exc
                        raise ClientError(exc.message, exc.code) from exc
                self._waited.add(candidate)

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


Info = StrawberryInfo[Context, None]
