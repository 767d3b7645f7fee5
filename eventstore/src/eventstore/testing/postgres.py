"""The test harness's throwaway PostgreSQL cluster (the production launcher's)."""

from __future__ import annotations

from eventstore.pg_launcher import PostgresCluster, pg_bin

__all__ = ["PostgresCluster", "pg_bin"]
