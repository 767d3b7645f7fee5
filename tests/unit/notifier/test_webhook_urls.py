"""Where a webhook may point, as the gateway checks it when it is subscribed: every spelling of
a loopback, private or internal target is refused there, not only at delivery."""

from __future__ import annotations

import pytest

from contracts_schema.notifier.urls import url_problem


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one number
        "0x7f000001",  # ... in hex
        "127.1",  # ... shortened
        "017700000001",  # ... in octal
        "localhost.",  # a rooted name is the same name
        "foo.local.",
        "metadata.google.internal.",
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[2002:7f00:1::]",  # 6to4 around 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 around 169.254.169.254
        "[2001:0:4136:e378:8000:63bf:f5ff:fffe]",  # Teredo, client 10.0.0.1
        "[::127.0.0.1]",  # IPv4-compatible (deprecated)
        "[::a9fe:a9fe]",
        "[fec0::1]",  # site-local (deprecated)
        "10.0.0.1",
        "169.254.169.254",
    ],
)
def test_a_loopback_private_or_internal_target_is_refused_in_every_spelling(host: str) -> None:
    problem = url_problem(f"https://{host}/hook")
    assert problem is not None
    assert "not a public" in problem


@pytest.mark.parametrize("host", ["example.org", "93.184.216.34", "[2606:4700:4700::1111]"])
def test_public_targets_pass(host: str) -> None:
    assert url_problem(f"https://{host}/hook") is None


def test_the_operators_list_still_allows_a_host() -> None:
    assert url_problem("http://127.0.0.1:8080/hook", ["127.0.0.1"]) is None
