-- Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d), as
-- POSTGRES_USER in POSTGRES_DB (glamcast: the Feast SQL registry). MLflow gets a database of
-- its own so that its schema migrations never touch the registry's tables.
CREATE DATABASE mlflow;
