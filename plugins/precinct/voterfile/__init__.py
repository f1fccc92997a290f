"""Voterfile matching: form validation, the pipeline's SQL, name recovery and chunking.

Pure logic (no Airflow import). The SQL is PostgreSQL/Redshift-compatible, takes bound values
(`%(name)s`) and only identifiers validated by `precinct.voterfile.validation`.
"""
