"""Whether a Docker engine answers: testcontainers tests run only then."""

from __future__ import annotations

import functools
import subprocess


@functools.cache
def docker_engine_available() -> tuple[bool, str]:
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"docker client unusable: {exc}"
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        return False, "no Docker engine answers: " + (
            reason[-1] if reason else "docker info failed"
        )
    return True, "Docker engine " + result.stdout.decode().strip()
