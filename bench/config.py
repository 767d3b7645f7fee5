"""Sizes of a quick and a full run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    mode: str
    seed: int
    history_events: int  # the history every read-side suite replays
    concurrencies: tuple[int, ...]  # command suite
    commands_per_level: int
    peer_events: int  # eventsourcing side by side
    rebuild_sizes: tuple[int, ...]  # scale curve: rebuild time vs history size
    events_per_aggregate: tuple[int, ...]  # scale curve: as-of read latency
    freshness_samples: int
    freshness_load_per_s: int
    http_seconds: int  # wrk duration per query
    http_connections: int
    asof_sizes: tuple[int, ...] = (10_000, 100_000)  # as-of latency vs history length
    cost_samples: int = 1_000  # costs suite: commands, requests per query (in 5 rounds)


QUICK = Config(
    mode="quick",
    seed=2026,
    history_events=20_000,
    concurrencies=(1, 16, 64),
    commands_per_level=600,
    peer_events=2_000,
    rebuild_sizes=(2_000, 5_000, 10_000, 20_000),
    events_per_aggregate=(10, 100, 1_000),
    freshness_samples=100,
    freshness_load_per_s=100,
    http_seconds=5,
    http_connections=16,
    asof_sizes=(10_000, 100_000),
)

FULL = Config(
    mode="full",
    seed=2026,
    history_events=1_000_000,
    concurrencies=(1, 8, 32, 128),
    commands_per_level=4_000,
    peer_events=20_000,
    rebuild_sizes=(10_000, 100_000, 300_000, 1_000_000),
    events_per_aggregate=(10, 100, 1_000, 10_000),
    freshness_samples=400,
    freshness_load_per_s=200,
    http_seconds=15,
    http_connections=16,
    asof_sizes=(10_000, 100_000, 1_000_000),
    cost_samples=2_000,
)
