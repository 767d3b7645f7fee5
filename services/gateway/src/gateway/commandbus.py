"""Send commands to the owning service over NATS request/reply, riding out short failovers.

A transient condition (a stream or key-value leader being elected, a broker timeout, the
service restarting) is answered `UNAVAILABLE` by the service, or shows here as no responder
or no reply. The bus sends the same command again (same command id: the services store it
at most once) until `GT_COMMAND_RETRY_SECONDS` have passed, so a coordinator sees a short
delay during a failover, not an error. Only when that time is up does the client get the
retryable `UNAVAILABLE` (or `SERVICE_UNAVAILABLE` / `SERVICE_TIMEOUT`) reply.
"""

from __future__ import annotations

import asyncio
import logging

import nats.errors
from nats.aio.client import Client as NATS
from opentelemetry import trace
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts_schema.base import Command
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import CONTEXTS
from eventstore.errors import RETRY_AFTER_SECONDS, UNAVAILABLE
from eventstore.observability import ensure_tracer_provider, outgoing_trace_headers, tracer
from eventstore.serving import send_command

log = logging.getLogger(__name__)

# Replies that mean "not now": the same command may be sent again.
RETRYABLE_CODES = frozenset({UNAVAILABLE, "SERVICE_UNAVAILABLE", "SERVICE_TIMEOUT"})


class CommandRetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    command_retry_seconds: float = Field(
        default=30.0,
        ge=0,
        le=86_400,
        description="How long the gateway resends a command that met a transient condition"
        " (an election, a timeout) before it answers the retryable outcome; 0 = never.",
    )
    command_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How long one request waits for the service's reply (at most an hour).",
    )


class CommandBus:
    def __init__(
        self, nc: NATS, *, timeout: float | None = None, retry_for: float | None = None
    ) -> None:
        settings = CommandRetrySettings()
        self._nc = nc
        self._timeout = timeout if timeout is not None else settings.command_timeout_seconds
        self._retry_for = retry_for if retry_for is not None else settings.command_retry_seconds

    async def send(
        self, command: Command, actor: str, *, correlation_id: str | None = None
    ) -> CommandAccepted | CommandRejected:
        ensure_tracer_provider("gateway")
        with tracer.start_as_current_span(
            f"send {command.command_type}",
            kind=trace.SpanKind.CLIENT,
            attributes={"gt.command_id": command.command_id, "gt.context": command.context},
        ) as span:
            reply = await self._send(command, actor, correlation_id)
            span.set_attribute(
                "gt.outcome", "accepted" if isinstance(reply, CommandAccepted) else reply.code
            )
            return reply

    async def _send(
        self, command: Command, actor: str, correlation_id: str | None
    ) -> CommandAccepted | CommandRejected:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        pause = RETRY_AFTER_SECONDS / 2
        attempts = 0
        while True:
            attempts += 1
            reply = await self._send_once(command, actor, correlation_id)
            if isinstance(reply, CommandAccepted) or reply.code not in RETRYABLE_CODES:
                if attempts > 1:
                    log.info("command %s answered after %d tries", command.command_id, attempts)
                return reply
            if loop.time() + pause > deadline:
                return reply
            log.info(
                "command %s: %s (%s); resending", command.command_id, reply.code, reply.message
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def _send_once(
        self, command: Command, actor: str, correlation_id: str | None
    ) -> CommandAccepted | CommandRejected:
        context = CONTEXTS[command.context]
        size = len(command.model_dump_json())
        limit = self._nc.max_payload
        if limit and size > limit - 4096:  # the envelope's headers and actor need room too
            return CommandRejected(
                command_id=command.command_id,
                code="COMMAND_TOO_LARGE",
                message=f"{command.command_type} is {size} bytes; the broker carries at most"
                f" {limit} per message: send less in one command",
            )
        try:
            return await send_command(
                self._nc,
                context,
                command,
                actor=actor,
                correlation_id=correlation_id,
                timeout=self._timeout,
                # The service's command span continues this one (when it propagates traces).
                headers=outgoing_trace_headers(),
            )
        except nats.errors.NoRespondersError:
            return CommandRejected(
                command_id=command.command_id,
                code="SERVICE_UNAVAILABLE",
                message=f"the {context.name} service is not running; retry with the same commandId",
            )
        except TimeoutError:  # nats-py's own or asyncio's: both are TimeoutError
            return CommandRejected(
                command_id=command.command_id,
                code="SERVICE_TIMEOUT",
                message=f"the {context.name} service did not answer within {self._timeout:g}s;"
                " retry with the same commandId (commands are idempotent)",
            )
        except (nats.errors.ConnectionReconnectingError, nats.errors.ConnectionClosedError):
            return CommandRejected(
                command_id=command.command_id,
                code="SERVICE_UNAVAILABLE",
                message="the gateway is reconnecting to NATS; retry with the same commandId",
            )
