"""Operators: one job each, templated, idempotent."""
