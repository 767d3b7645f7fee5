"""The notifier's pure domain: expiry schedule and webhook subscriptions (no I/O)."""
