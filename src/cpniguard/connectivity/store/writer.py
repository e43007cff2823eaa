"""Writing day partitions: split at UTC midnight, sort, write crash-safely, publish last.

Layout: root/<source>/<YYYY-MM-DD>/part-NNNNNN.{parquet,<index>.npy,manifest.json}. A partition
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
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import DAY_US, OPEN_END, StoredInterval, to_table

FORMAT = 1
MAX_SPLIT_DAYS = 3700  # ten years; longer means a bad timestamp, and splitting would flood disk
ROW_GROUP_SIZE = 65_536
KEY_DTYPE = np.dtype([("hi", "<u8"), ("lo", "<u8")])
INDEX_FILES = ("key", "start", "end", "row", "plen", "pfirst", "plast")
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
        end = row.end if day == last else min(row.end, (day + 1) * DAY_US)
        yield day, dataclasses.replace(row, start=start, end=end)


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


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _parquet_bytes(rows: list[StoredInterval]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(to_table(rows), buffer, compression="zstd", row_group_size=ROW_GROUP_SIZE)
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


def _write_partition(directory: Path, source: str, day: int, rows: list[StoredInterval]) -> Path:
    rows.sort(key=lambda r: (r.hi, r.lo, r.start, r.plen, r.end))
    part = _next_part(directory)
    stem = f"part-{part:06d}"
    files: dict[str, str] = {}
    name = f"{stem}.parquet"
    files[name] = atomic_write(directory / name, _parquet_bytes(rows))
    count = len(rows)
    key = np.empty(count, dtype=KEY_DTYPE)
    key["hi"] = [r.hi for r in rows]
    key["lo"] = [r.lo for r in rows]
    arrays = {
        "key": key,
        "start": np.array([r.start for r in rows], dtype=np.int64),
        "end": np.array([r.end for r in rows], dtype=np.int64),
        # Parquet rows are in index order today; the row column lets that change later.
        "row": np.arange(count, dtype=np.int32),
        "plen": np.array([r.plen for r in rows], dtype=np.uint8),
        "pfirst": np.array([r.port_first for r in rows], dtype=np.int32),
        "plast": np.array([r.port_last for r in rows], dtype=np.int32),
    }
    for label in INDEX_FILES:
        name = f"{stem}.{label}.npy"
        files[name] = atomic_write(directory / name, _npy_bytes(arrays[label]))
    manifest = {
        "format": FORMAT,
        "source": source,
        "day": day_name(day),
        "part": part,
        "rows": count,
        "prefix_lengths": sorted({r.plen for r in rows}),
        "min_start": min(r.start for r in rows),
        "max_end": max(r.end for r in rows),
        "written": datetime.now(UTC).isoformat(),
        "files": files,
    }
    path = directory / f"{stem}.manifest.json"
    atomic_write(path, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return path


def write_batch(root: Path, source: str, rows: Iterable[StoredInterval]) -> list[Path]:
    """Write `rows` as new immutable day partitions of `source`; returns their manifests."""
    check_source(source)
    by_day: dict[int, list[StoredInterval]] = defaultdict(list)
    for row in rows:
        for day, piece in split_days(row):
            by_day[day].append(piece)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    with _locked(root):
        for day in sorted(by_day):
            directory = root / source / day_name(day)
            directory.mkdir(parents=True, exist_ok=True)
            written.append(_write_partition(directory, source, day, by_day[day]))
    return written
