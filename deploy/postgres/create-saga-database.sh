#!/bin/sh
# Runs once, on the first start of an empty data volume: the services' own role and database, apart
# from Temporal's, so the worker's credentials cannot touch the workflow store.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE saga LOGIN PASSWORD '${SAGA_DB_PASSWORD}';
CREATE DATABASE saga OWNER saga;
SQL
