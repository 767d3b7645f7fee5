"""Test harness: real servers as local processes (NATS, PostgreSQL) and helpers."""
