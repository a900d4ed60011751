"""Fixtures shared by the in-process HTTP tests."""

from tests.http.club import club  # noqa: F401  (a fixture)
