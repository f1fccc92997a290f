"""Unit tests of precinct.finance (no services needed)."""
