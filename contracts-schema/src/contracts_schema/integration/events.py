"""Integration event payloads, versioned independently of the domain events."""

from __future__ import annotations

from pydantic import BaseModel

INTEGRATION_EVENTS: tuple[type[BaseModel], ...] = ()
