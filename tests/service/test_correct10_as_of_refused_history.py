"""A decision dated in the past reads another aggregate as of its day, and a history the
present refuses (not foldable by valid time: `valid_order.NotInValidOrder`) decides nothing on
any day. Before: the as-of read folded only the facts valid by the day and answered from
them, so a call-off dated 2020 was awarded under a framework whose history every view parks
and every command on it is refused (UNTRUSTED_HISTORY)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.replies import CommandRejected
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from eventstore.records import CommandMetadata, NewEvent
from tests.service.bus import InProcessBus
from tests.service.story import call_off, framework_signed, on


async def a_second_signature_stored_between(store: InMemoryEventStore) -> None:
    """A second signature of the framework dated 2022-01-01, stored (without a decision, as
    releases before valid-order decisions did) after an amendment of 2022-06-01: by valid
    time it lands before the amendment, on a framework signed already."""
    head = await store.load(REGISTRY, "contract", "gt-connect-fw")
    again = ev.ContractSigned.model_validate(
        {**head.events[0].envelope.payload, "signed_on": "2022-01-01"}
    )
    new = NewEvent(again.event_type, again.schema_version, again.model_dump(mode="json"),
                   datetime(2022, 1, 1, 10, tzinfo=UTC))  # fmt: skip
    await store.append(head, [new], CommandMetadata("legacy", "legacy", "legacy"))


async def test_an_as_of_read_refuses_the_history_the_present_refuses(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await framework_signed(bus)
    amend = cmd.AmendContract(command_id="amend", contract_id="gt-connect-fw",
                              summary="Indexatie", occurred_at=on(date(2022, 6, 1)))  # fmt: skip
    await bus.accept(amend)
    await a_second_signature_stored_between(store)
    # The present refuses the framework's history: its owner decides nothing on it.
    again = await bus.send(amend.model_copy(update={"command_id": "amend-2"}))
    assert isinstance(again, CommandRejected), again
    assert again.code == "UNTRUSTED_HISTORY", again
    # Nor does a call-off dated before the facts the refusal is about decide on it.
    dated = await bus.send(call_off("co-2020", date(2020, 2, 1), occurred_at=on(date(2020, 2, 1))))
    assert isinstance(dated, CommandRejected), dated
    assert dated.code == "UNTRUSTED_HISTORY", dated
    assert "contract gt-connect-fw cannot be folded by valid time" in dated.message
    assert "already signed" in dated.message
