"""Notifier settings refuse a webhook claim lease that could end during a request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notifier.settings import NotifierSettings


def test_claim_lease_must_outlast_the_request_timeout() -> None:
    with pytest.raises(
        ValidationError, match=r"webhook_claim_lease \(30.0s\) must exceed webhook_timeout"
    ):
        NotifierSettings(webhook_timeout=30, webhook_claim_lease=30)
    assert NotifierSettings(webhook_timeout=30, webhook_claim_lease=31).webhook_claim_lease == 31
