"""GraphiQL renders and runs a query with every non-loopback request blocked."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import BLOCKED, Running


def test_graphiql_runs_a_query_offline(system: Running, page: Any) -> None:
    BLOCKED.clear()
    page.goto(f"{system.url}/graphql?q=%7B%20programmes%20%7B%20programmeId%20name%20%7D%20%7D")
    page.wait_for_selector(".graphiql-execute-button")
    # The query from the address is in the editor before it is run (on a loaded machine the
    # button is drawn before the editor holds it).
    page.locator(".graphiql-query-editor").get_by_text("programmeId").first.wait_for()
    page.click(".graphiql-execute-button")
    result = page.locator(".result-window")
    # A bound, not a measure: chromium shares the machine with the rest of the suite.
    result.get_by_text("Gemeentelijke Telecommunicatie").wait_for(timeout=90_000)
    assert '"programmeId": "GT"' in result.inner_text()
    assert BLOCKED == []  # it asked for nothing beyond the gateway
    assert page.evaluate("typeof GraphiQL") == "function"
