"""Generate the committed contract files; `--check` fails when they would change.

python -m contracts_schema.generate [--check] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts_schema.catalogue import COMMAND_MODELS, EVENT_MODELS
from contracts_schema.envelope import EventEnvelope
from contracts_schema.integration import INTEGRATION_EVENTS
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import CONTEXTS

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "generated"

# Extra generated files contributed by other packages (e.g. the GraphQL SDL), by relative path.
EXTRA_GENERATORS: dict[str, Callable[[], str]] = {}


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _schema(model: type[BaseModel], title: str, schema_id: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        **schema,
        "title": title,
    }


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in EVENT_MODELS:
        context = CONTEXTS[event.context]
        name = event.event_type
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (event.__doc__ or name).strip().splitlines()[0],
            "payload": {"$ref": f"events/{name}.v{event.schema_version}.json"},
            "headers": {"$ref": "envelope.json"},
        }
        channel = f"{context.name}.{event.aggregate_type}.{name}"
        channels[channel] = {
            "address": context.event_subject(event.aggregate_type, "{aggregateId}", name),
            "parameters": {"aggregateId": {"description": f"Id of the {event.aggregate_type}."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "description": f"Stream {context.stream}; one subject per aggregate and event type.",
        }
        operations[f"receive{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
        }
    for command in COMMAND_MODELS:
        context = CONTEXTS[command.context]
        name = command.command_type
        messages[name] = {"name": name, "payload": {"$ref": f"commands/{name}.json"}}
        channel = f"{context.name}.commands.{name}"
        channels[channel] = {
            "address": context.command_subject(name),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "description": "NATS request/reply; the reply is a CommandAccepted or CommandRejected.",
        }
        operations[f"send{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "reply": {"address": {"location": "$message.header#/replyTo"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "GT contract registry",
            "version": "1.0.0",
            "description": "Domain events (one JetStream stream per bounded context) and commands.",
        },
        "defaultContentType": "application/json",
        "servers": {"embedded": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> dict[str, str]:
    files: dict[str, str] = {}
    base = "https://gt-registry.example/contracts"
    for event in EVENT_MODELS:
        rel = f"events/{event.event_type}.v{event.schema_version}.json"
        files[rel] = _dump(_schema(event, event.event_type, f"{base}/{rel}"))
    for command in COMMAND_MODELS:
        rel = f"commands/{command.command_type}.json"
        files[rel] = _dump(_schema(command, command.command_type, f"{base}/{rel}"))
    for integration in INTEGRATION_EVENTS:
        cloud_type = str(getattr(integration, "cloud_event_type", integration.__name__))
        rel = f"integration/{cloud_type}.json"
        files[rel] = _dump(_schema(integration, cloud_type, f"{base}/{rel}"))
    for model, rel in (
        (EventEnvelope, "envelope.json"),
        (CommandRequest, "command-request.json"),
        (CommandAccepted, "command-accepted.json"),
        (CommandRejected, "command-rejected.json"),
    ):
        files[rel] = _dump(_schema(model, model.__name__, f"{base}/{rel}"))
    files["asyncapi.json"] = _dump(asyncapi())
    for rel, generator in EXTRA_GENERATORS.items():
        files[rel] = generator()
    return files


def _load_extra_generators() -> None:
    # The gateway contributes its SDL when installed; the contract package works without it.
    try:
        from gateway.sdl import export_sdl  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    EXTRA_GENERATORS["schema.graphql"] = export_sdl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if regenerating would change anything"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    _load_extra_generators()
    wanted = render()
    existing = (
        {str(p.relative_to(args.out)): p for p in args.out.rglob("*") if p.is_file()}
        if args.out.exists()
        else {}
    )
    changed = sorted(
        rel
        for rel, text in wanted.items()
        if rel not in existing or existing[rel].read_text() != text
    )
    stale = sorted(set(existing) - set(wanted))
    if args.check:
        for rel in changed:
            print(f"out of date: contracts-schema/generated/{rel}", file=sys.stderr)
        for rel in stale:
            print(f"no longer generated: contracts-schema/generated/{rel}", file=sys.stderr)
        if changed or stale:
            print("run `make schema` and commit the result", file=sys.stderr)
            return 1
        print(f"contract files up to date ({len(wanted)} files)")
        return 0
    for rel in changed:
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted[rel])
    for rel in stale:
        existing[rel].unlink()
    print(f"wrote {len(changed)} file(s), removed {len(stale)}; {len(wanted)} contract files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
