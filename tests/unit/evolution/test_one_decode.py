"""Every reader of stored events decodes through `contracts_schema.upcasting.decode`: no
service validates a stored payload against a model directly (it would skip the upcasters)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DIRECT = re.compile(r"model_validate\([^)]*payload|typed_event\(\s*[\w.]+,\s*[\w.]+\)")


def test_no_reader_validates_a_stored_payload_itself() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for base in ("services", "eventstore/src", "contracts-schema/src")
        for path in sorted((ROOT / base).rglob("*.py"))
        if path.name != "upcasting.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if DIRECT.search(line)
    ]
    assert offenders == [], "decode stored events with contracts_schema.upcasting.decode_envelope"
