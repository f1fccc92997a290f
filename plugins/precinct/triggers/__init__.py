"""Deferrable triggers (long external runs), one module per service."""
