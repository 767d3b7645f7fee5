"""Renders deploy/nats/accounts.conf: least-privilege NATS users, and municipalities by callout.

python -m notifier.nats_accounts > deploy/nats/accounts.conf

Accounts:
- GT holds the streams and one user per service, the operator and the auditor. Each service
  publishes only its own context's events, the commands it sends and the JetStream API calls
  it needs on the streams it uses; only `operator` may delete, purge or reconfigure a stream.
- ORGS holds the municipalities and every organisation registered later. None is in this file:
  the auth callout (`notifier.nats_auth`) admits them with per-organisation permissions, so a
  new organisation needs no server restart. ORGS imports from GT only the feed subjects and the
  JetStream calls on the INTEGRATION stream's consumers; JetStream answers a pull request in
  the requester's account, so a reply subject set to `registry.commands.…` lands in ORGS, where
  no service listens.

No password or key is in the file: each is a NATS variable (`password: $GT_NATS_REGISTRY_PASSWORD`,
`issuer: $GT_NATS_CALLOUT_ISSUER`) that nats-server resolves from its environment at start, and
refuses to start without. `dev_environment()` gives development values (tests, `make run`).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from contracts_schema.subjects import CONTEXTS, ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.checkpoints import CHECKPOINT_STREAM
from eventstore.processed import MIRROR_BARRIER_KEY
from eventstore.projection_news import SUBJECT_PREFIX, subjects_of
from notifier.feed import INTEGRATION_STREAM, consumer_name

GATEWAY_USER = "gateway"  # sends commands and reads (GraphQL over the read models)
PROJECTOR_USER = "projector"  # applies the gateway's read models, announces their positions
SERVICES = (REGISTRY.name, ENROLMENT.name, NOTIFIER.name, GATEWAY_USER, PROJECTOR_USER)
# Users beside the services: the callout, stream administration, read-only audit.
CALLOUT_USER = "auth"
OPERATOR_USER = "operator"
AUDIT_USER = "audit"
USERS = (*SERVICES, CALLOUT_USER, OPERATOR_USER, AUDIT_USER)
ORGS_ACCOUNT = "ORGS"
CREDENTIALS_BUCKET = "org-credentials"  # KV: organisation code -> hash of its NATS secret
PROCESSED_KV = "processed-commands"
ISSUER_VARIABLE = "GT_NATS_CALLOUT_ISSUER"
# The GT founding municipalities plus LNVT's stand-in OIN: the demo's organisations.
DEFAULT_ORGANISATIONS = ("GM0363", "GM0518", "GM0599", "GM0772", "GM0160", "GM0175")
# A fixed development callout key (public: it admits organisations only on dev servers).
DEV_CALLOUT_SEED = "SAAM6BKHXMBKOUWPICP5EH4T542UCNS7AC375TF6PL7ESQ3QVYPXHNTXSA"


def dev_password(user: str) -> str:
    return f"dev-{user.lower()}-secret"


def password_variable(user: str) -> str:
    """The environment variable holding a user's password (GT_NATS_<USER>_PASSWORD)."""
    return f"GT_NATS_{re.sub(r'[^A-Z0-9]', '_', user.upper())}_PASSWORD"


def dev_callout_issuer() -> str:
    import nkeys

    return str(nkeys.from_seed(DEV_CALLOUT_SEED.encode()).public_key.decode())


def dev_environment() -> dict[str, str]:
    """Every variable the accounts file needs, with development values."""
    env = {password_variable(u): dev_password(u) for u in USERS}
    env[ISSUER_VARIABLE] = dev_callout_issuer()
    return env


@dataclass(frozen=True)
class Grant:
    """One user's subject permissions."""

    publish: list[str]
    subscribe: list[str]
    responses: bool = False  # may answer requests it received (allow_responses)
    deny_publish: list[str] = field(default_factory=list)


def _reads(streams: list[str]) -> list[str]:
    """Read a stream (info, direct get) and run consumers on it."""
    subjects = ["$JS.API.INFO", "$JS.API.STREAM.NAMES"]
    for s in streams:
        subjects += [
            f"$JS.API.STREAM.INFO.{s}",
            f"$JS.API.DIRECT.GET.{s}",
            f"$JS.API.DIRECT.GET.{s}.>",
            f"$JS.API.STREAM.MSG.GET.{s}",
            f"$JS.API.CONSUMER.CREATE.{s}",
            f"$JS.API.CONSUMER.CREATE.{s}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{s}.*",
            f"$JS.API.CONSUMER.DELETE.{s}.*",
            f"$JS.API.CONSUMER.INFO.{s}.*",
            f"$JS.API.CONSUMER.MSG.NEXT.{s}.*",
            f"$JS.ACK.{s}.>",
        ]
    return subjects


# The read models the enrolment service and the notifier apply themselves (`Projection.name`;
# a test holds these to the classes, which this module does not import).
ENROLMENT_READ_MODEL = "enrolment_registry_facts"
NOTIFIER_READ_MODEL = "notifier_schedule"


def _creates(streams: list[str]) -> list[str]:
    # Creating a missing stream with the code's configuration (an existing one with another
    # configuration is refused by the server); updating, purging, deleting: operator only.
    return [f"$JS.API.STREAM.CREATE.{s}" for s in streams]


def _processed(context: BoundedContext) -> list[str]:
    """Its record of processed commands, and its signed checkpoints (eventstore.checkpoints);
    the other contexts' records read only, to keep command ids unique across contexts."""
    bucket = f"KV_{PROCESSED_KV}-{context.name}"
    others = [f"KV_{PROCESSED_KV}-{c.name}" for c in CONTEXTS.values() if c.name != context.name]
    return [
        *_reads([bucket, CHECKPOINT_STREAM]),
        *_creates([bucket, CHECKPOINT_STREAM]),
        f"$KV.{PROCESSED_KV}-{context.name}.>",
        f"checkpoints.{context.name}",
        *(f"$JS.API.STREAM.INFO.{o}" for o in others),
        # One key by subject, or the keys of one loop turn in one request (`DirectLookups`).
        *(f"$JS.API.DIRECT.GET.{o}" for o in others),
        *(f"$JS.API.DIRECT.GET.{o}.>" for o in others),
        # A bucket without direct get is read by message get (nats-py follows the bucket).
        *(f"$JS.API.STREAM.MSG.GET.{o}" for o in others),
    ]


def _records_heard() -> list[str]:
    """Every context's record's writes as they are published (eventstore.processed.
    RecordMirror: the keys of the records a command asks held in the process, so a new
    command id is not looked up). What a service could already read of the others' records
    (Direct Get, any key), as it is written."""
    return [f"$KV.{PROCESSED_KV}-{c.name}.>" for c in CONTEXTS.values()]


def _mirror_barriers(context: BoundedContext) -> list[str]:
    """The other contexts' records: the one subject a mirror's barrier is published on
    (`eventstore.processed.MIRROR_BARRIER_KEY`, refused by the stream by its header: it
    orders the mirror's load after every record routed before its subscription). No command
    id is ever that key, nor a pre-uniqueness key."""
    return [
        f"$KV.{PROCESSED_KV}-{c.name}.{MIRROR_BARRIER_KEY}"
        for c in CONTEXTS.values()
        if c.name != context.name
    ]


def _event_streams(*contexts: BoundedContext) -> list[str]:
    return [c.stream for c in contexts]


ALL_EVENT_STREAMS = _event_streams(*CONTEXTS.values())


def _sends_commands(*contexts: BoundedContext) -> list[str]:
    """Publishing commands: on the unpartitioned subject and on a partition's, exactly those
    depths (`<ctx>.commands.<T>`, `<ctx>.commands.<p>.<T>`); a service subscribes to its own
    with `<ctx>.commands.>` (`BoundedContext.command_subjects`), never publishes that wide."""
    return [
        *(c.command_subject("*") for c in contexts),
        *(c.partitioned_command_subject("*", "*") for c in contexts),
    ]


def service_grants() -> dict[str, Grant]:
    inbox = "_INBOX.>"
    # A projection's committed positions (eventstore.projection_news): everyone may hear
    # them; a service announces only its own read models' (a forged position would let a
    # read-your-writes wait answer before the writes are applied).
    positions = f"{SUBJECT_PREFIX}.>"
    enrolment_positions = subjects_of(ENROLMENT_READ_MODEL)
    notifier_positions = subjects_of(NOTIFIER_READ_MODEL)
    registry = Grant(
        publish=[
            REGISTRY.event_subjects,
            *_reads(ALL_EVENT_STREAMS),
            *_creates([REGISTRY.stream]),
            *_processed(REGISTRY),
            *_mirror_barriers(REGISTRY),
            REGISTRY.members_subjects,  # its processes' heartbeats (eventstore.partitions)
        ],
        subscribe=[
            REGISTRY.command_subjects,
            REGISTRY.members_subjects,
            *_records_heard(),
            inbox,
        ],
        responses=True,
    )
    enrolment = Grant(
        publish=[
            ENROLMENT.event_subjects,
            *_reads(ALL_EVENT_STREAMS),
            *_creates([ENROLMENT.stream, REGISTRY.stream]),
            *_processed(ENROLMENT),
            *_mirror_barriers(ENROLMENT),
            enrolment_positions,
            ENROLMENT.members_subjects,
        ],
        subscribe=[
            ENROLMENT.command_subjects,
            ENROLMENT.members_subjects,
            *_records_heard(),
            inbox,
            positions,
        ],
        responses=True,
    )
    notifier = Grant(
        publish=[
            NOTIFIER.event_subjects,
            *_sends_commands(NOTIFIER),  # its ticker raises warnings through its own commands
            "gt.org.>",
            "gt.public.>",
            *_reads([*ALL_EVENT_STREAMS, INTEGRATION_STREAM]),
            *_creates([*ALL_EVENT_STREAMS, INTEGRATION_STREAM]),
            *_processed(NOTIFIER),
            *_mirror_barriers(NOTIFIER),
            notifier_positions,
            NOTIFIER.members_subjects,
        ],
        subscribe=[
            NOTIFIER.command_subjects,
            NOTIFIER.members_subjects,
            *_records_heard(),
            inbox,
            positions,
        ],
        responses=True,
    )
    gateway = Grant(
        # Sends commands and reads; appends nothing, creates no stream. (It may also run the
        # projections itself, as the embedded system does in tests: then it announces.)
        publish=[
            *_sends_commands(*CONTEXTS.values()),
            *_reads(ALL_EVENT_STREAMS),
            positions,
        ],
        subscribe=[inbox, positions],
        deny_publish=[enrolment_positions, notifier_positions],
    )
    projector = Grant(
        # Reads the event streams into the read models; sends no command, appends nothing.
        publish=[*_reads(ALL_EVENT_STREAMS), positions],
        subscribe=[inbox, positions],  # a standby replica follows the leader's positions
        deny_publish=[enrolment_positions, notifier_positions],  # the gateway's read models only
    )
    callout = Grant(
        publish=_reads([f"KV_{CREDENTIALS_BUCKET}"]),
        subscribe=["$SYS.REQ.USER.AUTH", inbox],
        responses=True,
    )
    # The operator administers every stream but the checkpoints: deleting, purging or
    # reconfiguring CHECKPOINTS (or forging one) would let it cut an event stream's tail and
    # its anchors together unnoticed by `audit verify`. A restore into an empty server is
    # still allowed (`$JS.API.STREAM.RESTORE`), as a service may create a missing one.
    operator = Grant(
        publish=[">"],
        subscribe=[">"],
        deny_publish=[
            *(f"$JS.API.STREAM.{a}.{CHECKPOINT_STREAM}" for a in ("DELETE", "PURGE", "UPDATE")),
            f"$JS.API.STREAM.MSG.DELETE.{CHECKPOINT_STREAM}",
            "checkpoints.>",
        ],
    )
    audit = Grant(
        publish=_reads([*ALL_EVENT_STREAMS, CHECKPOINT_STREAM]),
        subscribe=[inbox],
        # Reads without consuming: no consumer of its own, and never a consumer of another.
        deny_publish=["$JS.API.CONSUMER.>", "$JS.ACK.>"],
    )
    return {
        "registry": registry,
        "enrolment": enrolment,
        "notifier": notifier,
        "gateway": gateway,
        PROJECTOR_USER: projector,
        CALLOUT_USER: callout,
        OPERATOR_USER: operator,
        AUDIT_USER: audit,
    }


def organisation_grant(code: str) -> Grant:
    """What the callout grants an organisation: its own consumer, its own and public subjects,
    its own inbox prefix."""
    consumer = consumer_name(code)
    return Grant(
        publish=[
            f"$JS.API.CONSUMER.INFO.{INTEGRATION_STREAM}.{consumer}",
            f"$JS.API.CONSUMER.MSG.NEXT.{INTEGRATION_STREAM}.{consumer}",
            f"$JS.ACK.{INTEGRATION_STREAM}.{consumer}.>",
        ],
        subscribe=[f"gt.org.{code}.>", "gt.public.>", f"_INBOX_{code}.>"],
    )


def _list(items: list[str], indent: str) -> str:
    return "[\n" + "".join(f'{indent}  "{i}"\n' for i in items) + f"{indent}]"


def _user(name: str, grant: Grant) -> str:
    i = "          "
    deny = f"\n{i}  deny: {_list(grant.deny_publish, i + '  ')}" if grant.deny_publish else ""
    responses = f"\n{i}allow_responses: true" if grant.responses else ""
    return (
        f'      {{\n        user: "{name}"\n        password: ${password_variable(name)}\n'
        f"        permissions: {{\n"
        f"          publish: {{\n{i}  allow: {_list(grant.publish, i + '  ')}{deny}\n{i}}}\n"
        f"          subscribe: {{ allow: {_list(grant.subscribe, i)} }}{responses}\n"
        f"        }}\n      }}\n"
    )


ORG_EXPORTS = [
    ("service", f"$JS.API.CONSUMER.INFO.{INTEGRATION_STREAM}.*", ""),
    ("service", f"$JS.API.CONSUMER.MSG.NEXT.{INTEGRATION_STREAM}.*", ", response_type: stream"),
    ("service", f"$JS.ACK.{INTEGRATION_STREAM}.*.>", ""),
    ("stream", "gt.org.>", ""),
    ("stream", "gt.public.>", ""),
]


def render() -> str:
    users = "".join(_user(name, grant) for name, grant in service_grants().items())
    exports = "".join(
        f'      {{ {kind}: "{subject}", accounts: [{ORGS_ACCOUNT}]{extra} }}\n'
        for kind, subject, extra in ORG_EXPORTS
    )
    imports = "".join(
        f'      {{ {kind}: {{ account: GT, subject: "{subject}" }} }}\n'
        for kind, subject, _ in ORG_EXPORTS
    )
    return (
        "# Generated by `python -m notifier.nats_accounts`; included by the server configs.\n"
        "# GT: one least-privilege user per service, the operator (the only one that may\n"
        "# delete, purge or reconfigure a stream; never CHECKPOINTS) and the auditor (read\n"
        "# only). ORGS: every organisation, admitted by the auth callout (notifier.nats_auth)\n"
        "# with permissions for its own consumer, subjects and inbox. Passwords and the\n"
        "# callout's public key are NATS variables resolved from the server's environment;\n"
        "# none is in this file.\n"
        "accounts {\n"
        "  GT {\n    jetstream: enabled\n    users: [\n"
        f"{users}    ]\n"
        f"    exports: [\n{exports}    ]\n  }}\n"
        f"  {ORGS_ACCOUNT} {{\n    imports: [\n{imports}    ]\n  }}\n"
        "  SYS {}\n"
        "}\n"
        "system_account: SYS\n"
        "authorization {\n"
        "  auth_callout {\n"
        f"    issuer: ${ISSUER_VARIABLE}\n"
        "    account: GT\n"
        "    # Config users log in with their passwords; everyone else is asked of the callout.\n"
        f"    auth_users: [ {', '.join(USERS)} ]\n"
        "  }\n"
        "}\n"
    )


if __name__ == "__main__":
    sys.stdout.write(render())
