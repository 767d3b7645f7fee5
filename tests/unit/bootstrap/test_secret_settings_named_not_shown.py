"""A bad secret setting is named and refused before anything starts, its value never printed.

Before: `GT_NATS_PASSWORD='two words'` was refused with `(got 'two words')` on stderr (which
ends up in logs), and a GT_SIGNING_SEED that is no nkey seed was not checked at all: the
service retried its NATS connect and, once connected, died in a traceback (`nkeys: invalid
seed`); `backup acknowledge-loss` printed the same traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import nkeys
import pytest
from typer.testing import CliRunner

from bootstrap.serve import cli as serve_cli
from eventstore.settings import quoted_setting, signing_seed_problem
from eventstore.signing import new_seed

BOUND = 120  # seconds: a part that hangs retrying its connect fails the test, never the run
SECRET = "hunter2 is my"  # in both a bad password and a bad seed: never on the screen
BAD_SEED = f"SU{SECRET.replace(' ', '')}AAAA"
ACCOUNT_SEED = nkeys.encode_seed(b"k" * 32, nkeys.PREFIX_BYTE_ACCOUNT).decode()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


@pytest.mark.parametrize(
    ("part", "name", "value"),
    [
        ("registry", "GT_NATS_PASSWORD", SECRET),
        ("registry", "GT_SIGNING_SEED", BAD_SEED),
        ("enrolment", "GT_SIGNING_SEED", ACCOUNT_SEED),
        ("gateway", "GT_NATS_PASSWORD", SECRET),
    ],
    ids=["registry-password", "registry-seed", "enrolment-account-seed", "gateway-password"],
)
def test_a_bad_secret_is_named_before_nats_and_not_shown(
    tmp_path: Path, part: str, name: str, value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}",
        "GT_DATA_DIR": str(tmp_path / "data"),
        "GT_DEV_MODE": "true",  # the gateway's missing JWT secret is not this test's
        name: value,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bootstrap.serve", part],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"still running, no word of {name}: {exc.stderr!r}")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert name in done.stderr, done.stderr
    assert "not shown" in done.stderr, done.stderr
    assert value not in done.stderr + done.stdout
    assert "hunter2" not in done.stderr + done.stdout


def test_what_a_seed_is_checked_for() -> None:
    assert signing_seed_problem(new_seed()) is None
    assert "not an nkey seed" in str(signing_seed_problem(BAD_SEED))
    assert "not an nkey seed" in str(signing_seed_problem(new_seed() + "\n"))
    assert "not a user's" in str(signing_seed_problem(ACCOUNT_SEED))
    # Every NATS password of the deployment's NATS config is a secret, not only the client's.
    assert SECRET not in quoted_setting("GT_NATS_ROUTE_PASSWORD", SECRET)
    assert quoted_setting("GT_HTTP_PORT", "x") == " (got 'x')"


def acknowledge(*args: str, seed: str | None = None) -> tuple[int, str]:
    env = {"GT_SIGNING_SEED": seed} if seed is not None else {}
    closed = f"nats://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(
        serve_cli,
        ["backup", "acknowledge-loss", *args, "--nats-url", closed],
        env=env,
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "seed", "said"),
    [
        (["LEDGER", "--reason", "disk lost"], new_seed(), "LEDGER is no event stream"),
        (["REGISTRY", "--reason", "  "], new_seed(), "--reason is empty"),
        (["REGISTRY"], new_seed(), "--reason"),
        (["REGISTRY", "--reason", "disk lost"], "", "GT_SIGNING_SEED is unset"),
        (["REGISTRY", "--reason", "disk lost"], BAD_SEED, "GT_SIGNING_SEED is not an nkey seed"),
        (["ENROLMENT", "--reason", "disk lost"], ACCOUNT_SEED, "not a user's"),
    ],
    ids=["unknown-stream", "empty-reason", "no-reason", "no-seed", "bad-seed", "account-seed"],
)
def test_acknowledge_loss_refuses_bad_input_before_it_connects(
    args: list[str], seed: str, said: str
) -> None:
    code, output = acknowledge(*args, seed=seed)
    assert code == 2, output
    assert said in output, output
    assert "cannot reach NATS" not in output  # refused before any connect
    assert "hunter2" not in output
    assert "Traceback" not in output


def test_the_known_streams_are_listed_for_an_unknown_one() -> None:
    code, output = acknowledge("registry", "--reason", "x", seed=new_seed())
    assert code == 2, output
    assert "REGISTRY" in output, output
    assert "ENROLMENT" in output, output


@pytest.mark.parametrize(
    ("seed", "said"),
    [
        ("", "is not set"),
        (BAD_SEED, "is not an nkey seed"),
        (new_seed(), "is an nkey seed, but not an account's"),
    ],
    ids=["unset", "no-seed", "user-seed"],
)
def test_the_auth_callout_checks_its_seed_before_it_connects(
    tmp_path: Path, seed: str, said: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {"GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}", "GT_NATS_CALLOUT_SEED": seed}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "notifier.nats_auth", "serve"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
    except subprocess.TimeoutExpired as exc:  # before: it connected first, retrying for ever
        pytest.fail(f"still running: {exc.stderr!r}")
    assert done.returncode == 2, done.stderr
    assert f"GT_NATS_CALLOUT_SEED {said}" in done.stderr, done.stderr
    assert "NATS:" not in done.stderr  # no connect was tried
    assert "Traceback" not in done.stderr
    assert not seed or seed not in done.stderr


@pytest.mark.parametrize(
    ("args", "name", "url", "said"),
    [
        (["gateway"], "GT_DATABASE_URL", "postgresql://gt:hunter2@db:port/rm", "port is not a"),
        (["projector"], "GT_DATABASE_URL", "postgresql://gt:hunter2@db:70000/rm", "not 1..65535"),
        (["gateway"], "GT_IDENTITY_DATABASE_URL", "postgresql://gt:hunter2@db:x/i", "port is not"),
        (["notifier", "run"], "GT_DATABASE_URL", "mysql://gt:hunter2@db/n", "driver 'mysql'"),
        (["notifier", "run"], "GT_DATABASE_URL", "postgresql://gt:hunter2@db:0/n", "not 1..65535"),
    ],
    ids=["gateway-port", "projector-range", "gateway-identities", "notifier-driver", "notifier-0"],
)
def test_a_bad_database_url_is_named_before_nats_without_its_password(
    tmp_path: Path, args: list[str], name: str, url: str, said: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}",
        "GT_DATA_DIR": str(tmp_path / "data"),
        "GT_DEV_MODE": "true",
        name: url,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bootstrap.serve", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
    except subprocess.TimeoutExpired as exc:  # before: the notifier went on to connect
        pytest.fail(f"still running, no word of {name}: {exc.stderr!r}")
    assert done.returncode == 2, done.stderr  # before: the gateway's traceback, exit 1
    assert "Traceback" not in done.stderr
    assert f"{name}: " in done.stderr, done.stderr
    assert said in done.stderr, done.stderr
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("command", "url", "said"),
    [
        (["projections", "rebuild"], "postgresql://gt:hunter2@db:x/rm", "port is not a number"),
        (["projections", "rebuild"], "mysql://gt:hunter2@db/rm", "driver 'mysql'"),
        (["verify"], "postgresql://gt:hunter2@db:0/rm", "not 1..65535"),
    ],
    ids=["rebuild-port", "rebuild-driver", "verify-port-0"],
)
def test_the_audit_cli_names_a_bad_database_url_before_it_connects(
    command: list[str], url: str, said: str
) -> None:
    from audit.cli import app

    closed = f"nats://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(app, [*command, "--database-url", url, "--nats-url", closed])
    assert result.exit_code == 2, result.output  # before: a traceback (exit 1)
    assert said in result.output, result.output
    assert "--database-url" in result.output, result.output
    assert "cannot reach NATS" not in result.output
    assert "hunter2" not in result.output
