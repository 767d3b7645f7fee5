"""The enrolment service's command routes and deciders, wired explicitly."""

from __future__ import annotations

from typing import Any

from contracts_schema.enrolment.commands import (
    AwardCallOff,
    CloseEnrolmentWindow,
    EnrolParticipant,
    ExtendEnrolmentWindow,
    MergeMunicipality,
    OpenEnrolmentWindow,
    RegisterOrganisation,
    RenameOrganisation,
    StartMiniCompetition,
    WithdrawParticipant,
)
from contracts_schema.enrolment.state import OrganisationState
from contracts_schema.enrolment.state import call_off as call_off_state
from contracts_schema.enrolment.state import enrolment_window as window_state
from contracts_schema.enrolment.state import organisation as organisation_state
from contracts_schema.references import checking_organisations
from contracts_schema.subjects import ENROLMENT
from enrolment.domain import call_off, enrolment_window, organisation
from enrolment.domain.call_off import CallOffFacts
from enrolment.domain.codes import acting_successor, predecessors_of
from enrolment.domain.enrolment_window import EnrolFacts, OpenFacts
from enrolment.facts import Facts
from eventstore.commands import CommandRoute, Decider
from eventstore.folded import valid_day, with_organisations

# The state before an aggregate's first event; decisions take the id from the command.
ORGANISATION = Decider(
    ENROLMENT, "organisation", organisation_state.initial(""), organisation_state.evolve
)
WINDOW = Decider(ENROLMENT, "enrolment_window", window_state.initial(""), window_state.evolve)
CALL_OFF = Decider(ENROLMENT, "call_off", call_off_state.initial(""), call_off_state.evolve)


def build_routes(facts: Facts) -> list[CommandRoute[Any, Any]]:
    store = facts.store

    # Each reads the other aggregates as they were on the command's day (`valid_day`):
    # a fact is decided by the world of its day, as every view shows that day.
    async def merge_facts(c: MergeMunicipality) -> OrganisationState:
        return await facts.organisation(c.successor_code)

    async def open_facts(c: OpenEnrolmentWindow) -> OpenFacts:
        day, previous = valid_day(c), c.previous_round_tender_id
        return OpenFacts(
            await facts.tender(c.tender_id, day),
            await facts.window(previous, day) if previous else None,
        )

    async def enrol_facts(c: EnrolParticipant) -> EnrolFacts:
        day = valid_day(c)
        previous = (await facts.window(c.tender_id)).previous_round_tender_id
        return EnrolFacts(
            await facts.organisation(c.organisation_code),
            await facts.window(previous, day) if previous else None,
            predecessors_of(c.organisation_code, await facts.successors(day)),
        )

    async def call_off_facts(c: StartMiniCompetition | AwardCallOff) -> CallOffFacts:
        day = valid_day(c)
        framework = await facts.framework(c.framework_contract_id, day)
        window = (
            await facts.window(framework.tender_id, day)
            if framework and framework.tender_id
            else window_state.initial(c.framework_contract_id)
        )
        successors = await facts.successors(day)
        return CallOffFacts(
            framework,
            window.frozen_on,
            window.enrolled if window.frozen_on else {},
            predecessors_of(c.participant_code, successors),
            # Through a chain of mergers in effect that day: the municipality acting then.
            acting_successor(c.participant_code, successors),
            contract_id_taken=await facts.contract_signed(c.call_off_id),
        )

    return [
        CommandRoute(
            RegisterOrganisation,
            ORGANISATION,
            lambda c: c.code,
            lambda s, c, ctx: organisation.register(s, c, ctx.valid_on),
        ),
        CommandRoute(
            RenameOrganisation,
            ORGANISATION,
            lambda c: c.code,
            lambda s, c, ctx: organisation.rename(s, c, ctx.valid_on),
        ),
        CommandRoute(
            MergeMunicipality,
            ORGANISATION,
            lambda c: c.code,
            lambda s, c, ctx: organisation.merge(s, c, ctx.facts, ctx.valid_on),
            merge_facts,
        ),
        CommandRoute(
            OpenEnrolmentWindow,
            WINDOW,
            lambda c: c.tender_id,
            lambda s, c, ctx: enrolment_window.open_window(s, c, ctx.facts),
            open_facts,
        ),
        CommandRoute(
            ExtendEnrolmentWindow,
            WINDOW,
            lambda c: c.tender_id,
            lambda s, c, _: enrolment_window.extend(s, c),
        ),
        CommandRoute(
            EnrolParticipant,
            WINDOW,
            lambda c: c.tender_id,
            checking_organisations(
                lambda s, c, ctx: enrolment_window.enrol(s, c, ctx.valid_on, ctx.facts)
            ),
            with_organisations(store, enrol_facts),
        ),
        CommandRoute(
            WithdrawParticipant,
            WINDOW,
            lambda c: c.tender_id,
            lambda s, c, ctx: enrolment_window.withdraw(s, c, ctx.valid_on),
        ),
        CommandRoute(
            CloseEnrolmentWindow,
            WINDOW,
            lambda c: c.tender_id,
            lambda s, c, ctx: enrolment_window.close(s, c, ctx.valid_on),
        ),
        CommandRoute(
            StartMiniCompetition,
            CALL_OFF,
            lambda c: c.call_off_id,
            checking_organisations(
                lambda s, c, ctx: call_off.start_mini_competition(s, c, ctx.facts, ctx.valid_on)
            ),
            with_organisations(store, call_off_facts),
        ),
        CommandRoute(
            AwardCallOff,
            CALL_OFF,
            lambda c: c.call_off_id,
            checking_organisations(lambda s, c, ctx: call_off.award(s, c, ctx.facts, ctx.valid_on)),
            with_organisations(store, call_off_facts),
        ),
    ]
