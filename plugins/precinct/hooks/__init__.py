"""Airflow hooks for the services Precinct talks to, one module per service."""
