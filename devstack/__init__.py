"""Local stand-ins for the services Precinct talks to, used by `make demo`, `make up` and tests."""
