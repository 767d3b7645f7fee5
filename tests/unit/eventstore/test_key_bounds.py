"""Which keys the readers trust, and up to where: a retired key's bound holds however else the
key is listed (an old `.pub` file left in place must not undo a retirement)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore.signing import KEYS_DIR, key_bounds, trusted_keys


def test_a_bound_wins_over_the_same_key_listed_without_one() -> None:
    assert key_bounds(["UOLD", "UOLD@1200", "UNEW"]) == {"UOLD": 1200, "UNEW": None}
    assert key_bounds(["UOLD@1200", "UOLD"]) == {"UOLD": 1200}
    assert key_bounds(["UOLD@1200", "UOLD@900"]) == {"UOLD": 1200}


@pytest.mark.parametrize("entry", ["UOLD@", "UOLD@12x", "UOLD@²", "UOLD@-1"])
def test_a_bad_bound_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="the last stream sequence the retired key signed"):
        key_bounds([entry])


def test_the_rotation_as_documented_keeps_the_old_key_bounded(tmp_path: Path) -> None:
    keys = tmp_path / KEYS_DIR
    keys.mkdir()
    (keys / "registry.pub").write_text("UOLD\n")  # left from before the rotation
    found = trusted_keys(
        tmp_path, {"GT_SIGNING_PUBLIC_KEYS": "registry = UNEW, registry=UOLD@1200"}
    )
    assert found == {"registry": {"UOLD", "UNEW", "UOLD@1200"}}
    assert key_bounds(found["registry"]) == {"UOLD": 1200, "UNEW": None}
