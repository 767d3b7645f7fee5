"""A/B of the group commit's staging and append inside a registry process, per round of
`bench.import_timeline --switch FILE` (helper import36): not loaded by anything unless this
directory is put on PYTHONPATH, with IMPORT_SWITCH=FILE (the same file):

    PYTHONPATH=bench/import_switch IMPORT_SWITCH=/tmp/switch \\
        .venv/bin/python -m bench.import_timeline --processes 300 --rounds 41 \\
        --switch /tmp/switch

In a `bootstrap.serve registry` process (only there), A is `eventstore/group_append.py` and
`eventstore/bulk_seal.py` as at git revision IMPORT_SWITCH_BASE (default d3eea6ee, main
before import36), loaded beside this checkout's; B is this checkout's. Each group message
reads the file and puts its variant's `StagedStore` (in the import service and the facts
loaders), `publish_group` and `seal_trusted` (in the store) in place: the file is written
between rounds, so every group of a round runs one variant.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _install() -> None:
    import subprocess
    import types

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    base = os.environ.get("IMPORT_SWITCH_BASE", "d3eea6ee")

    def load(name: str, path: str) -> types.ModuleType:
        src = subprocess.check_output(["git", "-C", root, "show", f"{base}:{path}"])
        module = types.ModuleType(name)
        module.__file__ = f"<{name}@{base}>"
        sys.modules[name] = module
        exec(compile(src, module.__file__, "exec"), module.__dict__)
        return module

    import eventstore.bulk_seal as new_bs
    import eventstore.group_append as new_ga
    import eventstore.store as store
    import registry.facts_loaders as loaders
    import registry.import_service as service

    old_bs = load("_a_bulk_seal", "eventstore/src/eventstore/bulk_seal.py")
    old_ga = load("_a_group_append", "eventstore/src/eventstore/group_append.py")
    path = os.environ["IMPORT_SWITCH"]
    original = service.RegistryCommandService._import_group

    def variant() -> str:
        try:
            with open(path) as f:
                return f.read().strip() or "A"
        except OSError:
            return "A"

    async def _import_group(self: Any, data: bytes) -> Any:
        ga, bs = (old_ga, old_bs) if variant() == "A" else (new_ga, new_bs)
        for module, name, value in (
            (service, "StagedStore", ga.StagedStore),
            (loaders, "StagedStore", ga.StagedStore),
            (store, "publish_group", ga.publish_group),
            (store, "seal_trusted", bs.seal_trusted),
        ):
            setattr(module, name, value)
        return await original(self, data)

    service.RegistryCommandService._import_group = _import_group  # type: ignore[method-assign]


def _command_line() -> bytes:
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


if os.environ.get("IMPORT_SWITCH") and b"bootstrap.serve\0registry" in _command_line():
    _install()
