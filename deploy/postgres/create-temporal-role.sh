#!/bin/sh
# Runs once, on the first start of an empty data volume: Temporal's own role, owner of its two
# databases and nothing else, so the Temporal services never hold the superuser's password. The
# schema job then finds the databases in place and migrates them as this role. The password reaches
# psql as a variable and is quoted by psql (:'temporal_password'), never pasted into the SQL text.
set -eu
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set}"
psql -v ON_ERROR_STOP=1 -v temporal_password="$TEMPORAL_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
