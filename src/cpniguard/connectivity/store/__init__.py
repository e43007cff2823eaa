"""Connectivity log store: who held which address (and port) when, with the evidence.

`LogStore` is what attribution codes against; `EmbeddedLogStore` keeps day partitions in
Parquet with a memory-mapped key index on local disk; `ClickHouseLogStore` (clickhouse.py)
implements the same protocol over ClickHouse or chDB, so nothing above this package knows where
rows live. `open_store` picks one from a setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.index import Match, Query
from cpniguard.connectivity.store.schema import (
    ALL_PORTS,
    OPEN_END,
    Address,
    StoredInterval,
    from_interval,
)
from cpniguard.connectivity.store.store import EmbeddedLogStore, PartitionInfo


@runtime_checkable
class FindsFileParts(Protocol):
    """A store that can name the parts one file's ingest wrote: (day, part) on those days."""

    def parts_from_file(self, source: str, days: Iterable[date | str],
                        sha256: str) -> list[tuple[str, int]]: ...


@runtime_checkable
class LogStore(Protocol):
    # A server backend has no paths to return; callers only learn that the write is durable.
    def add(self, source: str, rows: Iterable[StoredInterval]) -> object: ...

    # `add` for rows already in columns (schema.ARROW_SCHEMA), split and ordered the same way.
    def add_table(self, source: str, table: pa.Table) -> list[Path]: ...

    def lookup(
        self, address: Address | str, at: datetime, *, port: int | None = None,
        skew: timedelta = ...,
    ) -> list[Match]: ...

    def batch_lookup(self, queries: Iterable[Query]) -> list[list[Match]]: ...

    def partitions(self, source: str | None = None) -> list[PartitionInfo]: ...

    def drop_partition(
        self, source: str, day: date | str, part: int | None = None
    ) -> list[Path]: ...

    # Retention with legal holds: the rows `keep` refuses go, the others stay, and no reader
    # ever sees a kept row twice. Returns (rows removed, rows kept).
    def purge_day(
        self, source: str, day: date | str, keep: Callable[[StoredInterval], bool]
    ) -> tuple[int, int]: ...


ENGINE_SCHEMES = ("clickhouse", "clickhouses", "chdb")


def open_store(url_or_path: str | Path) -> LogStore:
    """The store a setting names: clickhouse://, clickhouses:// or chdb:/// URL, else a root.

    See `clickhouse_client` for the URL forms. The ClickHouse modules load only when named.
    """
    text = str(url_or_path)
    if text.partition("://")[0] not in ENGINE_SCHEMES:
        return EmbeddedLogStore(url_or_path)
    from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore, display_url
    from cpniguard.connectivity.store.clickhouse_client import connect, parse_url

    url = parse_url(text)
    return ClickHouseLogStore(connect(url), database=url.database, table=url.table,
                              cluster=url.cluster, name=display_url(url))


__all__ = [
    "ALL_PORTS",
    "OPEN_END",
    "EmbeddedLogStore",
    "FindsFileParts",
    "LogStore",
    "Match",
    "PartitionInfo",
    "Query",
    "StoredInterval",
    "from_interval",
    "open_store",
]
