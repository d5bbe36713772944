#!/bin/sh
# Runs once, on the first start of an empty data volume: the services' own role and database, apart
# from Temporal's, so the worker's credentials cannot touch the workflow store. The password reaches
# psql as a variable and is quoted by psql (:'saga_password'), never pasted into the SQL text.
set -eu
: "${SAGA_DB_PASSWORD:?SAGA_DB_PASSWORD must be set}"
psql -v ON_ERROR_STOP=1 -v saga_password="$SAGA_DB_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE saga LOGIN PASSWORD :'saga_password';
CREATE DATABASE saga OWNER saga;
SQL
