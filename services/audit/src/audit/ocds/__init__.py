"""OCDS 1.1.5: releases from events, records, and offline validation with a shipped schema."""
