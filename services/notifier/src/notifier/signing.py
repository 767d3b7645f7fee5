"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with a per-subscription secret.

The secret is derived from the notifier's master key and the subscription id, so no secret is
ever written to the (append-only, widely readable) event log; an operator hands it to the
organisation with `python -m bootstrap.serve notifier webhook-secret <subscription_id>`.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-GT-Signature"
TIMESTAMP_HEADER = "X-GT-Timestamp"
DELIVERY_HEADER = "X-GT-Delivery"


def subscription_secret(master_key: str, subscription_id: str) -> str:
    digest = hmac.new(master_key.encode(), f"webhook:{subscription_id}".encode(), hashlib.sha256)
    return digest.hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: int = 300
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
