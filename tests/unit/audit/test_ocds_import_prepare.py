"""`importer.prepare`: what every import needs loaded once per process, before the first
mapping (the merge rules, the compiled release validator), not the slow reference validator
that only a refused release needs."""

from __future__ import annotations

from audit.ocds import schemas
from audit.ocds.importer import prepare
from audit.ocds.packages import merger


def test_prepare_loads_the_merge_rules_and_the_compiled_validator_only() -> None:
    merger.cache_clear()
    schemas._quick.cache_clear()
    schemas._validator.cache_clear()
    prepare()
    assert merger.cache_info().currsize == 1
    assert schemas._quick.cache_info().currsize == 1
    assert schemas._validator.cache_info().currsize == 0
