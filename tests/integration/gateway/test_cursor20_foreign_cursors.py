"""A list's cursor pages only that list, with the arguments it was made for (cursor20).

correct22 found that a cursor of one list was taken by another whose key has the same shape
(`tenders`' `after` given to `organisations`, `contracts`, `callOffs`) and answered a page
starting after that key in the other list's order, without a word; a cursor made for one
order of a list (tenders by planned day) was read as a key of another (by title) in the
same way. The cursor now names its list and a fingerprint of what the list's rows and their
order depend on (the filter, the order, asOf/knownAt); anything else is refused naming
`after`.

Asked of two gateways over one projected corpus, one answering kept documents by compiled
plans, one through strawberry only (test_compiled_equivalence's pair): every answer is
byte for byte the same on both (`Pair.ask` asserts it), so the plans' cursors and the
resolvers' agree.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.integration.gateway.test_compiled_equivalence import Pair, roles
from tests.integration.gateway.test_compiled_equivalence import pair as pair

# (list, arguments other than first/after, the node's id field); every one holds more rows
# than a page of two and at most a page of 100 in the corpus.
LISTS: dict[str, tuple[str, str, str]] = {
    "tenders": ("tenders", "", "tenderId"),
    "tenders by planned day": ("tenders", "orderBy: {field: PLANNED_ON}", "tenderId"),
    "tenders by title": ("tenders", "orderBy: {field: TITLE}", "tenderId"),
    "contracts": ("contracts", "", "contractId"),
    "contracts by end": ("contracts", "orderBy: {field: END_DATE}", "contractId"),
    "contracts by start": ("contracts", "orderBy: {field: START_DATE}", "contractId"),
    "expiring": ("expiringContracts", 'from: "%(from)s", to: "%(to)s"', "contractId"),
    "organisations": ("organisations", 'search: "am"', "code"),
    "in Zeeland": ("organisations", 'province: "Zeeland"', "code"),
    "call-offs": ("callOffs", "", "callOffId"),
    "events": ("events", 'filter: {organisationCode: "%(holder)s"}', "eventId"),
    "tender events": ("events", 'filter: {aggregateId: "%(tender)s"}', "eventId"),
}
PAGE = "{ %s(%s first: %d %s) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { %s } } } }"


def document(pair: Pair, name: str, first: int, after: str | None) -> str:
    field, arguments, key = LISTS[name]
    after_part = "" if after is None else f"after: {json.dumps(after)}"
    return PAGE % (field, arguments % pair.ids, first, after_part, key)


async def ask(pair: Pair, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    _, raw, _ = await pair.ask(query, variables, roles(pair)["coordinator"])
    found: dict[str, Any] = json.loads(raw)
    return found


async def walk(pair: Pair, name: str, first: int) -> list[Any]:
    """Every node of the list, page by page of `first` through its cursors."""
    field, _, key = LISTS[name]
    seen: list[Any] = []
    after = None
    for _ in range(1000):
        body = await ask(pair, document(pair, name, first, after))
        assert "errors" not in body, (name, body)
        page = body["data"][field]
        seen += [e["node"][key] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    raise AssertionError(f"{name}: no last page")


async def a_cursor(pair: Pair, name: str) -> str:
    """The list's first page's endCursor (a page of two, with more after it)."""
    field = LISTS[name][0]
    body = await ask(pair, document(pair, name, 2, None))
    page = body["data"][field]
    assert page["pageInfo"]["hasNextPage"], (name, body)
    assert page["totalCount"] > 2, (name, body)
    cursor: str = page["pageInfo"]["endCursor"]
    return cursor


def refusal(body: dict[str, Any], field: str) -> str:
    """The one error of a refused page, asserted INVALID_ARGUMENT about `after`."""
    assert body.get("data") is None or body["data"].get(field) is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT", error
    assert error["extensions"].get("field") == "after", error
    message: str = error["message"]
    assert message.startswith("`after` "), message
    return message


async def test_a_cursor_of_one_list_is_refused_by_every_other(pair: Pair) -> None:
    cursors = {name: await a_cursor(pair, name) for name in LISTS}
    taken = []
    for made, cursor in cursors.items():
        for given in LISTS:
            if given == made:
                continue
            field = LISTS[given][0]
            body = await ask(pair, document(pair, given, 2, cursor))
            if "errors" not in body:
                taken.append(f"{made} -> {given}")
                continue
            message = refusal(body, field)
            if LISTS[made][0] != field:
                assert f"is a cursor of `{LISTS[made][0]}`, not of `{field}`" in message, message
            else:  # the same list, asked with another filter or order
                assert f"was made for `{field}` asked with other arguments" in message, message
                assert "filter, order or asOf/knownAt" in message, message
    assert taken == [], f"{len(taken)} foreign cursors taken: {taken}"


async def test_each_list_pages_to_its_end_through_its_own_cursors(pair: Pair) -> None:
    for name in LISTS:
        field, _, key = LISTS[name]
        body = await ask(pair, document(pair, name, 100, None))
        whole = [e["node"][key] for e in body["data"][field]["edges"]]
        assert len(whole) > 2, name
        assert not body["data"][field]["pageInfo"]["hasNextPage"], name
        assert await walk(pair, name, 2) == whole, name
        assert await walk(pair, name, 3) == whole, name


async def test_first_may_change_between_pages_and_equal_arguments_are_equal(pair: Pair) -> None:
    cursor = await a_cursor(pair, "tenders")
    # `first` changes from page to page; the order's default spelt out is the same order
    # (the fingerprint is of the order's columns, not of how the argument was written).
    for arguments in (
        "first: 5",
        "first: 1",
        "orderBy: {field: TENDER_ID}",
        "orderBy: {field: TENDER_ID, direction: ASC}",
        "filter: {}",
    ):
        body = await ask(pair, f'{{ tenders({arguments}, after: "{cursor}") {{ totalCount }} }}')
        assert "errors" not in body, (arguments, body)
    descending = await ask(
        pair,
        f'{{ tenders(orderBy: {{direction: DESC}}, after: "{cursor}") {{ totalCount }} }}',
    )
    assert "other arguments" in refusal(descending, "tenders")


EXPIRING_PAST = """query($from: Date!, $to: Date!, $asOf: Date, $knownAt: DateTime,
    $after: String) {
  expiringContracts(from: $from, to: $to, first: 2, asOf: $asOf, knownAt: $knownAt,
      after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { contractId } }
  }
}"""


async def test_a_cursor_is_refused_at_another_horizon_or_range(pair: Pair) -> None:
    """asOf/knownAt and the expiring range are part of what a cursor was made for; the same
    instant written in another offset is the same horizon. Asked of the compiled plan and of
    the resolver alike (the plan answers `expiringContracts`)."""
    f, t = pair.ids["from"], pair.ids["to"]
    base = {"from": f, "to": t}
    known = {**base, "knownAt": "2999-01-01T12:00:00+02:00"}
    body = await ask(pair, EXPIRING_PAST, known)
    cursor = body["data"]["expiringContracts"]["pageInfo"]["endCursor"]
    assert cursor is not None
    assert body["data"]["expiringContracts"]["totalCount"] > 2
    same = await ask(
        pair, EXPIRING_PAST, {**base, "knownAt": "2999-01-01T10:00:00Z", "after": cursor}
    )
    assert "errors" not in same, same
    for other in (
        base,  # the present
        {**base, "knownAt": "2999-01-01T12:00:01+02:00"},
        {**base, "asOf": "2999-01-01"},
        {**base, "knownAt": known["knownAt"], "asOf": "2999-01-01"},
        {**known, "to": pair.ids["mid"]},
    ):
        refused = await ask(pair, EXPIRING_PAST, {**other, "after": cursor})
        assert "other arguments" in refusal(refused, "expiringContracts"), other


async def test_the_plans_page_as_the_resolvers_and_are_asked(pair: Pair) -> None:
    """The compiled lists (`expiringContracts`, `events`) walk to their ends through their
    plans: the second asking of each page is a plan's, and its bytes the resolver's."""
    token = roles(pair)["coordinator"]
    query = """query($from: Date!, $to: Date!, $after: String) {
      expiringContracts(from: $from, to: $to, first: 2, after: $after) {
        pageInfo { hasNextPage endCursor } edges { cursor node { contractId } } } }"""
    after, pages = None, 0
    while True:
        variables = {"from": pair.ids["from"], "to": pair.ids["to"], "after": after}
        before = pair.app.state.graphql.compiled.answered
        _, raw, answered = await pair.ask(query, variables, token)
        assert answered > before, "the plan answered"
        page = json.loads(raw)["data"]["expiringContracts"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages > 2
    # A cursor the plan wrote, given to the other compiled list: refused alike on both.
    events = await ask(pair, f'{{ events(first: 1, after: "{after}") {{ totalCount }} }}')
    assert "is a cursor of `expiringContracts`, not of `events`" in refusal(events, "events")


def old_form(values: list[Any]) -> str:
    """A cursor as the gateway wrote it before it named its list: the key's values alone."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


async def test_a_cursor_of_the_form_before_is_refused_asking_to_start_again(pair: Pair) -> None:
    body = await ask(pair, document(pair, "organisations", 100, None))
    codes = [e["node"]["code"] for e in body["data"]["organisations"]["edges"]]
    old = await ask(pair, document(pair, "organisations", 2, old_form([codes[1]])))
    message = refusal(old, "organisations")
    assert "earlier version" in message, message
    assert "without `after`" in message, message
    nonsense = await ask(pair, document(pair, "organisations", 2, "nonsense"))
    assert "is not a cursor of this list (`organisations`)" in refusal(nonsense, "organisations")
    # A law finding's cursor (its own list, its own form) is no cursor of these lists.
    finding = old_form(["2020-01-01", "TENDER", "t-1", 0])
    events = await ask(pair, document(pair, "events", 2, finding))
    assert "is not a cursor of this list (`events`)" in refusal(events, "events")
