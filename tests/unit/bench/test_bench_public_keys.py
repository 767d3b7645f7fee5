"""The keys the bench hands to the services it starts are a setting those services accept.

In round 17 the services began refusing a `GT_SIGNING_PUBLIC_KEYS` entry naming no context of
the registry (correct17), and the bench still named its own route's key ("bench"): the
registry processes of the commands suite refused to start, and its service-process rows were
not measured."""

from __future__ import annotations

from bench.loader import SIGNERS, public_keys
from contracts_schema.subjects import CONTEXTS
from eventstore.signing import public_keys_entries


def test_the_bench_keys_are_a_setting_the_services_accept() -> None:
    entries = public_keys_entries(public_keys())
    assert {context for context, _key in entries} == set(CONTEXTS)
    assert all(key == SIGNERS[context].public_key for context, key in entries)
