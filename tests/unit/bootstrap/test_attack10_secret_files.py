"""attack10: the secrets `make run` keeps under its data directory are readable by their
owner only, also when the file was there before with looser rights (an older version's data
directory, one copied with `cp -r`): the signing seeds, the development JWT secret and the
per-installation secrets were made 0600 but an existing file was read as it was, so a
world-readable seed stayed world-readable."""

from __future__ import annotations

import stat
from pathlib import Path

from bootstrap.embedded import dev_secret
from bootstrap.system import local_secret
from eventstore.signing import KEYS_DIR, local_seed, new_seed


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_found_with_loose_rights_are_made_private(tmp_path: Path) -> None:
    (tmp_path / KEYS_DIR).mkdir()
    seed = tmp_path / KEYS_DIR / "registry.seed"
    seed.write_text(new_seed())
    jwt = tmp_path / "dev-jwt-secret"
    jwt.write_text("s" * 64)
    other = tmp_path / "webhook-master-key"
    other.write_text("k" * 64)
    for path in (seed, jwt, other):
        path.chmod(0o644)

    local_seed(tmp_path, "registry")
    dev_secret(tmp_path)
    local_secret(tmp_path, "webhook-master-key")
    assert {p.name: oct(mode(p)) for p in (seed, jwt, other)} == {
        p.name: oct(0o600) for p in (seed, jwt, other)
    }


def test_new_secrets_are_private(tmp_path: Path) -> None:
    local_seed(tmp_path, "enrolment")
    dev_secret(tmp_path)
    local_secret(tmp_path, "another")
    made = [
        tmp_path / KEYS_DIR / "enrolment.seed",
        tmp_path / "dev-jwt-secret",
        tmp_path / "another",
    ]
    assert [oct(mode(p)) for p in made] == [oct(0o600)] * 3
