"""correct18: a stray file in `<data>/keys` (a `registry-old.pub` kept aside) is passed over
with a warning naming it. Before, its stem was trusted as a "context": `make run` handed it to
its child processes in GT_SIGNING_PUBLIC_KEYS, and every child refused to start over that
variable, which the user never set."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bootstrap.parts import public_keys_setting
from eventstore.signing import KEYS_DIR, PUBLIC_KEYS_ENV, public_keys_entries, trusted_keys
from eventstore.trust import configured


def test_a_stray_key_file_is_ignored_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = tmp_path / KEYS_DIR
    keys.mkdir()
    (keys / "registry.pub").write_text("UNEW\n")
    (keys / "registry-old.pub").write_text("UOLD\n")
    (keys / "enrolment.retired").write_text("UGONE@7\n")
    (keys / "enrolment.retired~").write_text("UBACKUP@3\n")  # not *.retired: never read
    (keys / "Notifier.retired").write_text("UCASE@9\n")
    caplog.set_level(logging.WARNING)

    found = trusted_keys(tmp_path, environ={})

    assert found == {"registry": {"UNEW"}, "enrolment": {"UGONE@7"}}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert any(str(keys / "registry-old.pub") in line for line in warned)
    assert any(str(keys / "Notifier.retired") in line for line in warned)
    assert all("ignored" in line for line in warned)


def test_a_child_accepts_the_keys_make_run_hands_it(tmp_path: Path) -> None:
    keys = tmp_path / KEYS_DIR
    keys.mkdir()
    (keys / "registry.pub").write_text("UNEW\n")
    (keys / "registry-old.pub").write_text("UOLD\n")

    handed = public_keys_setting(configured(tmp_path, environ={}))

    # What each child parses at start (`eventstore.trust.configured` in the child).
    assert public_keys_entries(handed[PUBLIC_KEYS_ENV]) == [("registry", "UNEW")]


def test_a_line_of_a_key_file_that_is_no_key_is_ignored_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """review17b: a comment line in `registry.retired` was trusted as a "key" and handed to
    the children, which then refused GT_SIGNING_PUBLIC_KEYS, a variable the user never set."""
    keys = tmp_path / KEYS_DIR
    keys.mkdir()
    (keys / "registry.pub").write_text("UNEW\n")
    (keys / "registry.retired").write_text("# retired after the leak of 2026-11\n\nUGONE@7\n")
    caplog.set_level(logging.WARNING)

    handed = public_keys_setting(configured(tmp_path, environ={}))

    assert sorted(public_keys_entries(handed[PUBLIC_KEYS_ENV])) == [
        ("registry", "UGONE@7"),
        ("registry", "UNEW"),
    ]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [line for line in warned if f"{keys / 'registry.retired'}, line 1" in line], warned
