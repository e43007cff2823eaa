"""Point attribution inside one partition: memory-mapped keys, binary search, exact filters.

The key index is sorted by (hi, lo, start). A row for a network matches an address when the
address masked to the row's prefix length equals the row's key, so each prefix length present
in the partition (a handful: /32, /128, the delegated /56 or /64) is probed with its own
searchsorted; a wider scan would be slower and a narrower one would miss delegated prefixes.
Only the rows that match are then read, for their evidence: from the partition's row blocks
(`rowblocks`) since format 2, from Parquet before.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.store.rowblocks import RowBlocks, RowValues
from cpniguard.connectivity.store.schema import (
    ALL_PORTS,
    ARROW_SCHEMA,
    Address,
    StoredInterval,
    address_key,
    from_table,
    prefix_mask,
    to_us,
)
from cpniguard.connectivity.store.writer import KEY_DTYPE, KEY_DTYPE_BE

_FLAT_COLUMNS = frozenset(
    name for name in ARROW_SCHEMA.names
    if not pa.types.is_nested(ARROW_SCHEMA.field(name).type))
_FEW_GROUPS = 4
# Rows read one by one from the blocks while they are fewer than 1/_BLOCKS_UP_TO of the
# partition; a read of more (a purge reads them all) decodes Parquet in columns instead.
_BLOCKS_UP_TO = 8
_NO_PORT = -2  # batch encoding of "no port given"; real ports are 0..65535, -1 means all
_KEY_BE = struct.Struct(">QQ")  # format 2's key bytes
# A run of rows holding one masked key is filtered row by row in Python (a few hundred
# nanoseconds a row) up to this many rows; the rest of a longer one (a CGNAT address's port
# blocks) in numpy. Reads of up to this many rows also take scalar paths.
_SHORT_RUN = 24


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

    def subset(self, numbers: list[int]) -> _Probe:
        if len(numbers) == len(self.hi):  # the common case: every query asks about one day
            return self
        pick = np.asarray(numbers, dtype=np.intp)
        return _Probe(self.hi[pick], self.lo[pick], self.low[pick], self.high[pick],
                      self.port[pick])


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


def _interval(hi: int, lo: int, plen: int, start: int, end: int, port_first: int,
              port_last: int, values: RowValues) -> StoredInterval:
    """A row from its key arrays' values and its row block's (positional: a keyword call
    cost a tenth of a lookup)."""
    original_start, original_end, seen, octets_in, octets_out, text, evidence = values
    source, username, mac, client_id, duid, circuit_id, remote_id, device, session_id, flags, \
        cause = text
    return StoredInterval(hi, lo, plen, start, end, original_start, original_end, source, seen,
                          port_first, port_last, username, mac, client_id, duid, circuit_id,
                          remote_id, device, session_id, flags, evidence, cause, octets_in,
                          octets_out)


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
        self.format: int = self.manifest.get("format", 1)

        def mapped(label: str) -> npt.NDArray[Any]:
            # Still memory-mapped, but as a plain ndarray: numpy's memmap subclass adds a
            # Python call to every slice, which dominated batch lookups.
            path = manifest_path.with_name(f"{stem}.{label}.npy")
            array: npt.NDArray[Any] = np.load(path, mmap_mode="r").view(np.ndarray)
            return array

        self.key: npt.NDArray[np.void] = mapped("key")
        expected = KEY_DTYPE if self.format == 1 else KEY_DTYPE_BE
        if self.key.dtype != expected:
            raise ValueError(f"{manifest_path}: unexpected key dtype {self.key.dtype}")
        # What the binary search runs on: format 2's keys as opaque 16-byte values (their
        # big-endian bytes sort as the keys do), format 1's as the structured pairs.
        self._sorted: npt.NDArray[np.void] = self.key.view("V16") if self.format >= 2 else self.key
        self.start: npt.NDArray[np.int64] = mapped("start")
        self.end: npt.NDArray[np.int64] = mapped("end")
        count = len(self.key)
        files = self.manifest["files"]

        def optional(label: str, constant: int, dtype: Any) -> npt.NDArray[Any]:
            # Format 2 writes an array only when it varies; a constant one reads as a
            # zero-copy broadcast of its value.
            if self.format == 1 or f"{stem}.{label}.npy" in files:
                return mapped(label)
            return np.broadcast_to(np.array(constant, dtype), (count,))

        self.plen: npt.NDArray[np.uint8] = optional(
            "plen", self.prefix_lengths[0] if self.prefix_lengths else 0, np.uint8)
        self.pfirst: npt.NDArray[np.int32] = optional("pfirst", ALL_PORTS, np.int32)
        self.plast: npt.NDArray[np.int32] = optional("plast", ALL_PORTS, np.int32)
        # Format 1 maps index positions to Parquet rows; from format 2 they are the same.
        self.row: npt.NDArray[np.int32] | None = mapped("row") if self.format == 1 else None
        self.blocks: RowBlocks | None = None
        if self.format >= 2:
            self.blocks = RowBlocks(
                np.memmap(manifest_path.with_name(f"{stem}.rows.bin"), np.uint8, "r").view(
                    np.ndarray) if self.manifest["rows"] else np.empty(0, np.uint8),
                mapped("blocks"), self.manifest["block_rows"],
                [(file, sha) for file, sha in self.manifest["evidence_sources"]],
                self.manifest.get("block_codec", "zstd"))
        # The single-question path (`find_one`) reads scalars: a memoryview item costs a tenth
        # of a numpy scalar, and the key bytes compare as bytes.
        self._masks = [(plen, *prefix_mask(plen)) for plen in self.prefix_lengths]
        self._key_bytes: memoryview = self.key.view(np.uint8).reshape(-1).data
        self._starts: memoryview = self.start.data
        self._ends: memoryview = self.end.data
        self._file: pq.ParquetFile | None = None
        self._group_starts: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._constants: dict[int, dict[str, Any]] = {}  # by row group, read when first used
        self._names: list[str] = []

    def find_rows(self, probe: _Probe) -> list[list[int]]:
        """Parquet row numbers matching each probed query, vectorised over the queries.

        Every prefix length's masked keys go into one array, so one lookup costs two binary
        searches whatever the number of prefix lengths in the partition."""
        count = len(probe.hi)
        found: list[list[int]] = [[] for _ in range(count)]
        lengths = self.prefix_lengths
        wanted = np.empty(len(lengths) * count, dtype=self.key.dtype)
        for block, plen in enumerate(lengths):
            mask_hi, mask_lo = prefix_mask(plen)
            wanted["hi"][block * count:(block + 1) * count] = probe.hi & np.uint64(mask_hi)
            wanted["lo"][block * count:(block + 1) * count] = probe.lo & np.uint64(mask_lo)
        probes = wanted.view("V16") if self.format >= 2 else wanted
        lefts = np.searchsorted(self._sorted, probes, side="left")
        rights = np.searchsorted(self._sorted, probes, side="right")
        hits = np.flatnonzero(rights > lefts)
        if not len(hits):
            return found
        # Each hit is a short run of rows holding that masked key (one network's day); every
        # run's rows are filtered exactly, all at once, then handed back per query in order.
        first, runs = lefts[hits], rights[hits] - lefts[hits]
        hit = np.repeat(np.arange(len(hits)), runs)
        at = np.repeat(first, runs) + np.arange(len(hit)) - np.repeat(np.cumsum(runs) - runs, runs)
        number, query = np.divmod(hits[hit], count)
        ok = (self.start[at] <= probe.high[query]) & (self.end[at] > probe.low[query])
        if len(lengths) > 1:
            ok &= self.plen[at] == np.asarray(lengths, np.uint8)[number]
        port = probe.port[query]
        asked = port != _NO_PORT
        if asked.any():
            low_port, high_port = self.pfirst[at], self.plast[at]
            ok &= ~asked | (low_port == -1) | ((low_port <= port) & (port <= high_port))
        rows = at[ok] if self.row is None else self.row[at[ok]]
        for q, row in zip(query[ok].tolist(), rows.tolist(), strict=True):
            found[q].append(row)
        return found

    def find_one(self, hi: int, lo: int, low: int, high: int, port: int | None) -> list[int]:
        """`find_rows` of one question, without building arrays for it: the same rows in the
        same order (prefix lengths in the manifest's order, then position). `low` and `high`
        are the window's ends in microseconds, as in `_Probe`."""
        if self.format < 2:
            return self.find_rows(_Probe(
                np.array([hi], np.uint64), np.array([lo], np.uint64), np.array([low], np.int64),
                np.array([high], np.int64),
                np.array([_NO_PORT if port is None else port], np.int64)))[0]
        rows: list[int] = []
        keys, starts, ends, total = self._key_bytes, self._starts, self._ends, len(self.key)
        several = len(self._masks) > 1
        # One binary search for every prefix length's masked key, then each run is walked.
        probes = b"".join([_KEY_BE.pack(hi & mask_hi, lo & mask_lo)
                           for _, mask_hi, mask_lo in self._masks])
        wanted = np.frombuffer(probes, "V16")
        for n, first in enumerate(self._sorted.searchsorted(wanted).tolist()):
            plen, probe = self._masks[n][0], probes[16 * n:16 * n + 16]
            at = first
            while at < total and keys[16 * at:16 * at + 16] == probe:
                if at - first == _SHORT_RUN:  # a long run: the rest in arrays
                    rows.extend(self._long_run(wanted[n:n + 1], at, plen if several else None,
                                               low, high, port))
                    break
                if starts[at] <= high and ends[at] > low and (
                        not several or int(self.plen[at]) == plen) and (
                        port is None or self._holds_port(at, port)):
                    rows.append(at)
                at += 1
        return rows

    def _holds_port(self, at: int, port: int) -> bool:
        low_port = int(self.pfirst[at])
        return low_port == -1 or low_port <= port <= int(self.plast[at])

    def _long_run(self, wanted: npt.NDArray[np.void], first: int, plen: int | None,
                  low: int, high: int, port: int | None) -> list[int]:
        """`find_one`'s filter over the rest of a long run (rows first.. holding the key)."""
        last = int(self._sorted.searchsorted(wanted, side="right")[0])
        ok = (self.start[first:last] <= high) & (self.end[first:last] > low)
        if plen is not None:
            ok &= self.plen[first:last] == plen
        if port is not None:
            low_port, high_port = self.pfirst[first:last], self.plast[first:last]
            ok &= (low_port == -1) | ((low_port <= port) & (port <= high_port))
        found: list[int] = (np.flatnonzero(ok) + first).tolist()
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
        """The stored rows at these positions: from the row blocks when there are few of them,
        else from Parquet (only the row groups holding `rows` are decoded)."""
        if not rows:
            return {}
        if self.blocks is not None and len(rows) * _BLOCKS_UP_TO < len(self.key):
            return self._from_blocks(rows)
        return self._from_parquet(rows)

    def _from_blocks(self, rows: list[int]) -> dict[int, StoredInterval]:
        assert self.blocks is not None
        wanted = sorted(set(rows))  # in order: rows of one block are decoded together
        values = self.blocks.fields
        if len(wanted) <= _SHORT_RUN:  # a lookup's few rows: scalars, no arrays built
            found = {}
            for row in wanted:
                hi, lo = _KEY_BE.unpack(self._key_bytes[16 * row:16 * row + 16])
                start, end = self._starts[row], self._ends[row]
                found[row] = _interval(hi, lo, int(self.plen[row]), start, end,
                                       int(self.pfirst[row]), int(self.plast[row]),
                                       values(row, start, end))
            return found
        at = np.asarray(wanted, dtype=np.intp)
        keys = self.key[at]
        columns = zip(wanted, keys["hi"].tolist(), keys["lo"].tolist(), self.plen[at].tolist(),
                      self.start[at].tolist(), self.end[at].tolist(), self.pfirst[at].tolist(),
                      self.plast[at].tolist(), strict=True)
        return {row: _interval(hi, lo, plen, start, end, first, last, values(row, start, end))
                for row, hi, lo, plen, start, end, first, last in columns}

    def _from_parquet(self, rows: list[int]) -> dict[int, StoredInterval]:
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
