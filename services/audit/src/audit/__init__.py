"""History and audit: bitemporal as-of views, timelines, verified replays, OCDS export."""
