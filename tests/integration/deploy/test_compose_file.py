"""The container files, checked offline: no Docker engine exists on the build machines.

docker-compose.yml must validate against the compose-spec JSON Schema (vendored under
deploy/compose-spec/ with its provenance), mount only files that exist, and carry no secret.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "deploy" / "compose-spec" / "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
APP_SERVICES = ("registry", "enrolment", "notifier", "gateway", "projector")
# The package whose code a service runs, where it is not its own name.
PACKAGE = {"projector": "gateway"}  # the gateway's read models (bootstrap.projector)
NATS_NODES = ("nats-1", "nats-2", "nats-3")
JOBS = ("reference-data",)  # one-shot: run to completion, restarted only on failure
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|SIGNING_KEY|PRIVATE", re.IGNORECASE)
INTERPOLATED = re.compile(r"^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_vendored_schema_is_the_recorded_one() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose)
    ]
    assert errors == []


def test_the_schema_catches_a_broken_compose_file(compose: dict[str, Any]) -> None:
    # Proves the validation has teeth: a typo'd key and a wrong type are reported.
    broken = json.loads(json.dumps(compose))
    broken["services"]["registry"]["restart_policy"] = "always"
    broken["services"]["nats-1"]["ports"] = "4222"
    errors = list(Draft202012Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))
    assert len(errors) >= 2


def test_topology_is_three_nats_nodes_postgres_and_the_four_services(
    compose: dict[str, Any],
) -> None:
    # nats-auth: the NATS auth callout that admits organisations (docs/security.md).
    assert set(compose["services"]) == {*NATS_NODES, "postgres", "nats-auth", *APP_SERVICES, *JOBS}
    for name in APP_SERVICES:
        service = compose["services"][name]
        # Every container command goes through the composition root.
        assert service["command"][:4] == ["python", "-m", "bootstrap.serve", name]
        package = PACKAGE.get(name, name)
        assert (ROOT / "services" / package / "src" / package).is_dir(), f"no package for {name}"
        env = service["environment"]
        assert env["GT_STREAM_REPLICAS"] == "3"
        assert env["GT_NATS_URL"].split(",") == [f"nats://{n}:4222" for n in NATS_NODES]
        assert env["GT_METRICS_PORT"] == "9100"


def test_every_service_has_a_health_check_and_a_restart_policy(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in JOBS:
            assert service.get("restart") == "on-failure", name
            assert service["command"][:3] == ["python", "-m", "bootstrap.serve"], name
            continue
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in APP_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert all(d["condition"] == "service_healthy" for d in depends.values()), name


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    mounted: list[Path] = []
    for name, service in compose["services"].items():
        for source in bind_sources(service):
            path = (ROOT / source).resolve()
            assert path.exists(), f"{name} mounts {source}, which does not exist"
            mounted.append(path)
    for node in NATS_NODES:
        # `-c /etc/nats/<node>.conf` inside the container is deploy/nats/<node>.conf here.
        config = compose["services"][node]["command"][-1]
        assert (ROOT / "deploy" / "nats" / Path(config).name).is_file()
    # Files the mounted NATS configs include must be mounted with them.
    for conf in (ROOT / "deploy" / "nats").glob("*.conf"):
        for included in re.findall(r"(?m)^\s*include\s+\"?([^\s\"]+)", conf.read_text()):
            assert (conf.parent / included).is_file(), f"{conf.name} includes missing {included}"
    assert (ROOT / "deploy" / "postgres" / "init").resolve() in mounted


def test_no_secret_is_baked_into_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATED.match(str(value)), f"{name}.{key} holds a literal secret"
            for password in re.findall(r"://[^:/@]+:([^@]+)@", str(value)):
                assert INTERPOLATED.match(password), f"{name}.{key} has a literal password"


def test_dockerfile_is_multi_stage_unprivileged_and_secret_free() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"(?m)^FROM \S+ AS (\w+)$", text)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"(?m)^USER (?!root)\w+", runtime)
    for key in re.findall(r"(?m)^\s*(?:ENV|ARG)\s+(\w+)", text):
        assert not SECRET_NAME.search(key), f"Dockerfile sets {key}"
    for source in re.findall(r"(?m)^COPY (?!--from)(\S+)", text):
        assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**/.env" in ignored


def test_postgres_init_script_creates_the_roles(postgres_cluster: Any) -> None:
    import os
    import subprocess

    import psycopg

    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgres_cluster.port),
        "POSTGRES_USER": "postgres",
        "GT_PROJECTOR_PASSWORD": "projector-test",
        "GT_READER_PASSWORD": "reader-test",
        "GT_IDENTITIES_PASSWORD": "identities-test",
    }
    with psycopg.connect(
        f"host=127.0.0.1 port={postgres_cluster.port} user=postgres dbname=postgres",
        autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'read_models'").fetchone():
            pytest.skip("read_models already initialised on this session's cluster")
    subprocess.run(
        ["sh", str(ROOT / "deploy/postgres/init/10-read-models.sh")],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    projector = f"host=127.0.0.1 port={postgres_cluster.port} dbname=read_models user=gt_projector"
    with psycopg.connect(projector, autocommit=True) as conn:
        conn.execute("CREATE TABLE demo_rows (id int PRIMARY KEY)")
        conn.execute("INSERT INTO demo_rows VALUES (1)")
    reader = f"host=127.0.0.1 port={postgres_cluster.port} dbname=read_models user=gt_reader"
    with psycopg.connect(reader, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM demo_rows").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO demo_rows VALUES (2)")
    # The identity store: its own database, which the read-model roles cannot enter.
    identities = f"host=127.0.0.1 port={postgres_cluster.port} dbname=identities user=gt_identities"
    with psycopg.connect(identities, autocommit=True) as conn:
        conn.execute("CREATE TABLE names (pseudonym text PRIMARY KEY)")
    outsider = f"host=127.0.0.1 port={postgres_cluster.port} dbname=identities user=gt_reader"
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(outsider, autocommit=True)


def test_the_image_holds_every_workspace_member() -> None:
    import tomllib

    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    copied = re.findall(r"(?m)^COPY (?!--from)(\S+) \1$", (ROOT / "Dockerfile").read_text())
    for member in members:
        assert member.split("/")[0] in copied, (
            f"workspace member {member} is not copied into the image"
        )


def test_nats_nodes_get_every_password_the_accounts_file_reads(compose: dict[str, Any]) -> None:
    accounts = (ROOT / "deploy" / "nats" / "accounts.conf").read_text()
    assert re.search(
        r"(?m)^include \./accounts\.conf$", (ROOT / "deploy/nats/common.conf").read_text()
    )
    variables = set(re.findall(r"(?m)^\s*password:\s*\$([A-Z0-9_]+)$", accounts))
    assert len(variables) == len(re.findall(r"(?m)^\s*password:", accounts))  # all by $VAR
    variables |= set(re.findall(r"(?m)^\s*issuer:\s*\$([A-Z0-9_]+)$", accounts))
    for node in NATS_NODES:
        environment = compose["services"][node]["environment"]
        assert set(environment) == variables, node
        # Required from the operator's environment: compose refuses to start without them.
        assert all(environment[v] == f"${{{v}:?set {v}}}" for v in variables), node
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["GT_NATS_USER"] == name
        assert (
            env["GT_NATS_PASSWORD"]
            == f"${{GT_NATS_{name.upper()}_PASSWORD:?set GT_NATS_{name.upper()}_PASSWORD}}"
        )


def test_compose_and_k8s_run_the_nats_version_the_tests_run(compose: dict[str, Any]) -> None:
    import subprocess

    from eventstore.nats_launcher import nats_server_binary

    out = subprocess.run(
        [nats_server_binary(), "--version"], capture_output=True, text=True, check=True
    )
    version = re.search(r"v(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    assert version, out
    image = f"nats:{version.group(1)}-alpine"
    for node in NATS_NODES:
        assert compose["services"][node]["image"] == image, node
    k8s = (ROOT / "deploy" / "k8s" / "nats.yaml").read_text()
    assert set(re.findall(r"image: (nats:\S+)", k8s)) == {image}


def test_every_setting_given_to_a_service_is_one_it_reads(compose: dict[str, Any]) -> None:
    # The manifests give no variable a service never reads (GT_DATABASE_URL to the registry).
    from bootstrap.settings_catalogue import settings_read_by

    for name in (*APP_SERVICES, *JOBS):
        given = set(compose["services"][name]["environment"])
        unread = given - settings_read_by(name)
        assert not unread, f"{name} is given {sorted(unread)} and never reads them"
