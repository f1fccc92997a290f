"""Precinct: hooks, operators and pipeline logic for campaign data teams on Airflow 3."""
