"""Bearer tokens: HS256 by default, RS256 with a public key; every refusal says why."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.auth import ANONYMOUS, AuthenticationFailed, Role, issue_token, principal_from_header
from gateway.settings import GatewaySettings

HS = GatewaySettings(jwt_secret="unit-test-secret-that-is-long-enough-for-hs256")


def test_hs256_roles_and_the_participant_s_organisation() -> None:
    token = issue_token(HS, Role.PARTICIPANT, "alice", organisation="GM0363")
    principal = principal_from_header(f"Bearer {token}", HS)
    assert principal.role is Role.PARTICIPANT
    assert principal.organisation == "GM0363"
    assert principal.actor == "participant:alice@GM0363"
    assert principal_from_header(None, HS) is ANONYMOUS


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"role": "participant"}, "must carry its organisation code"),
        ({"role": "participant", "org": "Amsterdam"}, "must carry its organisation code"),
        ({"role": "superuser"}, "unknown role 'superuser'"),
        ({"role": "coordinator", "exp": int(time.time()) - 10}, "has expired"),
        ({"role": "coordinator", "aud": "someone-else"}, "invalid bearer token"),
    ],
)
def test_unacceptable_tokens_are_refused_with_the_reason(claims: dict, reason: str) -> None:
    body = {"sub": "x", "aud": HS.jwt_audience, "exp": int(time.time()) + 60, **claims}
    token = jwt.encode(body, HS.jwt_secret or "", algorithm="HS256")
    with pytest.raises(AuthenticationFailed, match=reason):
        principal_from_header(f"Bearer {token}", HS)


def test_rs256_verifies_with_the_public_key_and_refuses_an_hs256_forgery() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    rs = GatewaySettings(jwt_algorithm="RS256", jwt_public_key=public)
    token = issue_token(rs, Role.AUDITOR, "court", private_key=private)
    assert principal_from_header(f"Bearer {token}", rs).role is Role.AUDITOR
    # Signing with the public key as an HMAC secret (algorithm confusion) must not pass.
    forged = jwt.encode(
        {"sub": "x", "role": "coordinator", "aud": rs.jwt_audience, "exp": int(time.time()) + 60},
        "not-the-key-but-long-enough-for-the-hmac-check-000",
        algorithm="HS256",
    )
    with pytest.raises(AuthenticationFailed, match="invalid bearer token"):
        principal_from_header(f"Bearer {forged}", rs)


def test_a_gateway_without_a_key_accepts_only_anonymous_clients() -> None:
    with pytest.raises(AuthenticationFailed, match="no HS256 key configured"):
        principal_from_header("Bearer abc.def.ghi", GatewaySettings())


def test_a_verified_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified tokens are kept for speed; the expiry is checked again on every use."""
    import gateway.auth

    exp = int(time.time()) + 60
    body = {"sub": "x", "aud": HS.jwt_audience, "exp": exp, "role": "coordinator"}
    token = jwt.encode(body, HS.jwt_secret or "", algorithm="HS256")
    assert principal_from_header(f"Bearer {token}", HS).role is Role.COORDINATOR
    assert principal_from_header(f"Bearer {token}", HS).role is Role.COORDINATOR  # kept
    monkeypatch.setattr(gateway.auth.time, "time", lambda: exp + 1.0)
    with pytest.raises(AuthenticationFailed, match="has expired"):
        principal_from_header(f"Bearer {token}", HS)


def test_a_token_verified_under_one_key_is_not_accepted_under_another() -> None:
    token = issue_token(HS, Role.COORDINATOR, "alice")
    assert principal_from_header(f"Bearer {token}", HS).role is Role.COORDINATOR
    other = GatewaySettings(jwt_secret="another-unit-test-secret-long-enough-for-hs256")
    with pytest.raises(AuthenticationFailed, match="invalid bearer token"):
        principal_from_header(f"Bearer {token}", other)
