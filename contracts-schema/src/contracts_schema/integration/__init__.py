"""Integration events: the stable, versioned public feed for municipal systems (CloudEvents 1.0)."""

from contracts_schema.integration.cloudevent import CloudEvent, IntegrationEvent
from contracts_schema.integration.events import INTEGRATION_EVENTS, INTEGRATION_TYPES

__all__ = ["INTEGRATION_EVENTS", "INTEGRATION_TYPES", "CloudEvent", "IntegrationEvent"]
