"""GraphiQL renders and runs a query with every non-loopback request blocked."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import BLOCKED, Running


def test_graphiql_runs_a_query_offline(system: Running, page: Any) -> None:
    BLOCKED.clear()
    page.goto(f"{system.url}/graphql?q=%7B%20programmes%20%7B%20programmeId%20name%20%7D%20%7D")
    page.wait_for_selector(".graphiql-execute-button")
    page.click(".graphiql-execute-button")
    result = page.locator(".result-window")
    result.get_by_text("Gemeentelijke Telecommunicatie").wait_for()
    assert '"programmeId": "GT"' in result.inner_text()
    assert BLOCKED == []  # it asked for nothing beyond the gateway
    assert page.evaluate("typeof GraphiQL") == "function"
