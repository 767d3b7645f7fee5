"""A part's refusal of its settings comes before the composition root's imports.

Before: `python -m bootstrap.serve registry` with a bad setting imported the whole system
first -- `main` took its one-line report from bootstrap.embedded (which imports the gateway,
the audit and every service) and the registry's own settings were read only inside
`bootstrap.parts` -- ~5 s of CPU for a one-line refusal; every part's process of `make run`
imported the gateway and the audit too. The backup commands' group, added to every part's
command line, imported nats and the event store's backup at import. Counted in modules
imported, not in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Never needed to refuse a setting: each is the root of seconds of imports.
HEAVY = (
    "bootstrap.embedded",
    "bootstrap.parts",
    "gateway.readside",
    "audit.wiring",
    "eventstore.backup",
)

PROBE = """
import json, sys
from bootstrap.serve import main
sys.argv = ["serve", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("part", [["registry"], ["enrolment"], ["notifier", "run"]])
def test_a_bad_setting_is_refused_before_the_system_is_imported(
    tmp_path: Path, part: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": "nats://127.0.0.1:1",
        "GT_DATA_DIR": str(tmp_path),
        "GT_SIGNING_SEED": "SUnot-a-seed",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *part],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] == 2, done.stderr
    assert "GT_SIGNING_SEED" in done.stderr, done.stderr
    imported = [name for name in HEAVY if name in report["modules"]]
    assert imported == [], f"imported before refusing: {imported}"


def test_the_backup_group_imports_its_machinery_only_when_run() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys, bootstrap.serve; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert "eventstore.backup" not in modules
    assert "nats.aio.client" not in modules
