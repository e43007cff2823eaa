"""The store parts one file is written as, and how an interrupted attempt's parts are found.

A file is written a segment at a time (see `ingest`); each `add` call makes at most one part
per UTC day, and every row carries the file's hash as evidence, which is how the parts of an
attempt that died are found again, exactly, on the re-run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity import continuity
from cpniguard.connectivity.models import IngestedFile
from cpniguard.connectivity.store import FindsFileParts, LogStore
from cpniguard.connectivity.store.schema import StoredInterval, to_table
from cpniguard.connectivity.store.writer import table_days


def parts_from_file(store: LogStore, source: str, days: Iterable[str],
                    sha256: str) -> list[tuple[str, int]]:
    """(day, part) of each part of `source` on `days` that an ingest of `sha256` wrote."""
    if not isinstance(store, FindsFileParts):
        raise TypeError(f"{type(store).__name__} cannot find an interrupted ingest's parts")
    return store.parts_from_file(source, days, sha256)


def drop_attempt(record: IngestedFile, store: LogStore) -> None:
    """Remove the partitions an interrupted attempt at this file may have published."""
    if not record.store:
        return
    for day, part in parts_from_file(store, record.format, record.days, record.sha256):
        store.drop_partition(record.format, day, part)


class Parts:
    """The store parts one file is written as, a segment at a time, so that an ingest's memory
    is bounded by a segment, not by the file.

    Before each write the days it touches are added to the file's record, so that a crash at
    any point leaves a record from which `drop_attempt` finds every part written. What the
    open-session registry needs of the rows is kept (`continuity.slim`), for the commit point.
    """

    def __init__(self, record: IngestedFile, store: LogStore, name: str, fmt: str) -> None:
        self.record, self.store, self.name, self.fmt = record, store, name, fmt
        self.places: list[object] = []
        self.rows = 0
        self._slims: list[Any] = []

    def write_rows(self, rows: list[StoredInterval]) -> None:
        self.write_table(to_table(rows))  # both stores' `add` is this conversion, then this

    def write_table(self, table: Any) -> None:
        if not len(table):
            return
        # Recorded before the write, so a crash during it can still be cleaned up exactly.
        # (table_days also refuses an over-long interval here, before anything is written.)
        self.record.store = self.name
        self.record.days = sorted({*self.record.days, *table_days(table)})
        self.record.save(update_fields=["store", "days"])
        written = self.store.add_table(self.fmt, table)
        # The protocol promises only durability; the stores here return the parts they wrote.
        self.places += written if isinstance(written, list) else []
        self.rows += len(table)
        self._slims.append(continuity.slim(table))

    def slim(self) -> Any:
        if not self._slims:
            return continuity.SLIM_SCHEMA.empty_table()
        return pa.concat_tables(self._slims)

    def undo(self) -> None:
        """Drop every part written so far (the file is then read again another way)."""
        drop_attempt(self.record, self.store)
        self.record.days = []
        self.record.save(update_fields=["days"])
        self.places, self.rows, self._slims = [], 0, []


__all__ = ["Parts", "drop_attempt", "parts_from_file"]
