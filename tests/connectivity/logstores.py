"""Log stores for tests: the embedded one, and the ClickHouse one on chDB, fresh for each use.

chDB runs one engine per process, so every ClickHouse store in a test run shares the engine of
the `chdb_engine` fixture and gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore
from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor
from cpniguard.connectivity.store.clickhouse_sql import identifier

BACKENDS = ("embedded", "chdb")
AnyStore = EmbeddedLogStore | ClickHouseLogStore


@contextmanager
def fresh_store(backend: str, engine: ConnectExecutor, root: Path) -> Iterator[AnyStore]:
    if backend == "embedded":
        yield EmbeddedLogStore(root / "store")
        return
    database = f"test_{uuid.uuid4().hex}"
    try:
        yield ClickHouseLogStore(engine, database=database)
    finally:
        engine.command(f"DROP DATABASE IF EXISTS {identifier(database)} SYNC")
