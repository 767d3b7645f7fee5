"""correct17: `make run` (`python -m bootstrap`) names a bad reader-trust or command setting
in one line before anything starts.

Before: GT_READERS_VERIFY_SIGNATURES=perhaps (or `ture`) was taken as true without a word;
GT_SIGNING_PUBLIC_KEYS=garbage (or entries split by `;`) trusted a "context" of that name and
no key for the real ones, so every reader parked every event later; a retired key's bad
`@` was reported as `bad setting: GT_PORT`; GT_VALID_TIME_TOLERANCE_SECONDS=inf started
everything and the registry child ended in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import nkeys
import pytest

import bootstrap.__main__ as make_run
from eventstore.signing import EventSigner
from eventstore.trust import configured

# A fixed key: the ids of the parametrised cases below hold it, and pytest-xdist's workers must
# collect the same ids (a fresh random key per worker failed the collection).
KEY = EventSigner(nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER).decode()).public_key
VARIABLES = (
    "GT_READERS_VERIFY_SIGNATURES",
    "GT_READERS_VERIFY_EVERY_SIGNATURE",
    "GT_SIGNING_PUBLIC_KEYS",
    "GT_VALID_TIME_TOLERANCE_SECONDS",
)


class Started(Exception):
    """`run` was reached: the settings were accepted."""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "data"))

    def run() -> None:
        raise Started

    monkeypatch.setattr(make_run, "run", run)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("GT_READERS_VERIFY_SIGNATURES", "perhaps", "'perhaps' is not a boolean"),
        ("GT_READERS_VERIFY_EVERY_SIGNATURE", "ture", "'ture' is not a boolean"),
        ("GT_SIGNING_PUBLIC_KEYS", "garbage", "'garbage' is not <context>=<public key>"),
        (
            "GT_SIGNING_PUBLIC_KEYS",
            f"registry={KEY};enrolment={KEY}",
            f"'registry={KEY};enrolment={KEY}' is not <context>=<public key>",
        ),
        ("GT_SIGNING_PUBLIC_KEYS", f"ledger={KEY}", f"'ledger={KEY}' is not"),
        ("GT_SIGNING_PUBLIC_KEYS", f"registry={KEY}@x", f"'registry={KEY}@x' is not"),
        ("GT_VALID_TIME_TOLERANCE_SECONDS", "inf", "(got 'inf')"),
        ("GT_PROJECTION_PREPARE_AHEAD", "banana", "(got 'banana')"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_before_anything_starts(
    started: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        make_run.main([])
    line = str(stopped.value.code)
    assert line.startswith(f"error: bad setting: {name}: "), line
    assert said in line
    assert "\n" not in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GT_READERS_VERIFY_SIGNATURES", "false"),
        ("GT_READERS_VERIFY_SIGNATURES", " Off "),
        ("GT_READERS_VERIFY_SIGNATURES", ""),
        ("GT_READERS_VERIFY_EVERY_SIGNATURE", "1"),
        ("GT_SIGNING_PUBLIC_KEYS", f"registry={KEY}, enrolment = {KEY}@1200,"),
        ("GT_VALID_TIME_TOLERANCE_SECONDS", "600"),
    ],
)
def test_good_values_start(
    started: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(Started):
        make_run.main([])


def test_the_readers_take_the_values_as_written() -> None:
    off = configured(environ={"GT_READERS_VERIFY_SIGNATURES": "OFF", "GT_SIGNING_PUBLIC_KEYS": ""})
    assert off.verify_signatures is False
    on = configured(
        environ={"GT_READERS_VERIFY_SIGNATURES": "yes", "GT_SIGNING_PUBLIC_KEYS": f"registry={KEY}"}
    )
    assert on.verify_signatures is True
    assert on.keys == {"registry": {KEY: None}}
