"""History through the gateway: audit's GraphQL mounted, `asOf`/`knownAt` on every query root."""
