"""Shift-reset logic for the volunteer tracker database (no Airflow import).

- `dates`: the tracker's day from a run's logical date, in the campaign timezone (DST-safe).
- `van_rows`: VAN events and sign-ups to staged rows, with the reason for every skipped one.
- `nightly`: schema, staging, the one-transaction back-up and reset, the doors-knocked rows.
"""
