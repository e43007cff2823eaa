"""Writing day partitions: split at UTC midnight, sort, write crash-safely, publish last.

Layout: root/<source>/<YYYY-MM-DD>/part-NNNNNN.{parquet,<index>.npy,rows.bin,blocks.npy,
manifest.json}. A partition
exists for readers only once its manifest is in place; the manifest is written after every
other file has been fsynced and renamed into place, so a crash at any point leaves either a
complete partition or files no reader looks at. Partitions are never rewritten: more data for
a day becomes another part, so evidence already produced from a part stays reproducible.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import io
import itertools
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.store import rowblocks
from cpniguard.connectivity.store.piece_order import index_order
from cpniguard.connectivity.store.schema import (
    ALL_PORTS,
    ARROW_SCHEMA,
    DAY_US,
    END_COLUMNS,
    OPEN_END,
    StoredInterval,
    to_table,
    with_all_columns,
)

FORMAT = 2  # 1: every index array and no row blocks (still read)
MAX_SPLIT_DAYS = 3700  # ten years; longer means a bad timestamp, and splitting would flood disk
# Format 1 lookups decoded a whole row group for one row, so groups were 1,024 rows; format 2
# lookups read row blocks instead, and larger groups halve the cost of a column scan (a
# subscriber's sessions by username over a week) for 1 % fewer bytes.
ROW_GROUP_SIZE = 8_192
KEY_DTYPE = np.dtype([("hi", "<u8"), ("lo", "<u8")])  # format 1
# Format 2: big-endian halves, so the 16 raw bytes sort as the key does and a binary search
# compares them as one opaque value (numpy's structured compare was ~20 us per search).
KEY_DTYPE_BE = np.dtype([("hi", ">u8"), ("lo", ">u8")])
INDEX_FILES = ("key", "start", "end", "row", "plen", "pfirst", "plast")  # format 1
_ENCODERS = 2  # the reference machine has two cores
_DICTIONARY_COLUMNS = ["source", "username", "mac", "client_id", "duid", "circuit_id",
                       "remote_id", "device", "flags", "terminate_cause",
                       "evidence.list.element.file",
                       "evidence.list.element.sha256"]
_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PART_RE = re.compile(r"part-(\d{6})\.")


def check_source(source: str) -> str:
    # The source name becomes a directory: nothing that could climb out of the root.
    if not _SOURCE_RE.match(source) or ".." in source:
        raise ValueError(f"bad source name {source!r}")
    return source


def day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).date().isoformat()


def split_days(row: StoredInterval) -> Iterator[tuple[int, StoredInterval]]:
    """(day number, piece) for each UTC day the interval touches.

    An open interval is only known to continue up to its last proof of life, so it is carried
    through the day of `last_seen` (or its start day) and no further; its last piece stays open.
    The end-of-interval facts (schema.END_COLUMNS) stay on the last piece only, so summing
    rows counts an interval's octets once. `split_table` is the same rule over columns; both
    must change together.
    """
    first = row.start // DAY_US
    if row.end == OPEN_END:
        last = max(row.start, row.last_seen or row.start) // DAY_US
    else:
        last = (max(row.end - 1, row.start)) // DAY_US
    if last - first > MAX_SPLIT_DAYS:
        raise ValueError(f"interval spans {last - first} days; refusing to split it")
    for day in range(first, last + 1):
        start = max(row.start, day * DAY_US)
        if day == last:
            yield day, dataclasses.replace(row, start=start, end=row.end)
        else:
            yield day, dataclasses.replace(row, start=start, end=min(row.end, (day + 1) * DAY_US),
                                           terminate_cause=None, octets_in=None,
                                           octets_out=None)


def table_days(table: pa.Table) -> list[str]:
    """The UTC days `write_table` would write partitions for."""
    if not len(table):
        return []
    first, last = _day_ranges(table)
    # One int64 per row (first day, span), so the distinct ranges come from one plain sort:
    # the span is at most MAX_SPLIT_DAYS, and floor division undoes the packing for any day.
    width = MAX_SPLIT_DAYS + 1
    ranges = np.unique(first * width + (last - first))
    starts, spans = ranges // width, ranges % width
    touched = np.unique(np.concatenate([np.arange(a, a + n + 1) for a, n in
                                        zip(starts.tolist(), spans.tolist(), strict=True)]))
    return [day_name(int(day)) for day in touched]


def _day_ranges(table: pa.Table) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(first day, last day) of each row, by the rule of `split_days`; refuses long spans."""
    start = table.column("start").to_numpy()
    end = table.column("end").to_numpy()
    seen_column = table.column("last_seen")
    seen = np.where(seen_column.is_null().to_numpy(zero_copy_only=False), start,
                    np.maximum(seen_column.fill_null(0).to_numpy(), start))
    first = start // DAY_US
    last = np.where(end == OPEN_END, seen // DAY_US, np.maximum(end - 1, start) // DAY_US)
    span = last - first
    too_long = np.flatnonzero(span > MAX_SPLIT_DAYS)
    if len(too_long):
        raise ValueError(f"interval spans {span[too_long[0]]} days; refusing to split it")
    return first, last


def split_table(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """`split_days` over a whole table: (day number, that day's pieces, sorted for the index)."""
    start = table.column("start").to_numpy()
    end = table.column("end").to_numpy()
    first, last = _day_ranges(table)
    span = last - first
    if np.any(span):
        counts = span + 1
        row = np.repeat(np.arange(len(start)), counts)
        offsets = np.cumsum(counts) - counts
        day = first[row] + (np.arange(len(row)) - offsets[row])
    else:  # no interval crosses midnight: each row is its own single piece
        row, day = np.arange(len(start)), first
    piece_start = np.maximum(start[row], day * DAY_US)
    piece_end = np.where(day == last[row], end[row], np.minimum(end[row], (day + 1) * DAY_US))
    # Each day's pieces together, each day in index order (hi, lo, start, plen, end) and equal
    # rows in input order, as sorting a list of rows would; one take then copies the table, and
    # every day is a zero-copy slice of it. The take goes column by column, each made
    # contiguous first (across many chunks it is several times slower), on two threads (the
    # kernels release the GIL), so the extra memory is two columns at most.
    order = index_order(day, row, piece_start, piece_end, table.column("hi").to_numpy(),
                        table.column("lo").to_numpy(), table.column("plen").to_numpy())
    taken = pa.array(row[order])

    def column_pieces(name: str) -> pa.Array:
        if name in ("start", "end"):  # set below
            return pa.nulls(len(taken), pa.int64())
        return table.column(name).combine_chunks().take(taken)

    with ThreadPoolExecutor(max_workers=_ENCODERS) as pool:
        arrays = list(pool.map(column_pieces, table.column_names))
    pieces = pa.Table.from_arrays(arrays, schema=table.schema)
    pieces = pieces.set_column(pieces.schema.get_field_index("start"), "start",
                               pa.array(piece_start[order], pa.int64()))
    pieces = pieces.set_column(pieces.schema.get_field_index("end"), "end",
                               pa.array(piece_end[order], pa.int64()))
    if np.any(span):  # some interval crosses midnight: its earlier pieces drop the end facts
        is_last = pa.array((day == last[row])[order])
        for name in END_COLUMNS:
            index = pieces.schema.get_field_index(name)
            column = pieces.column(index)
            pieces = pieces.set_column(index, name, pc.if_else(
                is_last, column, pa.nulls(len(pieces), column.type)))
    day = day[order]
    bounds = [0, *(np.flatnonzero(np.diff(day)) + 1).tolist(), len(day)]
    for first_row, end_row in itertools.pairwise(bounds):
        if end_row > first_row:
            yield int(day[first_row]), pieces.slice(first_row, end_row - first_row)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> str:
    """Write via a temp name in the same directory, fsync, rename; returns the SHA-256."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temp.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)  # os.replace: an atomic rename within one directory
    _fsync_dir(path.parent)
    return hashlib.sha256(data).hexdigest()


def _write_all(directory: Path, contents: dict[str, bytes]) -> dict[str, str]:
    """`atomic_write` for several files with one directory fsync: each file is fsynced under a
    temp name, then all are renamed. Nothing refers to them until the manifest is written."""
    temps = []
    for name, data in contents.items():
        temp = directory / f".{name}.tmp-{os.getpid()}"
        with temp.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temps.append((temp, directory / name))
    for temp, path in temps:
        temp.replace(path)
    _fsync_dir(directory)
    return {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    # Dictionaries only where values repeat (names, devices, the evidence file and hash): on
    # random ids and times they cost time and bytes for nothing.
    pq.write_table(table, buffer, compression="zstd", row_group_size=ROW_GROUP_SIZE,
                   use_dictionary=_DICTIONARY_COLUMNS)
    return buffer.getvalue()


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    # Part numbers are chosen by scanning the directory; two writers must not pick the same one.
    with (root / ".write.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _next_part(directory: Path) -> int:
    # Count leftovers of crashed writes too, so a new part never lands on an orphan's name.
    numbers = [int(m.group(1)) for p in directory.iterdir() if (m := _PART_RE.search(p.name))]
    return max(numbers, default=0) + 1


Encoded = tuple[pa.Table, dict[str, bytes], dict[str, Any]]  # rows, files, manifest fields


def _encode(table: pa.Table) -> Encoded:
    """One day's pieces (already in index order, see `split_table`) → file contents by suffix.

    Format 2: the Parquet rows are in index order, so an array's position is the row number
    (format 1's `row` array is gone); the prefix length and port arrays are written only when
    they vary (a RADIUS day with no ports has none), their constant otherwise in the manifest;
    and the rows are kept a second time in `rowblocks` for point reads."""
    table = table.cast(ARROW_SCHEMA)
    count = len(table)
    key = np.empty(count, dtype=KEY_DTYPE_BE)
    key["hi"], key["lo"] = table.column("hi").to_numpy(), table.column("lo").to_numpy()
    arrays: dict[str, np.ndarray] = {
        "key": key,
        "start": table.column("start").to_numpy(),
        "end": table.column("end").to_numpy(),
    }
    plen = table.column("plen").to_numpy().astype(np.uint8)
    if len(np.unique(plen)) > 1:
        arrays["plen"] = plen
    first = table.column("port_first").to_numpy().astype(np.int32)
    last = table.column("port_last").to_numpy().astype(np.int32)
    if np.any(first != ALL_PORTS) or np.any(last != ALL_PORTS):
        arrays["pfirst"], arrays["plast"] = first, last
    blocks, block_table, sources = rowblocks.encode(table)
    contents = {"parquet": _parquet_bytes(table)}
    contents.update({f"{label}.npy": _npy_bytes(array) for label, array in arrays.items()})
    contents.update({"rows.bin": blocks, "blocks.npy": _npy_bytes(block_table)})
    return table, contents, {"block_rows": rowblocks.BLOCK_ROWS,
                             "block_codec": rowblocks.BLOCK_CODEC, "evidence_sources": sources}


def _write_partition(directory: Path, source: str, day: int,
                     encoded: Encoded) -> Path:
    table, contents, fields = encoded
    part = _next_part(directory)
    stem = f"part-{part:06d}"
    files = _write_all(directory, {f"{stem}.{suffix}": data for suffix, data in contents.items()})
    start, end = table.column("start").to_numpy(), table.column("end").to_numpy()
    manifest = {
        "format": FORMAT,
        **fields,
        "source": source,
        "day": day_name(day),
        "part": part,
        "rows": len(table),
        "prefix_lengths": sorted(int(n) for n in np.unique(table.column("plen").to_numpy())),
        "min_start": int(start.min()),
        "max_end": int(end.max()),
        "written": datetime.now(UTC).isoformat(),
        "files": files,
    }
    path = directory / f"{stem}.manifest.json"
    atomic_write(path, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return path


def write_batch(root: Path, source: str, rows: Iterable[StoredInterval]) -> list[Path]:
    """Write `rows` as new immutable day partitions of `source`; returns their manifests."""
    check_source(source)
    rows = list(rows)
    for row in rows:
        for _ in split_days(row):  # refuse over-long intervals before any table is built
            pass
    return write_table(root, source, to_table(rows))


def write_table(root: Path, source: str, table: pa.Table) -> list[Path]:
    """`write_batch` for rows already in columns (schema.ARROW_SCHEMA), in input order."""
    check_source(source)
    # Strings may arrive dictionary-encoded (a file name repeated on every row); each day's
    # pieces are cast to the stored schema only when written, so memory stays per partition.
    table = with_all_columns(table).select(ARROW_SCHEMA.names)
    if not len(table):
        return []
    days = list(split_table(table))
    root.mkdir(parents=True, exist_ok=True)
    written = []
    # Encoding (zstd, mostly) releases the GIL: the next day's files are encoded while this
    # day's are written. At most two days' contents are in memory at once.
    with _locked(root), ThreadPoolExecutor(max_workers=_ENCODERS) as pool:
        pending: deque[Future[Encoded]] = deque(
            pool.submit(_encode, pieces) for _, pieces in days[:_ENCODERS])
        for number, (day, _) in enumerate(days):
            encoded = pending.popleft().result()
            if number + _ENCODERS < len(days):
                pending.append(pool.submit(_encode, days[number + _ENCODERS][1]))
            directory = root / source / day_name(day)
            directory.mkdir(parents=True, exist_ok=True)
            written.append(_write_partition(directory, source, day, encoded))
    return written
