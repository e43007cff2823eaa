"""Connectivity log store: who held which address (and port) when, with the evidence.

`LogStore` is what attribution codes against; `EmbeddedLogStore` keeps day partitions in
Parquet with a memory-mapped key index on local disk. A server backend (ClickHouse) is meant
to implement the same protocol, so nothing above this package knows where rows live.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

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
class LogStore(Protocol):
    # A server backend has no paths to return; callers only learn that the write is durable.
    def add(self, source: str, rows: Iterable[StoredInterval]) -> object: ...

    def lookup(
        self, address: Address | str, at: datetime, *, port: int | None = None,
        skew: timedelta = ...,
    ) -> list[Match]: ...

    def batch_lookup(self, queries: Iterable[Query]) -> list[list[Match]]: ...

    def partitions(self, source: str | None = None) -> list[PartitionInfo]: ...

    def drop_partition(
        self, source: str, day: date | str, part: int | None = None
    ) -> list[Path]: ...


__all__ = [
    "ALL_PORTS",
    "OPEN_END",
    "EmbeddedLogStore",
    "LogStore",
    "Match",
    "PartitionInfo",
    "Query",
    "StoredInterval",
    "from_interval",
]
