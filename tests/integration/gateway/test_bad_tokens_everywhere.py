"""attack8: a request that carries a bearer token the gateway cannot accept (expired, signed
with another key, `alg: none`, not a JWT) is refused as a whole, whatever it asks. Before, a
query of public fields only (`tenders`, `health`) was answered as if anonymous, with no error:
the client never learned its token had lapsed, and a forged token went unremarked."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import websockets
from websockets.typing import Subprotocol

from gateway.app import build_app
from gateway.serve import Server
from tests.integration.gateway.harness import Gateway

PUBLIC = "{ tenders(first: 1) { totalCount } health { ok } }"


def _part(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def bad_tokens(gateway: Gateway) -> dict[str, str]:
    claims = {"sub": "x", "role": "coordinator", "aud": gateway.settings.jwt_audience}
    return {
        "expired": jwt.encode(
            {**claims, "exp": int(time.time()) - 60}, gateway.settings.jwt_secret or "", "HS256"
        ),
        "other key": jwt.encode(
            {**claims, "exp": int(time.time()) + 600}, "someone-else-s-secret-0123456789", "HS256"
        ),
        "alg none": f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}.",
        "not a jwt": "garbage",
    }


@pytest.mark.parametrize("kind", ["expired", "other key", "alg none", "not a jwt"])
async def test_a_bad_token_is_refused_even_for_public_fields(gateway: Gateway, kind: str) -> None:
    token = bad_tokens(gateway)[kind]
    assert gateway.client is not None
    response = await gateway.client.post(
        "/graphql", json={"query": PUBLIC}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert response.status_code == 401, body
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    # Without a token the same document is public, and a valid token reads it too.
    assert "errors" not in await gateway.query(PUBLIC)
    assert "errors" not in await gateway.query(PUBLIC, token=gateway.token("auditor"))


async def test_a_second_authorization_header_is_refused(gateway: Gateway) -> None:
    """review10: the check read the last header and the request the first, so a bad token
    followed by a good one was answered, as anonymous."""
    assert gateway.client is not None
    good = f"Bearer {gateway.token('auditor')}"
    bad = f"Bearer {bad_tokens(gateway)['other key']}"
    for pair in ((bad, good), (good, bad), (good, good)):
        response = await gateway.client.post(
            "/graphql",
            json={"query": PUBLIC},
            headers=[("Authorization", pair[0]), ("Authorization", pair[1])],
        )
        body = response.json()
        assert response.status_code == 401, body
        assert "more than one Authorization header" in body["errors"][0]["message"]


async def test_a_websocket_handshake_with_a_bad_token_is_refused(gateway: Gateway) -> None:
    assert gateway.read is not None
    server = await Server(build_app(gateway.read, gateway.settings), log_config=None).start()
    url = server.url.replace("http", "ws") + "/graphql"
    try:
        bad = {"Authorization": f"Bearer {bad_tokens(gateway)['expired']}"}
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                additional_headers=bad,
                open_timeout=60,
            )
        assert refused.value.response.status_code == 403
        # Without the header the handshake is the protocol's as before.
        ws = await websockets.connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60
        )
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.close()
    finally:
        await server.stop()
