"""A per-subject rate of commands: one signed-in token cannot flood the services.

Each subject (its role, `sub` and organisation: the principal's actor) holds a token bucket
of `GT_COMMAND_BURST` commands, refilled at `GT_COMMAND_RATE_PER_MINUTE`; each root field of
a mutation takes one. A mutation that finds too few is refused whole, before any of its
commands is sent, with `RATE_LIMITED` and the seconds until enough have refilled
(`extensions.retryAfterSeconds`). Coordinators have their own rate
(`GT_COORDINATOR_COMMAND_RATE_PER_MINUTE`, off by default: they load histories in bulk).
The buckets live in the gateway process (one per worker), bounded in number (LRU).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from gateway.auth import Principal, Role
from gateway.schema.errors import ClientError
from gateway.settings import GatewaySettings

MAX_SUBJECTS = 100_000  # buckets kept; a full bucket forgotten costs its subject nothing


@dataclass
class _Bucket:
    tokens: float
    at: float


class CommandRate:
    def __init__(
        self, settings: GatewaySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst = settings.command_burst
        self._per_second = {
            Role.COORDINATOR: settings.coordinator_command_rate_per_minute / 60,
        }
        self._default = settings.command_rate_per_minute / 60
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def retry_after(self, principal: Principal, commands: int) -> float | None:
        """None when `principal` may send `commands` now (and they are taken); else the
        seconds until it may."""
        rate = self._per_second.get(principal.role, self._default)
        if rate <= 0 or commands <= 0:
            return None  # off for this role
        now = self._clock()
        key = principal.actor
        bucket = self._buckets.pop(key, None) or _Bucket(float(self._burst), now)
        bucket.tokens = min(float(self._burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        self._buckets[key] = bucket
        while len(self._buckets) > MAX_SUBJECTS:
            self._buckets.popitem(last=False)
        if commands > self._burst:
            return math.inf
        if bucket.tokens >= commands:
            bucket.tokens -= commands
            return None
        return (commands - bucket.tokens) / rate


class CommandRateLimit(SchemaExtension):
    def __init__(self, rate: CommandRate, burst: int) -> None:
        super().__init__()
        self.rate = rate
        self.burst = burst

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.operation_type is StrawberryOperationType.MUTATION:
            refusal = self._refusal()
            if refusal is not None:
                ec.result = refusal
        yield

    def _refusal(self) -> ExecutionResult | None:
        ec = self.execution_context
        try:
            principal = ec.context.principal
        except Exception:
            return None  # a bad token: the resolvers refuse it
        if principal.role is Role.ANONYMOUS:
            return None  # refused by every mutation's access rule, nothing is sent
        commands = _root_fields(ec.graphql_document, ec.operation_name)
        wait = self.rate.retry_after(principal, commands)
        if wait is None:
            return None
        if math.isinf(wait):
            message = (
                f"this mutation sends {commands} commands; one subject may send at most"
                f" {self.burst} at once (GT_COMMAND_BURST)"
            )
            error = ClientError(message, "RATE_LIMITED")
        else:
            seconds = max(1, math.ceil(wait))
            message = (
                f"too many commands from {principal.role.value} {principal.subject!r}: retry"
                f" after {seconds} s (at most {self.burst} at once, refilled at the rate the"
                " operator set: GT_COMMAND_RATE_PER_MINUTE)"
            )
            error = ClientError(message, "RATE_LIMITED", retryAfterSeconds=seconds)
        return ExecutionResult(data=None, errors=[error])


def _root_fields(document: object, operation_name: str | None) -> int:
    """The commands a mutation sends: its root fields with every fragment expanded.

    A fragment spread or an inline fragment on `Mutation` is one selection of the operation
    but may hold any number of commands (review14: `mutation { ...F }` with six aliased
    commands in F was charged as one). `@skip`/`@include` are not evaluated: a skipped
    field is counted, which errs on the side of the limit.
    """
    definitions = getattr(document, "definitions", ())
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    for node in definitions:
        if not isinstance(node, OperationDefinitionNode):
            continue
        if node.operation is not OperationType.MUTATION:
            continue
        if operation_name is None or (node.name and node.name.value == operation_name):
            return max(1, _fields_in(node.selection_set, fragments, set()))
    return 1


def _fields_in(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> int:
    count = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            count += not selection.name.value.startswith("__")  # __typename sends nothing
        elif isinstance(selection, InlineFragmentNode):
            count += _fields_in(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:  # a cycle is refused by validation
                count += _fields_in(fragments[name].selection_set, fragments, seen | {name})
    return count
