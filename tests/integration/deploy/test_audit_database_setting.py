"""GT_AUDIT_DATABASE_URL (the audit's history in a database of its own) is read by the gateway
(its `entitiesAsOf`) and the projector: a bad value is refused by name by both, before
anything starts (exit 2)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.deploy.processes import clean_environment, compose_command

SECRET = "audit-database-setting-test-secret-of-enough-length"


@pytest.mark.parametrize("process", ["gateway", "projector"])
def test_a_bad_audit_database_url_is_refused_by_name(tmp_path: Path, process: str) -> None:
    env = {
        **clean_environment(),
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "GT_AUDIT_DATABASE_URL": "nonsense",
        "GT_JWT_SECRET": SECRET,
    }
    done = subprocess.run(
        compose_command(process), env=env, cwd=tmp_path, capture_output=True, timeout=120
    )
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    assert "GT_AUDIT_DATABASE_URL" in done.stderr.decode()
