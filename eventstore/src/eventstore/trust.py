"""What readers accept of a stream: intact events signed by a key trusted for its context.

Holding a service's NATS login lets one publish anything on its subjects; what makes an event
is the service's signature over its hash (`eventstore.signing`). `audit verify` checks that
after the fact; every reader checks it here, at the one place stored bytes become a
`StoredEvent` for a reader (`read_event`: the projections' live and catch-up deliveries) and
where the command side loads a history (`refuse_untrusted`). A refused event carries why
(`StoredEvent.refused`): projections park it with that reason and apply the rest; the command
side refuses to decide on a history holding one.

Reasons: `undecodable` (not an envelope), `unsigned`, `untrusted signer` (not a key trusted
for the stream's context, or one retired before that sequence), `altered` (the hash does not
match the content, or the signature not the hash), `misplaced` (stored on another subject than
the one its envelope names: a signed event copied onto another aggregate's subject, attack10),
and, per reader, `duplicate` (a later message repeating a version of its aggregate already
applied: `Duplicates`).

Which keys: `bootstrap.parts.trust_readers` installs them (for a process, or for the NATS
connections it wires) from where `audit verify` reads them (`<data>/keys/*.pub` and
`*.retired`, `GT_SIGNING_PUBLIC_KEYS`). With no key at all (a test's unsigned store, a
deployment without public keys) signatures are not checked, the rest is.
`GT_READERS_VERIFY_SIGNATURES=false` turns the signature check off for a trusted single host
(it is on by default); the hash is checked always.

Cost: one canonical hash and one ed25519 verify (VerifyKey cached per key) per event and
process; the verdict is cached per stored bytes, so runners reading the same event share it.
A catch-up range verifies one signature per hash chain instead (`read_range`: a verified
signature vouches for the earlier events its chain reaches; docs/security.md, "Signed
chains"); `GT_READERS_VERIFY_EVERY_SIGNATURE=true` verifies each there too.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic import ValidationError

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import CONTEXTS, BoundedContext, parse_event_subject
from eventstore.errors import EventStoreError
from eventstore.hashing import json_form_hash
from eventstore.records import StoredEvent
from eventstore.signing import BadSetting, _verify_key, key_bounds, trusted_keys

log = logging.getLogger(__name__)

VERIFY_ENV = "GT_READERS_VERIFY_SIGNATURES"
VERIFY_EVERY_ENV = "GT_READERS_VERIFY_EVERY_SIGNATURE"

UNDECODABLE = "undecodable"
UNSIGNED = "unsigned"
UNTRUSTED = "untrusted signer"
ALTERED = "altered"
DUPLICATE = "duplicate"
BAD_SIGNATURE = f"{ALTERED}: the signature does not match the event's hash"
MISPLACED = "misplaced"
MISSING = "missing"  # an aggregate's version skipped: an event lost from the stream

_CONTEXT_OF_STREAM = {c.stream: c.name for c in CONTEXTS.values()}


def misplaced(envelope: EventEnvelope, subject: str) -> str | None:
    """Whether `envelope` was stored on a subject other than its own. The subject is the one
    part of a stored event its signature does not cover, and the command side loads an
    aggregate's history by it: a signed event copied onto another aggregate's subject (a
    stream's NATS login, no key) became that aggregate's history, and the service chained and
    signed its next decision onto it (a rename of GM0002 that renamed GM0001)."""
    own = BoundedContext(envelope.context, "").event_subject(
        envelope.aggregate_type, envelope.aggregate_id, envelope.event_type
    )
    if subject == own:
        return None
    return f"{MISPLACED}: stored on {subject}, not on its own subject {own}"


class RefusedEvent(Exception):
    """Why a projection parked an event without applying it (the message is the reason)."""


class UntrustedHistory(EventStoreError):
    """A history holding an event no reader may take as fact: nothing is decided on it."""


class Duplicates:
    """A later message repeating a version of its aggregate already applied (an exact
    re-published copy, or a fork); a redelivery of the same message is no duplicate. One per
    `Trust` (process or connection), shared by its readers in any order: an aggregate's
    highest (version, sequence) seen, and the sequences judged duplicates, so every reader
    (a rebuild later, a retried batch) gets the same verdict. In memory: a process restarted
    between an event and its copy does not see it (the hash-chain read models still refuse
    a second version by their own keys)."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}  # hash of (stream, aggregate) -> version << 40 | seq
        self._found: dict[tuple[str, int], str] = {}  # (stream, seq) -> why
        # Per stream, a run of sequences [first, last] every one of which `refusals` judged
        # (a batch of one reader): another reader's batch inside it has nothing new to learn.
        self._judged: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()  # runners apply in threads of their own

    def check(self, event: StoredEvent) -> str | None:
        with self._lock:
            return self._check(event)

    def _check(self, event: StoredEvent) -> str | None:
        e = event.envelope
        key = hash((event.stream, e.aggregate_type, e.aggregate_id))
        found = self._found.get((event.stream, event.seq))
        if found is not None:
            return found
        last = self._last.get(key)
        if last is not None and e.aggregate_version <= last >> 40 and event.seq > last & _SEQ:
            why = (
                f"{DUPLICATE}: {e.aggregate_type}/{e.aggregate_id} version"
                f" {e.aggregate_version} ({e.event_id}) was already applied before seq"
                f" {event.seq}"
            )
            self._found[event.stream, event.seq] = why
            return why
        if last is None or event.seq > last & _SEQ:
            self._last[key] = e.aggregate_version << 40 | event.seq
        return None

    def refusals(self, stream: str, events: Sequence[StoredEvent]) -> dict[int, str]:
        """Seq -> why, for the events of one stream a reader may not take as fact: refused
        when read (`StoredEvent.refused`) or duplicates (`check`, in order, one lock taken).

        A rebuild's five read models each judge every event of their streams; the verdict on
        an event never changes once judged (an event checked again is found, or is the
        aggregate's highest seen and so no duplicate), so a batch whose sequences all lie in
        a run already judged whole is answered from the verdicts found, without a check.
        """
        if not events:
            return {}
        first, end = events[0].seq, events[-1].seq
        # Ascending and without a gap: the batch is exactly [first, end].
        whole = [e.seq for e in events] == list(range(first, end + 1))
        refused = {e.seq: e.refused for e in events if e.refused is not None}
        with self._lock:
            judged = self._judged.get(stream)
            if whole and judged is not None and judged[0] <= first and end <= judged[1]:
                found = self._found
                if found:
                    for seq in range(first, end + 1):
                        why = found.get((stream, seq))
                        if why is not None and seq not in refused:
                            refused[seq] = why
                return refused
            check = self._check
            for event in events:
                if event.refused is None and (why := check(event)) is not None:
                    refused[event.seq] = why
            if whole and not any(e.refused is not None for e in events):
                # Remember the run judged: joined to the one known if they touch.
                if judged is not None and first <= judged[1] + 1 and end >= judged[0] - 1:
                    first, end = min(first, judged[0]), max(end, judged[1])
                self._judged[stream] = (first, end)
        return refused


_SEQ = (1 << 40) - 1


@dataclass
class Trust:
    """Context name -> its trusted keys (each with the last sequence it may sign, or None)."""

    keys: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)
    verify_signatures: bool = True
    # False: in a catch-up range, a verified signature vouches for the earlier events its
    # hash chain reaches (`read_range`); True: every signature is verified on its own.
    verify_every_signature: bool = False
    _verifiers: dict[str, VerifyKey | None] = field(default_factory=dict, repr=False)
    _verdicts: dict[bytes, tuple[EventEnvelope | None, str | None]] = field(
        default_factory=dict, repr=False
    )
    duplicates: Duplicates = field(default_factory=Duplicates, repr=False)

    @classmethod
    def of(
        cls,
        trusted: Mapping[str, Iterable[str]],
        verify_signatures: bool = True,
        verify_every_signature: bool = False,
    ) -> Trust:
        bounds = {c: key_bounds(keys) for c, keys in trusted.items()}
        return cls(bounds, verify_signatures, verify_every_signature)

    @property
    def signatures(self) -> bool:
        return self.verify_signatures and any(self.keys.values())

    def _verifier(self, public: str) -> VerifyKey | None:
        if public not in self._verifiers:
            try:
                self._verifiers[public] = _verify_key(public)
            except (ValueError, binascii.Error):
                self._verifiers[public] = None
        return self._verifiers[public]

    def content(self, data: bytes) -> tuple[EventEnvelope | None, str | None]:
        """The envelope of stored bytes and what is wrong with them regardless of where they
        are stored (undecodable, altered, a signature not over the hash): cached per bytes."""
        verdict = self._verdicts.get(data)
        if verdict is None:
            verdict = self._judge(data)
            self._remember(data, verdict)
        return verdict

    def _remember(self, data: bytes, verdict: tuple[EventEnvelope | None, str | None]) -> None:
        if len(self._verdicts) >= _VERDICTS_MAX:
            self._verdicts.clear()
        self._verdicts[data] = verdict

    def _judge(self, data: bytes) -> tuple[EventEnvelope | None, str | None]:
        envelope, problem = self._intact(data)
        if envelope is not None and problem is None and not self._signature_holds(envelope):
            problem = BAD_SIGNATURE
        return envelope, problem

    def _intact(self, data: bytes) -> tuple[EventEnvelope | None, str | None]:
        """The envelope of stored bytes, and whether its hash matches its content (the
        signature unchecked)."""
        try:
            envelope = EventEnvelope.model_validate_json(data)
        except ValidationError as exc:
            return None, f"{UNDECODABLE}: not a valid event envelope ({exc.error_count()} errors)"
        # Recomputed as sealing computes it (the canonical form of its JSON form).
        if json_form_hash(envelope.model_dump(mode="json")) != envelope.hash:
            return envelope, f"{ALTERED}: the stored hash does not match the event's content"
        return envelope, None

    def _signature_holds(self, envelope: EventEnvelope) -> bool:
        """Whether the event's signature is its signer's over its hash (True when signatures
        are not checked, or the event carries none: `signer_problem` says so)."""
        if envelope.signer is None or envelope.signature is None or not self.signatures:
            return True
        verifier = self._verifier(envelope.signer)
        try:
            if verifier is None:
                raise ValueError(envelope.signer)
            verifier.verify(envelope.hash.encode(), base64.b64decode(envelope.signature))
        except (ValueError, binascii.Error, BadSignatureError):
            return False
        return True

    def signer_problem(self, envelope: EventEnvelope, stream: str, seq: int) -> str | None:
        """Whether the event's signer may sign at `seq` of `stream` (keys of its context)."""
        if not self.signatures:
            return None
        if envelope.signer is None or envelope.signature is None:
            return f"{UNSIGNED}: no service signature, not appended by the stream's service"
        context = _CONTEXT_OF_STREAM.get(stream, envelope.context)
        bounds = self.keys.get(context, {})
        if envelope.signer not in bounds:
            return f"{UNTRUSTED}: {envelope.signer} is not a key trusted for {context}"
        last = bounds[envelope.signer]
        if last is not None and seq > last:
            return f"{UNTRUSTED}: {envelope.signer} was retired after {stream} seq {last}"
        return None

    def refusal(
        self, data: bytes, stream: str, seq: int
    ) -> tuple[EventEnvelope | None, str | None]:
        envelope, problem = self.content(data)
        if envelope is not None and problem is None:
            problem = self.signer_problem(envelope, stream, seq)
        return envelope, problem

    def placed_refusal(
        self, subject: str, data: bytes, stream: str, seq: int
    ) -> tuple[EventEnvelope | None, str | None]:
        """`refusal`, and whether the bytes were stored on their own subject (the verdicts
        are cached per bytes; the same bytes may lie on another subject)."""
        envelope, problem = self.refusal(data, stream, seq)
        if envelope is not None and problem is None:
            problem = misplaced(envelope, subject)
        return envelope, problem

    def stored_problem(self, event: StoredEvent) -> str | None:
        """For an already decoded event (an aggregate load): the same checks."""
        if event.refused is not None:
            return event.refused
        envelope = event.envelope
        return (
            self.content(envelope.model_dump_json().encode())[1]
            or self.signer_problem(envelope, event.stream, event.seq)
            or misplaced(envelope, event.subject)
        )


_VERDICTS_MAX = 20_000
_default = Trust()  # the process's (a container's), unless a connection has its own
_installed = False  # whether `_default` was installed (a container) or is the default
_by_connection: weakref.WeakKeyDictionary[object, Trust] = weakref.WeakKeyDictionary()


def configured(data: Path | None = None, environ: Mapping[str, str] | None = None) -> Trust:
    """The keys `audit verify` trusts: `<data>/keys`, `GT_SIGNING_PUBLIC_KEYS`."""
    env = os.environ if environ is None else environ
    verify = _flag(env, VERIFY_ENV, default=True)
    every = _flag(env, VERIFY_EVERY_ENV, default=False)
    return Trust.of(trusted_keys(data, env), verify, every)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """A boolean setting; empty (an env file's `NAME=`, a `${NAME:-}`) is its default, so a
    blank line never turns the signature check off. Anything else but a boolean is refused,
    naming the variable (correct17: `perhaps`, `ture` were taken as true without a word)."""
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _TRUE + _FALSE:
        raise BadSetting(
            f"{name}: {env[name]!r} is not a boolean: true or false (1/0, yes/no, on/off)"
        )
    return value in _TRUE


def install(trust: Trust, *connections: object) -> Trust:
    """The trust the readers on `connections` (NATS clients; none: every reader of this
    process without one of its own) apply from now on (`bootstrap.parts`)."""
    global _default, _installed
    if connections:
        for nc in connections:
            _by_connection[nc] = trust
    else:
        _default, _installed = trust, True
    if not trust.signatures:
        log.warning(
            "readers do not check signatures (%s)",
            "turned off" if not trust.verify_signatures else "no trusted public keys",
        )
    return trust


def duplicates_of(nc: object | None) -> Duplicates | None:
    """The duplicates verdicts shared by the readers on `nc` once a trust was installed for
    them (or for the process); None before (a test's connection: each runner keeps its own,
    so tests reusing aggregate ids on one server never see each other's)."""
    trust = _by_connection.get(nc) if nc is not None else None
    if trust is None and _installed:
        trust = _default
    return trust.duplicates if trust is not None else None


def trust_of(nc: object | None) -> Trust:
    """The trust of the readers on NATS client `nc` (None: the process's)."""
    if nc is None:
        return _default
    return _by_connection.get(nc, _default)


def _placeholder(subject: str, stream: str) -> EventEnvelope:
    """An envelope naming where undecodable bytes were stored (for parking and reports)."""
    try:
        context, aggregate_type, aggregate_id, event_type = parse_event_subject(subject)
    except ValueError:
        context, aggregate_type, aggregate_id, event_type = stream.lower(), "?", "?", "?"
    # Never validated: the fields a parked row names, the rest absent.
    return EventEnvelope.model_construct(  # type: ignore[call-arg]
        event_id="?",
        event_type=event_type,
        context=context,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload={},
    )


def read_event(
    trust: Trust, subject: str, stream: str, seq: int, data: bytes, traceparent: str | None = None
) -> StoredEvent:
    """The `StoredEvent` of a delivered message, never raising: what a reader may not take
    as fact comes with `refused` set (and, undecodable, a placeholder envelope)."""
    envelope, problem = trust.placed_refusal(subject, data, stream, seq)
    if envelope is None:
        envelope = _placeholder(subject, stream)
    return StoredEvent(envelope, stream, seq, subject, traceparent, refused=problem)


LossCheck = Callable[[str, str, int], None]  # (stream, aggregate, its last seq): raises
_loss_checks: weakref.WeakKeyDictionary[object, LossCheck] = weakref.WeakKeyDictionary()


def register_loss_check(nc: object, check: LossCheck) -> None:
    """The refusal of a history whose last event its stream may have lost, for the commands
    on connection `nc` (`eventstore.losses.Losses.of`)."""
    _loss_checks[nc] = check


def refuse_untrusted(events: Iterable[StoredEvent], after: int = 0, *, nc: object = None) -> None:
    """Raise `UntrustedHistory` naming the first event of an aggregate's history (as loaded,
    or its events after version `after`) no reader may take as fact, a version it repeats,
    or one it skips (an event lost from the stream: deciding on would write a second event
    of a version the audit still holds; correct23), its first version lost (a history as
    loaded begins at version 1), or a history whose last event lies at or before a message
    its stream lost (`eventstore.losses`: that message may have been its last event)."""
    trust = trust_of(nc)
    last = after
    known = True  # the version before the first is known: 0 for a whole history
    seen: StoredEvent | None = None
    for event in events:
        seen = event
        problem = trust.stored_problem(event)
        version = event.envelope.aggregate_version
        if problem is None and version <= last:
            problem = f"{DUPLICATE}: version {version} follows version {last}"
        elif problem is None and known and version != last + 1:
            problem = (
                f"{MISSING}: version {version} follows version {last}"
                if last
                else f"{MISSING}: its history begins at version {version}, not 1"
            )
        if problem is not None:
            e = event.envelope
            raise UntrustedHistory(
                f"{e.aggregate_type}/{e.aggregate_id}: its history holds {event.stream} seq"
                f" {event.seq} ({e.event_type} {e.event_id}), {problem}; nothing is decided on"
                " it until an operator removes or re-signs it (`audit verify` lists it)"
            )
        last = version
    if seen is not None and nc is not None:
        check = _loss_checks.get(nc)
        if check is not None:
            e = seen.envelope
            check(seen.stream, f"{e.aggregate_type}/{e.aggregate_id}", seen.seq)


Delivered = tuple[str, int, bytes, str | None]  # subject, stream sequence, data, traceparent


def read_range(trust: Trust, stream: str, delivered: Sequence[Delivered]) -> list[StoredEvent]:
    """`read_event` of every message of a catch-up range (in stream order), with one ed25519
    verify per hash chain rather than per event (docs/security.md, "Signed chains").

    An event's signature signs its hash, which covers its `prev_hash`: a verified signature,
    by a key its context trusts at that sequence, on an event whose hash matches its content
    vouches for the exact content of the event of that hash, and so on down the chain, as far
    as each hash recomputes and links. The service that signed had checked that history
    before appending on it (the command side refuses to decide on an untrusted one), so those
    earlier events need no verify of their own. Walking the range backwards, an event whose
    hash a later accepted event of the range names as its `prev_hash` is accepted without a
    verify; any other is verified on its own (the last of each chain in the range, and every
    event after a missing or broken link). Every event is still decoded, its hash recomputed
    and its signer checked (`signer_problem`: trusted for the stream's context, not past a
    retirement); a refused event vouches for nothing. A vouched event's own signature is not
    looked at: one replaced by garbage after the fact is accepted here (its content is what
    the service signed on), and `audit verify` still names it (`bad-signature`).
    `Trust.verify_every_signature` verifies each event on its own instead.

    Verdicts of events verified on their own are cached as `read_event`'s are; a vouched
    event's is not (a later reader of those bytes alone verifies them)."""
    count = len(delivered)
    envelopes: list[EventEnvelope | None] = [None] * count
    problems: list[str | None] = [None] * count
    vouched: set[str] = set()
    chains = trust.signatures and not trust.verify_every_signature
    verdicts = trust._verdicts
    for i in range(count - 1, -1, -1):
        _subject, seq, data, _traceparent = delivered[i]
        cached = verdicts.get(data)
        if cached is None:
            envelope, problem = trust._intact(data)
            signature: bool | None = None  # not verified yet
        else:
            envelope, problem = cached
            signature = problem is None
            if problem == BAD_SIGNATURE:  # the content is intact: vouching may still hold
                problem = None
        envelopes[i] = envelope
        if envelope is None or problem is not None:
            if cached is None:
                trust._remember(data, (envelope, problem))
            problems[i] = problem
            continue
        if chains and envelope.hash in vouched and signature is False:
            # Known to carry a signature that does not hold (a live reader refused it): its
            # content is vouched for, but say so, as the two readers now differ on it.
            log.warning(
                "%s seq %s (%s): its own signature does not hold; accepted as vouched for by"
                " a later signed event of its chain (`audit verify` reports it)",
                stream,
                seq,
                envelope.event_id,
            )
        if not (chains and envelope.hash in vouched):
            # As `read_event` judges it: the signature first, then who signed.
            if signature is None:
                signature = trust._signature_holds(envelope)
                trust._remember(data, (envelope, None if signature else BAD_SIGNATURE))
            if not signature:
                problems[i] = BAD_SIGNATURE
                continue
        problem = problems[i] = trust.signer_problem(envelope, stream, seq) or misplaced(
            envelope, delivered[i][0]
        )
        if problem is None and envelope.prev_hash is not None:
            vouched.add(envelope.prev_hash)
    events = []
    for (subject, seq, _data, traceparent), envelope, problem in zip(
        delivered, envelopes, problems, strict=True
    ):
        if envelope is None:
            envelope = _placeholder(subject, stream)
        events.append(StoredEvent(envelope, stream, seq, subject, traceparent, refused=problem))
    return events
