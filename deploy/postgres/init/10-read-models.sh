#!/bin/sh
# PostgreSQL init (runs once, on an empty data directory, as the image's entrypoint does).
# One database for the read models; the projector role owns and writes it (every projection
# runner, the gateway's included), the reader role only reads (the gateway's GraphQL queries).
# Passwords come from the container's environment, never a file.
set -eu
: "${GT_PROJECTOR_PASSWORD:?GT_PROJECTOR_PASSWORD must be set}"
: "${GT_READER_PASSWORD:?GT_READER_PASSWORD must be set}"
: "${GT_IDENTITIES_PASSWORD:?GT_IDENTITIES_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v projector_password="$GT_PROJECTOR_PASSWORD" -v reader_password="$GT_READER_PASSWORD" \
  -v identities_password="$GT_IDENTITIES_PASSWORD" <<'SQL'
CREATE ROLE gt_projector LOGIN PASSWORD :'projector_password';
CREATE ROLE gt_reader LOGIN PASSWORD :'reader_password';
CREATE DATABASE read_models OWNER gt_projector;
\connect read_models
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO gt_projector;
GRANT USAGE ON SCHEMA public TO gt_reader;
-- Tables the projector creates later are readable by the gateway.
ALTER DEFAULT PRIVILEGES FOR ROLE gt_projector IN SCHEMA public GRANT SELECT ON TABLES TO gt_reader;
-- The identity store (pseudonym -> login subject, docs/privacy.md): its own database and role,
-- apart from the read models, so an erasure never touches (and no reader sees) anything else.
\connect postgres
CREATE ROLE gt_identities LOGIN PASSWORD :'identities_password';
CREATE DATABASE identities OWNER gt_identities;
REVOKE CONNECT ON DATABASE identities FROM PUBLIC;
\connect identities
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO gt_identities;
SQL
