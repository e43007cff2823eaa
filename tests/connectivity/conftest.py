"""Fixtures for the connectivity tests: the in-process ClickHouse engine (chDB)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor, chdb_executor


@pytest.fixture(scope="session")
def chdb_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectExecutor]:
    engine = chdb_executor(str(tmp_path_factory.mktemp("chdb")))
    yield engine
    engine.close()
