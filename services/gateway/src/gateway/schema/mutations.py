"""One mutation per command of the contract, each returning a CommandResult union."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import strawberry
from pydantic import ValidationError
from strawberry import relay
from strawberry.tools import create_type

from contracts_schema.base import ID_PATTERN, Command
from contracts_schema.errors import shown
from contracts_schema.notifier.commands import ORGANISATION_CODE, SubscribeWebhook
from contracts_schema.notifier.urls import url_problem
from contracts_schema.registry.values import ORGANISATION_CODE_PATTERN
from contracts_schema.replies import CommandAccepted
from gateway.policy import PublicCommand, refusal
from gateway.privacy.erasure import actor_of
from gateway.schema.context import Info
from gateway.schema.enums import AggregateType
from gateway.schema.errors import ClientError, RefusalCode, refusal_code
from gateway.schema.inputs import client_path, input_type, to_plain

# The aggregate that shows a command's new state, by aggregate type.
NODE_TYPES = {
    "tender": "Tender",
    "enrolment_window": "Tender",
    "contract": "Contract",
    "programme": "Programme",
    "organisation": "Organisation",
    "call_off": "CallOff",
}


@strawberry.type
class AppendedEvent:
    event_type: str
    aggregate_type: AggregateType
    aggregate_id: str
    aggregate_version: int
    stream: str
    sequence: int


@strawberry.type(description="The command was accepted (or had been: `duplicate`).")
class CommandSucceeded:
    command_id: str
    consistency_token: str
    duplicate: bool
    events: list[AppendedEvent]
    _node_id: strawberry.Private[tuple[str, str] | None]

    @strawberry.field(description="The new state (read after the projections caught up).")
    async def node(self, info: Info) -> relay.Node | None:
        if self._node_id is None:
            return None
        await info.context.consistent(self.consistency_token)
        info.context.see_present()
        type_name, key = self._node_id
        node_type = info.schema.get_type_by_name(type_name)
        origin = getattr(node_type, "origin", None)
        if origin is None:
            return None
        found = await origin.resolve_nodes(info=info, node_ids=[key])
        return found[0]  # type: ignore[no-any-return]


@strawberry.type(description="A rule of the domain refused the command.")
class DomainError:
    code: str
    message: str
    refusal: RefusalCode | None = strawberry.field(
        description="The code as an enum value, described in the catalogue of refusals;"
        " null for a code this gateway does not know yet."
    )


@strawberry.type
class FieldProblem:
    path: str
    message: str


@strawberry.type(description="The command's input did not validate.")
class InvalidInput:
    code: str
    message: str
    problems: list[FieldProblem]


@strawberry.type(description="The caller may not send this command.")
class PermissionDenied:
    code: str
    message: str


CommandResult = Annotated[
    CommandSucceeded | DomainError | InvalidInput | PermissionDenied,
    strawberry.union("CommandResult"),
]


def _succeeded(reply: CommandAccepted) -> CommandSucceeded:
    last = reply.events[-1] if reply.events else None
    node = None
    if last is not None and last.aggregate_type in NODE_TYPES:
        node = (NODE_TYPES[last.aggregate_type], last.aggregate_id)
    return CommandSucceeded(
        command_id=reply.command_id,
        consistency_token=reply.consistency_token,
        duplicate=reply.duplicate,
        events=[
            AppendedEvent(
                event_type=e.event_type,
                aggregate_type=AggregateType(e.aggregate_type),
                aggregate_id=e.aggregate_id,
                aggregate_version=e.aggregate_version,
                stream=e.stream,
                sequence=e.seq,
            )
            for e in reply.events
        ],
        _node_id=node,
    )


# The forms a client meets, in words: pydantic names only the regular expression.
FORMS = {
    ID_PATTERN: "an identifier: 1 to 128 letters, digits, '-' or '_'",
    ORGANISATION_CODE_PATTERN: "an organisation code: GM#### (CBS), KVK-########,"
    " OIN-#################### or, abroad, XX-REGISTER-id (org-id.guide)",
    ORGANISATION_CODE: "an organisation code: GM#### (CBS), KVK-######## or"
    " OIN-####################",
}


def _said(error: Any) -> str:
    """pydantic's message, with a pattern the client must match named in words."""
    form = FORMS.get(str((error.get("ctx") or {}).get("pattern")))
    if error["type"] == "string_pattern_mismatch" and form:
        said = f"{shown(error['input'])} is not {form}"
        # 'KVK 1234 5678' as printed on a letterhead: the space is the whole problem.
        if any(c.isspace() for c in str(error["input"])):
            said += " (it holds spaces, which none may: e.g. KVK-12345678, not KVK 1234 5678)"
        return said
    return str(error["msg"])


def _resolver(model: type[Command]) -> Any:
    input_cls = input_type(model, f"{model.command_type}Input")

    async def resolve(info: Info, input: Any) -> Any:
        data = to_plain(input)
        minted = data.get("command_id") is None  # the client chose no id: this request's own
        if minted:
            data["command_id"] = uuid.uuid4().hex
        try:
            command = model.model_validate(data)
        except ValidationError as exc:
            problems = [
                FieldProblem(path=client_path(e["loc"]), message=_said(e)) for e in exc.errors()
            ]
            return InvalidInput(
                code="INVALID_INPUT",
                message=f"{model.command_type}: "
                + "; ".join(f"{p.path}: {p.message}" for p in problems[:5]),
                problems=problems,
            )
        principal = info.context.principal
        reason = refusal(principal, command)
        if reason:
            return PermissionDenied(code="FORBIDDEN", message=reason)
        if isinstance(command, SubscribeWebhook):
            problem = url_problem(command.url, info.context.settings.webhook_allowed_hosts)
            if problem:
                return InvalidInput(
                    code="INVALID_INPUT",
                    message=f"SubscribeWebhook: url: {problem}",
                    problems=[FieldProblem(path="url", message=problem)],
                )
        if info.context.commands is None:
            raise ClientError("this gateway is read-only (no command bus)", "READ_ONLY")
        # The log names people by pseudonym only (docs/privacy.md).
        actor = await actor_of(principal, info.context.identity_store)
        reply = await info.context.commands.send(command, actor)
        if isinstance(reply, CommandAccepted):
            if minted and reply.duplicate:
                # An id minted for this request was used by nothing else: the duplicate is
                # the bus's own resend after a timeout, so this is the first acceptance.
                reply = reply.model_copy(update={"duplicate": False})
            return _succeeded(reply)
        return DomainError(code=reply.code, message=reply.message, refusal=refusal_code(reply.code))

    resolve.__annotations__ = {"info": Info, "input": input_cls, "return": CommandResult}
    resolve.__name__ = resolve.__qualname__ = re.sub(
        r"(?<!^)(?=[A-Z])", "_", model.command_type
    ).lower()
    return resolve


def mutation_type(table: tuple[PublicCommand, ...], extra: tuple[Any, ...] = ()) -> type | None:
    if not table:
        return None
    fields = [
        strawberry.mutation(
            resolver=_resolver(entry.model),
            # the whole docstring, then who may send it (the table's rule)
            description=" ".join((entry.model.__doc__ or entry.model.command_type).split())
            + f" ({entry.rule.value}.)",
        )
        for entry in sorted(table, key=lambda e: e.model.command_type)
    ]
    return create_type("Mutation", [*fields, *extra])
