"""What a release states that no fact of the registry records (pure): such a release is
refused whole (import25), reported with the JSON path and reason as a release failing the
schema is (`Unrecordable`, an `Unmappable`), and none of its facts recorded; later releases
of the process are judged against what was recorded, without it. Found by import20 (then
imported anyway and reported `NOT_RECORDED`); split from importer_map by import24. Each
check reads only what the release itself states (`states`): a later run's compile holds only
that run's releases, so a field it lacks may be one an earlier run's release stated."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from audit.ocds.importer_ids import (
    Unmappable,
    authority_code,
    contract_id_of,
    day,
    ident,
    supplier_codes,
)
from contracts_schema.bounds import AMOUNT_MAX_EUR, FIRST_DAY, LAST_DAY, unsafe_character

if TYPE_CHECKING:
    from audit.ocds.importer_map import ProcessState


REFUSED = "NOT_RECORDABLE"  # the reason's code: a change no fact of the registry can carry


@dataclass(frozen=True)
class NotRecorded:
    """A field a release states that no fact records: its release is refused (import25)."""

    path: str  # inside the release
    reason: str


class Unrecordable(Unmappable):
    """A release carrying a change no registry event can carry, refused whole (import25):
    the first such field's path, and every one's reason."""

    def __init__(self, found: list[NotRecorded]) -> None:
        first, *more = found
        also = "".join(f"; and {n.path}: {n.reason}" for n in more)
        super().__init__(first.path, f"{REFUSED}: {first.reason}{also}; the release is not"
                         " recorded (none of its facts)")  # fmt: skip
        self.found = list(found)


def states(obj: Any, *keys: str) -> bool:
    """Whether a release itself (its own JSON, not the compile) states the field at `keys`,
    as `ocdsmerge` merges it: a key present counts, an explicit null too (it clears the
    field, a null on the way clears all under it); a missing key leaves it unchanged."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return False
        obj = obj[key]
        if obj is None:
            return True
    return True


def own_lots(own: Any) -> dict[str, dict[str, Any]]:
    """The lots a release itself states, by their registry id."""
    lots = own.get("lots") if isinstance(own, dict) else None
    return {ident(str(lot["id"])): lot for lot in lots or []
            if isinstance(lot, dict) and "id" in lot}  # fmt: skip


def note(path: str, reason: str) -> list[NotRecorded]:
    """A field the registry cannot record: its release is refused. Each release stating it
    again is refused again (import20 reported it once per value in a run and imported the
    release: no memory of it is kept now)."""
    return [NotRecorded(path, reason)]


def authority_changed(
    t: dict[str, Any], compiled: dict[str, Any], parties: dict[str, Any], s: ProcessState
) -> list[NotRecorded]:
    """A tender's contracting authority other than the one it was planned by: not recorded
    (the registry moves a contract to another authority, `ContractTransferred`, never a
    tender: its enrolment, participants and notifications are the authority's)."""
    ref = t.get("procuringEntity") or compiled.get("buyer")
    where = "tender.procuringEntity" if t.get("procuringEntity") else "buyer"
    try:
        code = authority_code(ref, parties, where) if ref else None
    except Unmappable:
        code = None
    if code == s.authority:
        return []
    return note(f"{where}.id", f"the contracting authority stated here ({code}) is"
                 f" not the one the tender was planned by ({s.authority}): the registry"
                 " records a tender's authority once")  # fmt: skip


_ENDED = ("cancelled", "unsuccessful", "withdrawn")


def tender_not_recorded(
    t: dict[str, Any], lots: list[tuple[str, dict[str, Any]]], s: ProcessState, own: Any
) -> list[NotRecorded]:
    """Statuses a release takes back, which no fact of the registry undoes: a cancelled
    tender or lot active again, an awarded lot cancelled (the law ends a lot's award by a
    contract, or a review; a published status does not). Each only
    when the release itself states it (`own`, its tender; import24): a field it leaves out is
    unchanged, whatever this run's compile (without an earlier run's releases) lacks."""
    found: list[NotRecorded] = []
    status = t.get("status")
    said = states(own, "status")
    if s.cancelled and said and status not in _ENDED:
        found += note("tender.status", f"the tender is {status} here, but was"
                       " cancelled: the registry records no tender taken back")  # fmt: skip
    ended = status in _ENDED or (s.cancelled and not said)
    stated_lots = own_lots(own)
    for i, (lid, lot) in enumerate(lots):
        mine = stated_lots.get(lid)
        # (A lot without a title is recorded, marked not stated: import30.)
        was, now = s.lots.get(lid), lot.get("status")
        path = f"tender.lots[{i}].status"
        if not states(mine, "status"):
            continue
        if was == "cancelled" and now != "cancelled" and not ended:
            found += note(path, f"lot {lid} is {now} here, but was cancelled: the"
                           " registry records no lot taken back")  # fmt: skip
        elif was == "awarded" and now == "cancelled":
            found += note(path, f"lot {lid} is cancelled here, but its award was"
                           " definitive: the registry cancels only a lot not awarded")  # fmt: skip
    return found


def contract_not_recorded(
    c: dict[str, Any],
    path: str,
    compiled: dict[str, Any],
    parties: dict[str, Any],
    seen: dict[str, Any],
    s: ProcessState,
    release: dict[str, Any],
    new: bool,
) -> list[NotRecorded]:
    """What a release says of a signed contract that no fact of the registry records
    (import20): a status taken back, other suppliers (a day changed or cleared, an extent
    or EUR value cleared, are restated: import25, import30; an end cleared: import33). Of a contract
    signed before, only what the release itself states (import24): a field it leaves out
    is unchanged, whatever a later run's compile (without the earlier releases) lacks."""
    found: list[NotRecorded] = []
    mine = next((x for x in release.get("contracts") or []
                 if isinstance(x, dict) and x.get("id") == c.get("id")), None)  # fmt: skip

    def said(*keys: str) -> bool:
        return new or states(mine, *keys)

    period = c.get("period") or {}
    value = c.get("value") or {}
    status = c.get("status")
    cid = contract_id_of(compiled["ocid"], str(c.get("id")))
    if new and status not in ("active", "terminated"):
        # Signed by its `dateSigned` (`_contract`), but not by its status (import39): none
        # stated (OCDS makes it optional), or pending or cancelled. Recorded, it would be
        # active, and its export would state a status the source does not (the round trip);
        # nothing of it is recorded, so a later release stating it signed records it.
        what = "states no status" if status is None else f"is {status}"
        found += note(f"{path}.status", f"contract {cid} {what} beside its signing day: the"
                       " registry records a signed contract as active or terminated, and"
                       " would publish a status the source does not state")  # fmt: skip
    elif said("status") and (
        status not in ("active", "terminated")
        or (status == "active" and seen["status"] == "terminated")
    ):
        found += note(f"{path}.status", f"contract {cid} is {status} here, but was"
                       f" recorded {seen['status']}: the registry records a contract once"
                       " signed, and ends it only by terminating or expiring")  # fmt: skip
    # (A signing day or start corrected, or no longer stated, is a `ContractRestated`:
    # import25, import30.)
    # What `_contract_restatement` did not record as cleared (it records the end, extent
    # and EUR value cleared: nothing should be left here; kept as the guard it was).
    cleared = (("period.endDate", stated_end(period.get("endDate")), "end"),
               ("period.maxExtentDate", stated_end(period.get("maxExtentDate")), "extent"),
               ("value", value.get("amount") if value.get("currency") == "EUR" else None,
                "value"))  # fmt: skip
    for field_path, stated, key in cleared:
        if stated is None and seen.get(key) is not None and said(*field_path.split(".")):
            found += note(f"{path}.{field_path}", f"contract {cid}'s {key} is not"
                           f" stated here (in EUR) any more, recorded as {seen[key]}: an"
                           " amendment records a new one, never none")  # fmt: skip
    award: dict[str, Any] = next(
        (a for a in compiled.get("awards", []) if a.get("id") == c.get("awardID")), {}
    )
    stated_award = next((a for a in release.get("awards") or [] if isinstance(a, dict)
                         and a.get("id") == c.get("awardID")), None)  # fmt: skip
    if not new and not (states(stated_award, "status") or states(stated_award, "suppliers")):
        return found  # the award as it was: its suppliers unchanged
    # A status not stated here is unchanged: it was live when the contract was signed.
    live = award.get("status") in ("pending", "active") or (
        not new and not states(stated_award, "status")
    )
    named = tuple(sorted(supplier_codes(award, parties, f"{path}.awardID")) if live else ())
    if "suppliers" in seen and named != tuple(seen["suppliers"]):
        found += note(f"{path}.awardID", f"contract {cid}'s award names"
                       f" {list(named) or 'no supplier'} here, recorded with"
                       f" {list(seen['suppliers'])}: the"
                       " registry records a contract's suppliers with its signing")  # fmt: skip
    return found


def _named(release: dict[str, Any]) -> list[tuple[str, Any]]:
    """The names and titles of a release the registry records (a tender's, a lot's, a
    contract's, an organisation's), with their paths; not those it does not (documents',
    milestones', items'). `_texts` lists the same values without their paths."""

    def each(key: str) -> list[tuple[int, Any]]:
        found = release.get(key)
        return list(enumerate(found)) if isinstance(found, list) else []

    tender = release.get("tender")
    t: dict[str, Any] = tender if isinstance(tender, dict) else {}
    stated = t.get("lots")
    lots: list[Any] = stated if isinstance(stated, list) else []
    named: list[tuple[str, Any]] = [("tender.title", t.get("title"))]
    named += [(f"tender.lots[{i}].title", lot.get("title"))
              for i, lot in enumerate(lots) if isinstance(lot, dict)]  # fmt: skip
    for where, ref in (("buyer", release.get("buyer")), ("tender.procuringEntity",
                                                          t.get("procuringEntity"))):  # fmt: skip
        if isinstance(ref, dict):
            named.append((f"{where}.name", ref.get("name")))
    named += [(f"parties[{i}].name", p.get("name")) for i, p in each("parties")
              if isinstance(p, dict)]  # fmt: skip
    named += [(f"contracts[{i}].title", c.get("title")) for i, c in each("contracts")
              if isinstance(c, dict)]  # fmt: skip
    for i, a in each("awards"):
        suppliers = a.get("suppliers") if isinstance(a, dict) else None
        named += [(f"awards[{i}].suppliers[{j}].name", x.get("name"))
                  for j, x in enumerate(suppliers or []) if isinstance(x, dict)]  # fmt: skip
    return named


def _texts(release: dict[str, Any]) -> list[Any]:
    """`_named`'s values, in its order, without their paths (import37: the paths are made
    only for a release that has something to report; `invisible_texts`)."""
    tender = release.get("tender")
    t: dict[str, Any] = tender if isinstance(tender, dict) else {}
    texts = [t.get("title")]
    lots = t.get("lots")
    if isinstance(lots, list):
        texts += [lot.get("title") for lot in lots if isinstance(lot, dict)]
    buyer, entity = release.get("buyer"), t.get("procuringEntity")
    if isinstance(buyer, dict):
        texts.append(buyer.get("name"))
    if isinstance(entity, dict):
        texts.append(entity.get("name"))
    parties = release.get("parties")
    if isinstance(parties, list):
        texts += [p.get("name") for p in parties if isinstance(p, dict)]
    contracts = release.get("contracts")
    if isinstance(contracts, list):
        texts += [c.get("title") for c in contracts if isinstance(c, dict)]
    awards = release.get("awards")
    if isinstance(awards, list):
        for a in awards:
            suppliers = a.get("suppliers") if isinstance(a, dict) else None
            if suppliers:
                texts += [x.get("name") for x in suppliers if isinstance(x, dict)]
    return texts


_SHOWN = "\t\n\r"  # (a name may hold these: `invisible_texts`)


def invisible_texts(release: dict[str, Any]) -> list[NotRecorded]:
    """Names and titles the release itself states holding a character that shows as nothing
    (zero width space, word joiner, byte order mark, soft hyphen), a direction control or
    another control character but tab and line breaks (review18a): commands refuse them
    (`contracts_schema.bounds`), imported facts are events, unbounded so stored history still
    reads; recorded, the name would read exactly like another one."""
    # All of them searched at once (joined by a line break, which is allowed), without their
    # paths: a release without such a character, nearly every one, is done in one search.
    texts = "\n".join([v for v in _texts(release) if isinstance(v, str)])
    if unsafe_character(texts, _SHOWN) is None:
        return []
    found: list[NotRecorded] = []
    for where, value in _named(release):
        char = unsafe_character(value, _SHOWN) if isinstance(value, str) else None
        if char is not None:
            what = unicodedata.name(char, "a control character")
            found += note(where, f"it holds U+{ord(char):04X} {what}, a character that"
                          " shows as nothing or turns the text around: the registry records"
                          " no name or title with one (it would read like another)")  # fmt: skip
    return found


def amounts_out_of_bounds(release: dict[str, Any]) -> list[NotRecorded]:
    """Contract values in EUR the release itself states that no command could record: more
    than 10^12 EUR or negative (`contracts_schema.bounds.EuroAmount`; correct20: 1e300 was
    recorded and summed into the public statistics, a negative amount refused by the
    registry with pydantic's text)."""
    found: list[NotRecorded] = []
    contracts = release.get("contracts")
    for i, c in enumerate(contracts if isinstance(contracts, list) else []):
        value = c.get("value") if isinstance(c, dict) else None
        if not isinstance(value, dict) or value.get("currency") != "EUR":
            continue
        amount = value.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            continue
        if amount < 0:
            found += note(f"contracts[{i}].value.amount", f"{amount} EUR is negative: the"
                          " registry records a contract value of 0 EUR or more")  # fmt: skip
        elif amount > AMOUNT_MAX_EUR:
            found += note(f"contracts[{i}].value.amount", f"{amount:g} EUR is more than 10^12"
                          " EUR, the most the registry records as a contract value")  # fmt: skip
    return found


# Where a release states a day the registry records (as a fact's day), inside a contract.
_CONTRACT_DAYS = ("dateSigned", "period.startDate", "period.endDate", "period.maxExtentDate")
NO_END = "9999-12-31"  # a "no end" some feeds state (OCDS: leave the end out)
NO_END_YEAR = 9999  # any day of it: the far-future sentinel of "no end" (9999-01-01 too)


def no_end(value: Any) -> bool:
    """Whether a stated end (or maximum extent) is the "no end" sentinel: a day of 9999."""
    stated = day(value)
    return stated is not None and stated.year == NO_END_YEAR


def stated_end(value: Any) -> date | None:
    """A contract's end (or maximum extent) as the source states it: None when it states
    none, or the 9999 "no end" (import33: recorded as no end stated, not refused)."""
    return None if no_end(value) else day(value)


def days_out_of_range(release: dict[str, Any]) -> list[NotRecorded]:
    """Days the release itself states, recorded as a fact's day, outside the days every
    command takes (1990-01-01..2100-12-31, `contracts_schema.bounds.Day`; correct20: a
    contract signed on 0001-01-01, or ending in year 1 or 9999, was recorded as given). An
    end or maximum extent in 9999 (9999-12-31: the "no end" some feeds state) is not out of
    range: it stands for no end, recorded as not stated (import33; it was refused)."""
    found: list[NotRecorded] = []
    tender = release.get("tender")
    period = tender.get("tenderPeriod") if isinstance(tender, dict) else None
    if isinstance(period, dict):
        found += _day_in_range("tender.tenderPeriod.startDate", period.get("startDate"))
    for key, fields in (("awards", _AWARD_DAYS), ("contracts", _CONTRACT_DAYS_SPLIT)):
        items = release.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            for name, parts in fields if isinstance(item, dict) else ():
                value: Any = item
                for part in parts:
                    value = value.get(part) if isinstance(value, dict) else None
                if _out_of_range(value):  # (the path made only for a day reported)
                    found += _day_in_range(f"{key}[{i}].{name}", value)
    return found


_AWARD_DAYS = (("date", ("date",)),)
_CONTRACT_DAYS_SPLIT = tuple((name, tuple(name.split("."))) for name in _CONTRACT_DAYS)


def _out_of_range(value: Any) -> bool:
    stated = day(value)
    return stated is not None and not FIRST_DAY <= stated <= LAST_DAY


def _day_in_range(path: str, value: Any) -> list[NotRecorded]:
    if not _out_of_range(value):
        return []
    stated = day(value)
    if no_end(value) and path.endswith(("endDate", "maxExtentDate")):
        return []  # "no end": recorded as not stated (import33)
    return note(path, f"{stated} is not between {FIRST_DAY} and {LAST_DAY}, the days the"
                " registry records")  # fmt: skip
