"""The Kubernetes manifests describe the same topology as docker-compose.yml (checked offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.test_compose_file import APP_SERVICES, NATS_NODES, SECRET_NAME

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OPTIONAL_IN_K8S = {
    "GT_LOG_LEVEL",
    "GT_TRACE_PROPAGATION",
    "GT_OTLP_ENDPOINT",
}  # compose passes them through


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for relative in kustomization["resources"]:
        for doc in yaml.safe_load_all((DEPLOY / relative).read_text()):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def container(resource: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = resource["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_every_generated_config_file_exists(kustomization: dict[str, Any]) -> None:
    for generator in kustomization["configMapGenerator"]:
        for relative in generator["files"]:
            assert (DEPLOY / relative).is_file(), relative


def test_same_services_commands_and_settings_as_compose(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in APP_SERVICES:
        spec = container(resources[("Deployment", name)])
        assert spec["command"] == compose["services"][name]["command"]
        k8s_env = {e["name"]: e for e in spec["env"]}
        compose_env = set(compose["services"][name]["environment"])
        assert compose_env - OPTIONAL_IN_K8S <= set(k8s_env), name
        assert k8s_env["GT_STREAM_REPLICAS"]["value"] == "3"
        for key, entry in k8s_env.items():
            if SECRET_NAME.search(key):
                assert "value" not in entry, f"{name}.{key} holds a literal secret"
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "gt-secrets"
        assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"name": "metrics", "containerPort": 9100} in spec["ports"]


def test_nats_nodes_run_the_shared_config_files(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for node in NATS_NODES:
        assert ("Service", node) in resources  # the host names the config's routes use
        statefulset = resources[("StatefulSet", node)]
        spec = container(statefulset)
        assert spec["args"] == compose["services"][node]["command"]
        volumes = statefulset["spec"]["template"]["spec"]["volumes"]
        assert {"name": "config", "configMap": {"name": "nats-config"}} in volumes
        assert spec["image"] == compose["services"][node]["image"]


def test_reference_data_job_runs_the_compose_command(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    job = resources[("Job", "reference-data")]
    spec = container(job)
    assert spec["command"] == compose["services"]["reference-data"]["command"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    env = {e["name"]: e for e in spec["env"]}
    assert set(compose["services"]["reference-data"]["environment"]) <= set(env)


def test_the_auth_callout_runs_as_in_compose_with_its_secrets(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """nats-auth admits organisations (docs/security.md): without it no municipality logs in."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["nats-auth"]
    deployment = resources[("Deployment", "nats-auth")]
    assert deployment["spec"]["replicas"] == compose["deploy"]["replicas"] == 2
    spec = container(deployment)
    assert spec["command"] == compose["command"]
    env = {e["name"]: e for e in spec["env"]}
    assert set(compose["environment"]) == set(env)
    assert env["GT_NATS_USER"]["value"] == compose["environment"]["GT_NATS_USER"] == "auth"
    assert env["GT_NATS_URL"]["value"] == compose["environment"]["GT_NATS_URL"]
    secrets = {"GT_NATS_PASSWORD": "GT_NATS_AUTH_PASSWORD", "GT_NATS_CALLOUT_SEED": None}
    for key, secret_key in secrets.items():
        assert "value" not in env[key], f"nats-auth.{key} holds a literal secret"
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "gt-secrets", "key": secret_key or key}
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
