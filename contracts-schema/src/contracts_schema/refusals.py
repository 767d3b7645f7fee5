"""Every code a command can be refused with: the rule, its legal source, an example.

One catalogue for clients, documentation and the GraphQL schema: `make schema` writes it to
docs/refusal-codes.md and the gateway exposes it as the `RefusalCode` enum. A unit test scans
the services for each `RuleViolation("CODE", ...)` and `CommandRejected(code="CODE")` and
fails when a code is missing here (or listed here but raised nowhere).

Legal sources: Aw 2012 = Aanbestedingswet 2012; Dir. = Directive 2014/24/EU; Remedies =
Directive 89/665/EEC as amended by 2007/66/EC. "System" marks a rule of this registry (data
integrity, the command protocol), not of procurement law.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    code: str
    rule: str
    source: str
    example: str


SYSTEM = "System"
AW_STANDSTILL = "Aw 2012 art. 2.127; Remedies art. 2a"
AW_FRAMEWORK = "Dir. art. 33 (framework agreements)"
CALL_OFF_PARTIES = "Dir. art. 33(2); Aw 2012 art. 2.141"
JOINT = "Dir. art. 38 (occasional joint procurement); BW 3:60 (volmacht)"
REFERENCE = "Reference data: KvK (Handelsregisterwet 2007), OIN (Logius), CBS municipality codes"

# fmt: off
_CATALOGUE: tuple[Refusal, ...] = (
    # --- the command protocol ---------------------------------------------------------
    Refusal("MALFORMED_COMMAND", "A command request must be a well-formed envelope whose type"
            " matches its subject.", SYSTEM, "A request on registry.commands.PlanTender that"
            " says command_type SignContract."),
    Refusal("UNKNOWN_COMMAND", "A service handles only its own command types.", SYSTEM,
            "AwardCallOff sent to the registry instead of enrolment."),
    Refusal("INVALID_COMMAND", "A command must satisfy its contract: required fields, formats"
            " and input bounds (names <= 300 characters without control characters, amounts"
            " 0..10^12 EUR, dates 1990-01-01..2100-12-31, <= 200 lots).", SYSTEM,
            "PlanTender with a title of 900 KB, or a valueEur of 1e308."),
    Refusal("COMMAND_ID_REUSED", "A command id names one command, across all contexts; a"
            " retry resends the same command.", SYSTEM,
            "Id c-17 used for PlanTender, then for EnrolParticipant."),
    Refusal("CONCURRENCY_CONFLICT", "The aggregate kept changing while the command was"
            " decided; retry with the same id.", SYSTEM,
            "Eight concurrent awards on one lot."),
    Refusal("APPEND_FAILED", "The event store refused the write (no stream, storage full).",
            SYSTEM, "The REGISTRY stream is missing."),
    Refusal("UNTRUSTED_HISTORY", "The aggregate's stored history holds an event its"
            " service did not append (unsigned, altered, signed by an untrusted key, a"
            " duplicate, undecodable), or cannot be shown whole (a version missing; the stream"
            " lost messages at or after its last event): nothing is decided on it until an"
            " operator removes the event, restores the stream or acknowledges the loss"
            " (README, \"A stream that lost messages\").",
            SYSTEM, "An unsigned event published with a service's NATS login."),
    Refusal("INTERNAL_ERROR", "A defect in the service; nothing was recorded.", SYSTEM,
            "An unexpected exception while deciding."),
    Refusal("UNAVAILABLE", "A transient condition (a stream leader being elected, a broker"
            " timeout): nothing or all of the command was recorded; send the same command again"
            " (same id) after the retry-after in the message. The gateway does so itself for"
            " GT_COMMAND_RETRY_SECONDS.", SYSTEM, "The REGISTRY stream's leader is being elected."),
    Refusal("COMMAND_TOO_LARGE", "A command larger than the broker carries in one message"
            " (gateway); nothing was sent.", SYSTEM, "A tender with a megabyte of lot titles."),
    Refusal("SERVICE_UNAVAILABLE", "No service answers the command's subject (gateway).",
            SYSTEM, "The enrolment service is down."),
    Refusal("SERVICE_TIMEOUT", "The service did not answer in time; the command may still"
            " land: retry with the same id (gateway).", SYSTEM, "A slow JetStream append."),
    Refusal("VALID_TIME_IN_FUTURE", "A fact is recorded once it happened: occurredAt may lie"
            " at most the configured tolerance (default 5 minutes) after now. Dates that are"
            " by nature in the future (end dates, deadlines) are not valid times.", SYSTEM,
            "ExpireContract with occurredAt 2027-02-14, recorded in 2026."),
    Refusal("MUNICIPALITY_LOAD_INCOMPLETE", "Loading the CBS list stopped part way; loading"
            " again continues where it stopped.", REFERENCE, "A conflict on one municipality."),
    Refusal("MALFORMED_MUNICIPALITY_LIST", "The CBS list needs the header"
            " cbs_code,name,province and one valid row per municipality.", REFERENCE,
            "A CSV without the province column."),
    # --- organisations -------------------------------------------------------------------
    Refusal("ORGANISATION_UNKNOWN", "Every organisation a command names (authority, buyer,"
            " supplier, participant, paying agent, transferee) must be registered first.",
            REFERENCE, "PlanTender with contracting authority KVK-00000000 or GM9999."),
    Refusal("INVALID_ORGANISATION_CODE", "An organisation code is a CBS code GM####, a KvK"
            " number KVK-######## or an OIN OIN-<20 digits>.", REFERENCE,
            "RegisterOrganisation with code ACME."),
    Refusal("ORGANISATION_KIND_MISMATCH", "CBS codes belong to municipalities and only to"
            " them.", REFERENCE, "GM0363 registered as a supplier."),
    Refusal("ORGANISATION_ALREADY_REGISTERED", "A code is registered once; a new name is a"
            " rename.", REFERENCE, "KPN registered again under another name."),
    Refusal("ORGANISATION_MERGED", "A merged municipality no longer acts from the day its"
            " merger took effect; its successor does. A fact dated before that day (recorded"
            " late) is still its own.", "Wet arhi (gemeentelijke herindeling)", "A call-off by"
            " GM0175 after Ommen merged into Hardenberg; a contract transferred to Weesp after"
            " 24 March 2022."),
    Refusal("ORGANISATION_NOT_YET_REGISTERED", "Nothing about an organisation is true before it"
            " is registered (valid time): every view folds it in that order. Date a registration"
            " back by sending it again with the same details and an earlier occurredAt.",
            SYSTEM, "MergeMunicipality dated 2020-03-01 for a municipality loaded from the CBS"
            " list with occurredAt 2020-03-10."),
    Refusal("RENAME_OUT_OF_ORDER", "Names follow each other in valid time: a rename is dated"
            " on or after the current name took effect.", SYSTEM, "A rename dated 2019 of a"
            " body renamed in 2021."),
    Refusal("NOT_A_MUNICIPALITY", "Only municipalities merge.", "Wet arhi",
            "MergeMunicipality for a province."),
    Refusal("MERGE_INTO_ITSELF", "A municipality merges into another.", "Wet arhi",
            "GM0363 merged into GM0363."),
    Refusal("SUCCESSOR_NOT_A_MUNICIPALITY", "The continuing municipality must be a registered"
            " municipality.", "Wet arhi", "A merger into an unregistered GM1999."),
    Refusal("SUCCESSOR_MERGED", "The successor must itself still exist.", "Wet arhi",
            "A merger into a municipality that merged earlier."),
    # --- programmes and tenders ----------------------------------------------------------
    Refusal("PROGRAMME_ALREADY_PLANNED", "A programme id names one programme.", SYSTEM,
            "PlanProgramme OT2010 twice with different names."),
    Refusal("PROGRAMME_NOT_FOUND", "A programme is planned before it is linked or a tender"
            " is planned under it.", SYSTEM, "LinkSuccessorProgramme from an unknown programme;"
            " PlanTender under programme 'OT2O10' (a typo)."),
    Refusal("PROGRAMME_NOT_YET_PLANNED", "Nothing about a programme is true before it was"
            " planned (valid time).", SYSTEM, "A successor link dated before the programme's"
            " planning."),
    Refusal("SELF_SUCCESSION", "A programme is succeeded by another programme.", SYSTEM,
            "OT2010 named as its own successor."),
    Refusal("SUCCESSOR_PROGRAMME_NOT_FOUND", "A successor link names a programme already"
            " planned.", SYSTEM, "LinkSuccessorProgramme OT2010 -> 'OT2O17' (a typo)."),
    Refusal("SUCCESSOR_TENDER_NOT_FOUND", "A successor link names a tender already planned.",
            SYSTEM, "LinkSuccessorTender naming a tender id never planned."),
    Refusal("SUCCESSOR_ALREADY_LINKED", "A succession is recorded once.", SYSTEM,
            "OT2010 -> OT2017 linked twice."),
    Refusal("TENDER_ALREADY_PLANNED", "A tender id names one tender.", SYSTEM,
            "PlanTender OT2010 twice with different lots."),
    Refusal("TENDER_NOT_FOUND", "Facts about a tender (and a contract from it) need the"
            " tender planned.", SYSTEM, "RecordBids on an unplanned tender."),
    Refusal("TENDER_NOT_YET_PLANNED", "Nothing about a tender is true before it was planned"
            " (valid time): every view folds it in that order.", SYSTEM, "A prior information"
            " notice dated 2020-03-01 on a tender planned with occurredAt 2020-03-10."),
    Refusal("TRANSITION_NOT_ALLOWED", "A tender or lot moves only along its procedure"
            " (planned, published, paused, awarded, cancelled).",
            "Aw 2012 chapter 2.3 (procedures)", "PauseTender on a cancelled tender."),
    Refusal("LATER_FACT_NO_LONGER_APPLIES", "A fact learned late is decided on its aggregate"
            " as it was on its day, and every fact dated after it must still apply on top of it"
            " (every view folds facts by valid time): the message names the later fact.",
            SYSTEM, "A tender cancelled with occurredAt 2020-02-01 when bids on one of its lots"
            " were recorded for 2020-03-01."),
    Refusal("DATE_OUT_OF_ORDER", "Facts of one procedure follow each other in time.", SYSTEM,
            "A contract amended before it was signed."),
    Refusal("INVALID_PERIOD", "A period starts before it ends and ends no later than its"
            " maximum extent.", SYSTEM, "A contract from 2020-01-01 to 2019-12-31."),
    Refusal("PARTICIPANT_LIST_NOT_FROZEN", "A joint tender is published only after the"
            " participants (contracting authorities) are fixed: Dir. art. 33(2) lets only"
            " parties identified at the start call off.", CALL_OFF_PARTIES,
            "PublishTender before the enrolment window closed."),
    Refusal("UNKNOWN_LOT", "A lot command names a lot of the tender.", "Dir. art. 46; Aw 2012"
            " art. 1.5", "DecideProvisionalAward on lot 9 of a two-lot tender."),
    Refusal("LOT_CANCELLED", "A cancelled lot takes no further award steps.",
            "Dir. art. 55(1)", "Signing a contract for a cancelled lot."),
    Refusal("SUPPLIER_DID_NOT_BID", "A lot is awarded only to tenderers that bid on it.",
            "Dir. art. 56; Aw 2012 art. 2.130", "Awarding KPN a lot it did not bid on."),
    Refusal("STANDSTILL_NOT_ENDED", "The award becomes definitive and the contract is signed"
            " only after the standstill period (20 calendar days after the award decision).",
            AW_STANDSTILL, "MakeAwardDefinitive 10 days after the decision."),
    Refusal("STANDSTILL_TOO_SHORT", "A published award decision gives a standstill period of"
            " at least 20 calendar days (a finding on imported data).", AW_STANDSTILL,
            "An imported award whose standstill ends 10 days after the decision."),
    Refusal("REVIEW_PENDING", "No definitive award or contract while review proceedings on"
            " the lot's award are pending.", "Remedies art. 2(3); Aw 2012 art. 2.127",
            "SignContract while a kort geding runs."),
    Refusal("AWARD_NOT_DEFINITIVE", "A contract is signed only after the award is"
            " definitive.", AW_STANDSTILL, "SignContract on a provisionally awarded lot."),
    Refusal("SUPPLIER_NOT_AWARDED", "A contract from a tender is signed only with the"
            " suppliers awarded the lot (after a revision: the new ones).",
            "Dir. art. 18(1) (equal treatment)", "Signing with the supplier a revised award"
            " superseded."),
    Refusal("LOTS_REQUIRED", "A contract from a tender says which awarded lots it covers.",
            SYSTEM, "SignContract with tender OT2010 and no lotIds."),
    # --- contracts -----------------------------------------------------------------------
    Refusal("CONTRACT_ALREADY_SIGNED", "A contract id names one contract.", SYSTEM,
            "SignContract twice for gt-mc1-framework."),
    Refusal("CONTRACT_NOT_FOUND", "A contract is signed before it changes.", SYSTEM,
            "ExtendContract on an unknown contract."),
    Refusal("CALL_OFF_NOT_TRANSFERABLE", "A call-off stays with the participant that"
            " concluded it; the framework's contracting authority changes by transferring the"
            " framework.", CALL_OFF_PARTIES, "TransferContract naming a call-off's id."),
    Refusal("CALL_OFF_NOT_CHANGEABLE", "A call-off is recorded by its participant with"
            " awardCallOff and keeps the term it was awarded with; the registry amends,"
            " extends and terminates only the contracts signed through it.", CALL_OFF_PARTIES,
            "AmendContract, ExtendContract or TerminateContract naming a call-off's id."),
    Refusal("CONTRACT_ENDED", "An expired or terminated contract does not change.",
            "Dir. art. 72; Aw 2012 art. 2.163a", "Amending a contract terminated last year."),
    Refusal("CONTRACT_NOT_YET_ENDED", "A contract expires only after its last day.", SYSTEM,
            "ExpireContract a year before its end date."),
    Refusal("EXTENSION_NOT_LATER", "An extension moves the last day later.", SYSTEM,
            "ExtendContract to a day before the current end."),
    Refusal("EXTENSION_PAST_MAX_EXTENT", "Options reach no further than the maximum extent"
            " agreed at the award; more is a new award.", "Dir. art. 72(1)(a); Aw 2012 art."
            " 2.163b", "Extending to 2026 a contract whose options end in 2024."),
    Refusal("SAME_AUTHORITY", "A transfer goes to another contracting authority.", SYSTEM,
            "TransferContract to the current authority."),
    Refusal("FRAMEWORK_RATIONALE_REQUIRED", "A framework runs at most 4 years unless duly"
            " justified.", "Dir. art. 33(1); Aw 2012 art. 2.140", "A 6-year framework without"
            " durationRationale."),
    Refusal("FRAMEWORK_NOT_FOUND", "A call-off is concluded under a signed framework"
            " agreement.", AW_FRAMEWORK, "A call-off naming an unknown framework."),
    Refusal("CALL_OFF_REQUIRES_AWARD_CALL_OFF", "A call-off is concluded with one command,"
            " awardCallOff, which applies all call-off rules; signContract does not sign"
            " call-offs.", CALL_OFF_PARTIES, "signContract(kind: call_off) by a municipality"
            " that never enrolled."),
    Refusal("CONTRACTING_AUTHORITY_UNIDENTIFIED", "Organisations are identified by a stable"
            " code (KvK, OIN, CBS code); a finding on imported data only: the release is"
            " recorded with a code derived from the published name.", SYSTEM, "An OCDS"
            " release whose buyer has a name and no identifier."),
    Refusal("SUPPLIER_UNIDENTIFIED", "Organisations are identified by a stable code (KvK,"
            " OIN, org-id.guide); a finding on imported data only: the supplier is recorded"
            " with a code derived from its published name within its publisher's scope.",
            SYSTEM, "An OCDS award whose supplier has a name and no identifier, or only a"
            " local one (RFC, NIT)."),
    Refusal("IMPORT_NOT_APPLICABLE", "Imported facts (RecordImported...Release) must be"
            " registry events of the aggregate they are sent to, and apply to its history"
            " as recorded.", SYSTEM, "An imported award for a lot the tender does not have."),
    Refusal("CONTRACT_ID_TAKEN", "Contracts and call-offs share one id space.", SYSTEM,
            "A call-off with the id of a signed framework."),
    # --- enrolment (joint procurement) ---------------------------------------------------
    Refusal("TENDER_NOT_PLANNED", "An enrolment window belongs to a planned tender.", JOINT,
            "OpenEnrolmentWindow for an unknown tender."),
    Refusal("TENDER_ALREADY_PUBLISHED", "Participants are fixed before publication.",
            CALL_OFF_PARTIES, "Opening enrolment after the tender was published."),
    Refusal("ENROLMENT_WINDOW_ALREADY_OPENED", "A tender has one enrolment window.", JOINT,
            "OpenEnrolmentWindow twice with other dates."),
    Refusal("ENROLMENT_WINDOW_NOT_OPENED", "Enrolment needs an open window.", JOINT,
            "EnrolParticipant before the window was opened."),
    Refusal("INVALID_ENROLMENT_PERIOD", "An enrolment window opens before it closes; an"
            " extension closes later.", JOINT, "A window from 1 May to 1 April."),
    Refusal("LOT_NOT_IN_TENDER", "A window offers lots of its tender.", JOINT,
            "A window for lot 'fiber' of a tender without it."),
    Refusal("PREVIOUS_ROUND_UNKNOWN", "A second round names a first round that exists.",
            JOINT, "previousRoundTenderId of an unknown tender."),
    Refusal("PREVIOUS_ROUND_NOT_CLOSED", "A second round follows a closed first round.",
            JOINT, "Round two while round one still enrols."),
    Refusal("ALREADY_PARTICIPANT_IN_PREVIOUS_ROUND", "A body enrolled in round one does not"
            " enrol again in round two for the same lot.", JOINT,
            "Amsterdam enrolling in both rounds for Mobiel."),
    Refusal("ENROLMENT_CLOSED", "The participant list is frozen; enrolment is over.",
            CALL_OFF_PARTIES, "EnrolParticipant after CloseEnrolmentWindow."),
    Refusal("ENROLMENT_ALREADY_CLOSED", "A window is closed once.", JOINT,
            "CloseEnrolmentWindow twice on other days."),
    Refusal("ENROLMENT_NOT_YET_OPEN", "Enrolment starts on the window's first day.", JOINT,
            "Enrolling on 1 January for a window opening 1 February."),
    Refusal("ENROLMENT_DEADLINE_PASSED", "Enrolment ends on the window's last day.", JOINT,
            "Enrolling a day after the window closed."),
    Refusal("SUPPLIER_CANNOT_ENROL", "Participants are contracting authorities, not"
            " suppliers.", "Dir. art. 2(1)(1); Aw 2012 art. 1.1", "KPN enrolling as a"
            " participant."),
    Refusal("LOT_NOT_IN_WINDOW", "A body enrols for lots the window offers.", JOINT,
            "Enrolling for a lot left out of the window."),
    Refusal("NOT_ENROLLED", "Only an enrolled body withdraws.", JOINT,
            "WithdrawParticipant for a body that never enrolled."),
    Refusal("WITHDRAWAL_BEFORE_ENROLMENT", "A withdrawal follows the enrolment in time.",
            JOINT, "Withdrawn on 1 March, enrolled on 5 March."),
    Refusal("NO_PARTICIPANTS", "A joint tender freezes a list with at least one"
            " participant.", JOINT, "CloseEnrolmentWindow with nobody enrolled."),
    # --- call-offs -----------------------------------------------------------------------
    Refusal("NOT_A_FRAMEWORK", "Call-offs are concluded under a framework agreement, not"
            " under another kind of contract.", AW_FRAMEWORK,
            "A call-off under a single-supplier contract."),
    Refusal("LOT_NOT_IN_FRAMEWORK", "A call-off names a lot the framework covers.",
            AW_FRAMEWORK, "A call-off on lot 'fixed' of a Mobiel-only framework."),
    Refusal("FRAMEWORK_NOT_STARTED", "A call-off is concluded once the framework runs.",
            AW_FRAMEWORK, "A call-off a month before the framework's start date."),
    Refusal("FRAMEWORK_ENDED", "A call-off is concluded while the framework runs (the"
            " call-off's own end may lie beyond it).", AW_FRAMEWORK,
            "A call-off dated after the framework's last day."),
    Refusal("FRAMEWORK_TERMINATED", "No call-offs under a terminated framework.",
            AW_FRAMEWORK, "A call-off after the framework was terminated early."),
    Refusal("NOT_A_PARTICIPANT", "Only a participant on the frozen list of that lot calls"
            " off.", CALL_OFF_PARTIES, "A call-off by a municipality that never enrolled."),
    Refusal("SUPPLIER_NOT_ON_FRAMEWORK_LOT", "A call-off goes to a supplier of the"
            " framework's lot.", CALL_OFF_PARTIES, "A Mobiel call-off awarded to a supplier"
            " of the Vast lot."),
    Refusal("CALL_OFF_ALREADY_STARTED", "A call-off has one mini-competition.",
            "Dir. art. 33(5)", "StartMiniCompetition twice for one call-off."),
    Refusal("CALL_OFF_ALREADY_AWARDED", "A call-off is awarded once.", AW_FRAMEWORK,
            "AwardCallOff twice to different suppliers."),
    Refusal("MINI_COMPETITION_HELD", "After a mini-competition the call-off is awarded by"
            " it, not directly.", "Dir. art. 33(4)", "A direct award"
            " after inviting four suppliers."),
    Refusal("MINI_COMPETITION_NOT_HELD", "An award by mini-competition needs the competition"
            " started first.", "Dir. art. 33(5)", "procedure mini_competition without"
            " StartMiniCompetition."),
    Refusal("MINI_COMPETITION_MISMATCH", "The award follows the competition that was held"
            " (same framework, lot and participant).", "Dir. art. 33(5)",
            "A mini-competition by Amsterdam, an award by Rotterdam."),
    Refusal("SUPPLIER_NOT_INVITED", "A mini-competition is won by an invited supplier.",
            "Dir. art. 33(5)(a)", "Awarding a supplier that was not invited."),
    Refusal("AWARD_BEFORE_MINI_COMPETITION", "The award follows the competition in time.",
            "Dir. art. 33(5)", "Awarded on 1 March, competition started on 5 March."),
    Refusal("INVALID_CALL_OFF_PERIOD", "A call-off starts before it ends.", SYSTEM,
            "A call-off from 2016-03-01 to 2016-02-01."),
    # --- notifier ------------------------------------------------------------------------
    Refusal("SUBSCRIPTION_EXISTS", "A webhook subscription id names one subscription.",
            SYSTEM, "Subscribing twice with other URLs."),
    Refusal("SUBSCRIPTION_UNKNOWN", "Only an existing subscription is changed or ended.",
            SYSTEM, "Unsubscribing an unknown id."),
    Refusal("SUBSCRIPTION_ENDED", "An ended subscription stays ended.", SYSTEM,
            "Changing a subscription after unsubscribing."),
    Refusal("SUBSCRIPTION_LIMIT", "One organisation holds at most 20 active webhook"
            " subscriptions.", SYSTEM, "A 21st SubscribeWebhook while 20 are active."),
    Refusal("UNKNOWN_EVENT_TYPE", "A subscription names integration event types that exist.",
            SYSTEM, "Subscribing to 'contract.exploded'."),
    # --- privacy (docs/privacy.md) -------------------------------------------------------
    Refusal("PERSON_ALREADY_ERASED", "A person is erased once; the first erasure stands.",
            "AVG (GDPR) art. 17", "Erasing the same pseudonym twice."),
    Refusal("PERSON_UNKNOWN", "Only a person the gateway knows by a pseudonym is erased.",
            "AVG (GDPR) art. 17", "Erasing a subject that never acted, or was erased."),
)
# fmt: on

REFUSALS: dict[str, Refusal] = {r.code: r for r in _CATALOGUE}
assert len(REFUSALS) == len(_CATALOGUE), "a refusal code is listed twice"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/refusal-codes.md: the catalogue as a table (generated; do not edit)."""
    lines = [
        "# Refusal codes",
        "",
        "<!-- Generated by `make schema` from contracts_schema/refusals.py; do not edit. -->",
        "",
        "Every code a command can be refused with (`DomainError.code` and `refusal` in",
        "GraphQL, `CommandRejected.code` on NATS). Aw 2012 = Aanbestedingswet 2012;",
        "Dir. = Directive 2014/24/EU; Remedies = Directive 89/665/EEC as amended by",
        "2007/66/EC; System = a rule of this registry, not of procurement law. Input that",
        "breaks a bound is refused before any rule (GraphQL `InvalidInput`, naming the",
        "field in camelCase and the bound; on NATS `INVALID_COMMAND`).",
        "",
        "| Code | Rule | Legal source | Example |",
        "| --- | --- | --- | --- |",
    ]
    for r in sorted(REFUSALS.values(), key=lambda r: r.code):
        lines.append(f"| `{r.code}` | {_cell(r.rule)} | {_cell(r.source)} | {_cell(r.example)} |")
    return "\n".join(lines) + "\n"
