"""Fixtures for the central ingest: a private PostgreSQL and a fleet broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import TempPostgres, pg_bindir


@pytest.fixture(scope="module")
def postgres() -> Iterator[TempPostgres]:
    if pg_bindir() is None:
        pytest.fail("PostgreSQL is not installed: make test's bootstrap installs it (apt-get)")
    pg = TempPostgres()
    pg.start()
    yield pg
    pg.stop()
