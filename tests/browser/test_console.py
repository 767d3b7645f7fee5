"""The console in a real Chromium: sign in, the expiry timeline and its filters, a past state
through the as-of picker, a contract's history on both clocks, CSV export, Dutch, and
axe-core on every page. With GT_SCREENSHOTS set (`make screenshots`) it also takes the
README's pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import BLOCKED, Running, axe_serious, screenshot


def sign_in(page: Any, system: Running, role: str = "coordinator") -> None:
    page.goto(f"{system.url}/console/")
    page.get_by_label("Token (as printed by make run)").fill(system.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for()


def settled(page: Any) -> None:
    page.wait_for_function(
        "() => document.getElementById('view').getAttribute('aria-busy') === 'false'"
    )


def timeline_ids(page: Any) -> list[str]:
    settled(page)
    page.locator("table[data-table=timeline] tbody tr").first.wait_for()
    return page.locator("table[data-table=timeline] tbody tr td:first-child").all_inner_texts()


def test_timeline_filters_and_a_past_state(system: Running, page: Any, tmp_path: Path) -> None:
    BLOCKED.clear()
    sign_in(page, system)
    ids = timeline_ids(page)
    assert "gt-mc1-framework" in ids
    assert len(ids) >= 3
    assert page.locator(".threshold").count() >= 5
    assert axe_serious(page) == []
    screenshot(page, "timeline")

    page.get_by_label("Supplier").select_option("Vodafone")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function("() => location.hash.includes('supplier=Vodafone')")
    filtered = timeline_ids(page)
    assert "gt-mc1-framework" in filtered
    assert len(filtered) < len(ids)

    page.get_by_role("button", name="Now").click()
    page.get_by_label("As of (valid date)").fill("2015-06-01")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Showing: As of (valid date) 2015-06-01").wait_for()
    settled(page)
    assert page.locator("table[data-table=timeline] tbody tr").count() == 0  # nothing signed yet

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV: Contracts and call-offs").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert "asof-2015-06-01" in saved.name
    assert saved.read_text().splitlines()[0].startswith("Contract,Kind,Programme")
    assert BLOCKED == []


def test_contract_history_on_both_clocks_and_csv(
    system: Running, page: Any, tmp_path: Path
) -> None:
    sign_in(page, system, "auditor")
    timeline_ids(page)
    page.get_by_role("link", name="gt-mc1-framework").click()
    page.get_by_role("heading", name="History of contract/gt-mc1-framework").wait_for()
    rows = page.locator("table[data-table=history] tbody tr")
    rows.first.wait_for()
    assert "ContractSigned" in rows.first.inner_text()
    assert page.locator(".tag.backdated").count() >= 1  # signed in 2016, recorded today
    headers = page.locator("table[data-table=history] th").all_inner_texts()
    assert headers[1:3] == ["Valid time", "Recorded time"]
    assert axe_serious(page) == []
    screenshot(page, "history")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV: History: contract/gt-mc1-framework").click()
    saved = tmp_path / "history.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == "Event,Valid time,Recorded time,Actor,Summary"
    assert any(line.startswith("ContractSigned backdated") for line in lines[1:])


def test_participation_in_dutch(system: Running, page: Any) -> None:
    page.goto(f"{system.url}/console/#participation")
    page.get_by_role("button", name="Nederlands").click()
    page.get_by_role("heading", name="Deelname", exact=True).wait_for()
    page.locator("table[data-table=participation-programme] tbody tr").first.wait_for()
    assert page.locator("html").get_attribute("lang") == "nl"
    assert "GT" in page.locator("table[data-table=participation-programme]").inner_text()
    assert page.locator("figure.chart").count() == 2
    assert axe_serious(page) == []
    screenshot(page, "participation")
    page.get_by_role("button", name="English").click()
