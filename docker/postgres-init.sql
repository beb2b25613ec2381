-- Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
-- MLflow's metadata lives in the `mlflow` database (POSTGRES_DB), Optuna studies in `optuna`.
CREATE DATABASE optuna;
