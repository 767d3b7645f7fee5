"""Personal data at the gateway: login subjects become pseudonyms before any command is sent,
and the pseudonym -> identity mapping lives in a store that can forget (docs/privacy.md)."""
