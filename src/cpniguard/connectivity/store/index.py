"""Point attribution inside one partition: memory-mapped keys, binary search, exact filters.

The key index is sorted by (hi, lo, start). A row for a network matches an address when the
address masked to the row's prefix length equals the row's key, so each prefix length present
in the partition (a handful: /32, /128, the delegated /56 or /64) is probed with its own
searchsorted; a wider scan would be slower and a narrower one would miss delegated prefixes.
Only the rows that match are then read from Parquet, for their evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import (
    ARROW_SCHEMA,
    Address,
    StoredInterval,
    address_key,
    from_table,
    prefix_mask,
    to_us,
)
from cpniguard.connectivity.store.writer import INDEX_FILES, KEY_DTYPE

_FLAT_COLUMNS = frozenset(
    name for name in ARROW_SCHEMA.names
    if not pa.types.is_nested(ARROW_SCHEMA.field(name).type))
_FEW_GROUPS = 4
_NO_PORT = -2  # batch encoding of "no port given"; real ports are 0..65535, -1 means all


@dataclass(frozen=True, slots=True)
class Query:
    address: Address | str
    at: datetime
    port: int | None = None
    skew: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Match:
    """A stored row that answers a query, and where it is kept (for the disclosure record)."""

    interval: StoredInterval
    source: str
    day: str
    part: int
    row: int


@dataclass(frozen=True, slots=True)
class _Probe:
    hi: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.uint64]
    low: npt.NDArray[np.int64]     # window start, microseconds (at - skew)
    high: npt.NDArray[np.int64]    # window end, inclusive (at + skew)
    port: npt.NDArray[np.int64]


def probe_arrays(queries: list[Query]) -> _Probe:
    keys = [address_key(q.address) for q in queries]
    for query, key in zip(queries, keys, strict=True):
        if key[2] != 128:  # an IPv4 /32 is /128 once mapped
            raise ValueError(f"lookup needs a single address, not a network: {query.address}")
        if query.skew < timedelta(0):
            raise ValueError("skew must not be negative")
        if query.port is not None and not 0 <= query.port <= 65535:
            raise ValueError(f"bad port {query.port}")
    at = np.array([to_us(q.at) for q in queries], dtype=np.int64)
    skew = np.array([q.skew // timedelta(microseconds=1) for q in queries], dtype=np.int64)
    return _Probe(
        hi=np.array([k[0] for k in keys], dtype=np.uint64),
        lo=np.array([k[1] for k in keys], dtype=np.uint64),
        low=at - skew,
        high=at + skew,
        port=np.array([_NO_PORT if q.port is None else q.port for q in queries], dtype=np.int64),
    )


def _constant_columns(group: pq.RowGroupMetaData) -> dict[str, Any]:
    """Top-level columns holding one value (or only nulls) in this row group, by statistics.

    Only exact statistics count: min == max with no nulls, or every value null. A truncated
    string statistic cannot pass (its min and max would differ), and a column without
    statistics is simply decoded."""
    found: dict[str, Any] = {}
    for number in range(group.num_columns):
        column = group.column(number)
        name = column.path_in_schema
        if "." in name or name not in _FLAT_COLUMNS:  # nested (evidence): always decoded
            continue
        stats = column.statistics
        if stats is None:
            continue
        if stats.null_count == group.num_rows:
            found[name] = None
        elif stats.has_min_max and stats.null_count == 0 and stats.min == stats.max:
            found[name] = stats.min
    return found


class PartitionIndex:
    def __init__(self, manifest_path: Path) -> None:
        self.manifest_path = manifest_path
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        self.source: str = self.manifest["source"]
        self.day: str = self.manifest["day"]
        self.part: int = self.manifest["part"]
        self.prefix_lengths: list[int] = self.manifest["prefix_lengths"]
        stem = manifest_path.name.removesuffix(".manifest.json")
        self.parquet_path = manifest_path.with_name(f"{stem}.parquet")
        # Still memory-mapped, but as plain ndarrays: numpy's memmap subclass adds a Python
        # call to every slice, which dominated batch lookups.
        arrays = {
            label: np.load(manifest_path.with_name(f"{stem}.{label}.npy"),
                           mmap_mode="r").view(np.ndarray)
            for label in INDEX_FILES
        }
        self.key: npt.NDArray[np.void] = arrays["key"]
        if self.key.dtype != KEY_DTYPE:
            raise ValueError(f"{manifest_path}: unexpected key dtype {self.key.dtype}")
        self.start: npt.NDArray[np.int64] = arrays["start"]
        self.end: npt.NDArray[np.int64] = arrays["end"]
        self.row: npt.NDArray[np.int32] = arrays["row"]
        self.plen: npt.NDArray[np.uint8] = arrays["plen"]
        self.pfirst: npt.NDArray[np.int32] = arrays["pfirst"]
        self.plast: npt.NDArray[np.int32] = arrays["plast"]
        self._file: pq.ParquetFile | None = None
        self._group_starts: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._constants: dict[int, dict[str, Any]] = {}  # by row group, read when first used
        self._names: list[str] = []

    def find_rows(self, probe: _Probe) -> list[list[int]]:
        """Parquet row numbers matching each probed query, vectorised over the queries."""
        found: list[list[int]] = [[] for _ in range(len(probe.hi))]
        for plen in self.prefix_lengths:
            mask_hi, mask_lo = prefix_mask(plen)
            wanted = np.empty(len(probe.hi), dtype=KEY_DTYPE)
            wanted["hi"] = probe.hi & np.uint64(mask_hi)
            wanted["lo"] = probe.lo & np.uint64(mask_lo)
            lefts = np.searchsorted(self.key, wanted, side="left")
            rights = np.searchsorted(self.key, wanted, side="right")
            for q in np.nonzero(rights > lefts)[0]:
                left, right = int(lefts[q]), int(rights[q])
                # Rows of one network in one day: a short run, filtered exactly.
                ok = (self.plen[left:right] == plen)
                ok &= self.start[left:right] <= probe.high[q]
                ok &= self.end[left:right] > probe.low[q]
                port = probe.port[q]
                if port != _NO_PORT:
                    first, last = self.pfirst[left:right], self.plast[left:right]
                    ok &= (first == -1) | ((first <= port) & (port <= last))
                found[q].extend(int(r) for r in self.row[left:right][ok])
        return found

    def _parquet(self) -> tuple[pq.ParquetFile, npt.NDArray[np.int64]]:
        """The open Parquet file and the first row of each row group, kept between lookups:
        opening and reading the footer costs more than decoding the one row asked for."""
        if self._file is None:
            handle = pq.ParquetFile(self.parquet_path, memory_map=True)
            sizes = [handle.metadata.row_group(g).num_rows for g in range(handle.num_row_groups)]
            self._file = handle
            self._group_starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
            self._names = list(handle.schema_arrow.names)
        return self._file, self._group_starts

    def _constant(self, group: int) -> dict[str, Any]:
        found = self._constants.get(group)
        if found is None and self._file is not None:
            found = self._constants[group] = _constant_columns(
                self._file.metadata.row_group(group))
        return found or {}

    def _columns_to_decode(self, groups: list[int]) -> tuple[list[str], dict[str, Any]]:
        """Columns that vary within (or between) these row groups, and the constant rest.

        Decoding costs about the same per column whatever it holds, and most columns of a
        partition are one value per row group (the source, the device, empty identities, a
        port range of -1): their value is already in the footer's statistics, so only the
        columns that really vary are decoded."""
        if len(groups) > _FEW_GROUPS:
            # A batch touching many groups: reading their statistics costs more than it saves.
            return list(self._names), {}
        same = dict(self._constant(groups[0]))
        for group in groups[1:]:
            other = self._constant(group)
            same = {name: value for name, value in same.items()
                    if name in other and other[name] == value}
        return [name for name in self._names if name not in same], same

    def read_rows(self, rows: list[int]) -> dict[int, StoredInterval]:
        """Only the row groups holding `rows` are decoded."""
        if not rows:
            return {}
        handle, starts = self._parquet()
        wanted = np.unique(np.asarray(rows, dtype=np.int64))
        groups = np.searchsorted(starts, wanted, side="right") - 1
        chosen = np.unique(groups)
        columns, constant = self._columns_to_decode(chosen.tolist())
        # One call for all the groups: fewer round trips, and pyarrow decodes them in parallel
        # when there are several (a batch); a single lookup stays on this thread.
        table = handle.read_row_groups(chosen.tolist(), columns=columns,
                                       use_threads=len(chosen) > 1)
        sizes = np.diff(np.append(starts, handle.metadata.num_rows))[chosen]
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        at = first[np.searchsorted(chosen, groups)] + (wanted - starts[groups])
        taken = table.take(pa.array(at))
        for name, value in constant.items():
            field = ARROW_SCHEMA.field(name)
            taken = taken.append_column(field, pa.array([value] * len(taken), field.type))
        decoded = from_table(taken)
        return dict(zip(wanted.tolist(), decoded, strict=True))

    def matches(self, rows: list[int]) -> list[Match]:
        decoded = self.read_rows(rows)
        return [Match(decoded[r], self.source, self.day, self.part, r) for r in rows]

    def lookup(
        self, address: Address | str, at: datetime, port: int | None = None,
        skew: timedelta = timedelta(0),
    ) -> list[Match]:
        [rows] = self.find_rows(probe_arrays([Query(address, at, port, skew)]))
        return self.matches(rows)
