"""GT_OCDS_OCID_PREFIX: the deployment's ocid prefix, its default and its form (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit.ocds.ocid_prefix import DEFAULT_OCID_PREFIX, BadOcidPrefix, ocid_prefix
from audit.ocds.releases import ocid


@pytest.fixture(autouse=True)
def _read_afresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("GT_OCDS_OCID_PREFIX", raising=False)
    ocid_prefix.cache_clear()
    yield
    monkeypatch.delenv("GT_OCDS_OCID_PREFIX", raising=False)
    ocid_prefix.cache_clear()


def test_unset_the_prefix_is_the_one_every_export_used() -> None:
    assert DEFAULT_OCID_PREFIX == "ocds-gtnl01"
    assert ocid("T-1") == "ocds-gtnl01-T-1"


def test_a_deployment_publishes_under_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GT_OCDS_OCID_PREFIX", "ocds-213czf")
    assert ocid("T-1") == "ocds-213czf-T-1"


@pytest.mark.parametrize(
    "bad", ["gtnl01", "ocds-GTNL01", "ocds-gtnl0", "ocds-gtnl012", "ocds-gt nl1", "", "OCDS-gtnl01"]
)
def test_a_prefix_not_of_the_registered_form_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("GT_OCDS_OCID_PREFIX", bad)
    with pytest.raises(BadOcidPrefix) as refused:
        ocid("T-1")
    assert str(refused.value) == (
        f"bad setting GT_OCDS_OCID_PREFIX={bad!r}: an ocid prefix is 'ocds-' followed by six"
        " lowercase letters or digits (OCDS registers one per publisher, e.g. ocds-gtnl01)"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["ocds", "import", "releases.json"],
        ["ocds", "export", "T-1"],
        ["ocds", "bulk", "--out", "-"],
    ],
)
def test_the_cli_refuses_a_bad_prefix_before_reading_or_writing_anything(
    args: list[str],
) -> None:
    from typer.testing import CliRunner

    from audit.cli import app

    # No NATS at this URL and no input file: the prefix is refused first, in one line.
    result = CliRunner().invoke(
        app, [*args, "--nats-url", "nats://127.0.0.1:9"], env={"GT_OCDS_OCID_PREFIX": "gtnl01"}
    )
    assert result.exit_code == 2, result.output
    assert "error: bad setting GT_OCDS_OCID_PREFIX='gtnl01': an ocid prefix is" in result.output
    assert "Traceback" not in result.output
