-- Run by the postgres image once, when its data volume is new: an empty database `ecoin` beside
-- Dagster's, for ECOIN_DATABASE_URL=postgresql://USER:PASSWORD@postgres:5432/ecoin
-- (deploy/STORAGE.md). Dagster's instance tables live in DAGSTER_PG_DB.
CREATE DATABASE ecoin;
