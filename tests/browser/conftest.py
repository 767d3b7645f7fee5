"""A running system with the demo data, and Debian's Chromium driven by Playwright.

The system (`bootstrap.embedded`, as `make run`) runs on its own event loop in a thread, so
that Playwright's synchronous API has the test thread. Every page blocks each request that
does not go to the loopback interface: what the console and GraphiQL need, the gateway serves.
Without a chromium (and no way to install one) the tests skip and say why; `make test`
installs it (`make chromium`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_or_skip() -> str:
    found = find_chromium()
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["make", "-s", "chromium"], cwd=ROOT, check=False, timeout=600)
        found = find_chromium()
    if found is None:
        pytest.skip(
            "no chromium found and it cannot be installed here (`make chromium` needs apt-get as root)"
        )
    return found


@dataclass
class Running:
    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    from bootstrap.demo import load_demo
    from bootstrap.embedded import embedded
    from gateway.auth import Role, issue_token
    from gateway.commandbus import CommandBus

    data = tmp_path_factory.mktemp("console") / "data"
    ready: dict[str, Any] = {}
    started, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        try:
            async with embedded(data, port=0) as (sys_, server):
                demo = await load_demo(CommandBus(sys_.nc))
                assert sys_.read is not None
                await sys_.read.wait_for(demo.consistency_token, timeout=60)
                ready["running"] = Running(server.url, {
                    role.value: issue_token(sys_.settings, role, f"browser-{role.value}")
                    for role in (Role.COORDINATOR, Role.AUDITOR)
                })  # fmt: skip
                ready["bus"] = CommandBus(sys_.nc)
                started.set()
                await asyncio.to_thread(stop.wait)
        except BaseException as exc:
            ready["error"] = exc
            started.set()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    started.wait(120)
    if "error" in ready:
        raise ready["error"]
    yield ready["running"]
    stop.set()
    thread.join(30)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Debian's chromium, never a downloaded one; as root it needs --no-sandbox.
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def _loopback_only(route: Any) -> None:
    host = urlsplit(route.request.url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(
        ("data:", "blob:")
    ):
        route.continue_()
    else:
        BLOCKED.append(route.request.url)
        route.abort()


BLOCKED: list[str] = []


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.route("**/*", _loopback_only)
    opened = context.new_page()
    yield opened
    context.close()


def axe_serious(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(AXE.read_text())  # not a script tag: the pages' CSP allows none inline
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str) -> None:
    target = os.environ.get("GT_SCREENSHOTS")
    if target:
        path = ROOT / target / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
