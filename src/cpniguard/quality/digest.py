"""Reading the per-day session digests: a whole UTC day's sessions without scanning or folding.

`digest_write` says what a digest holds and when it is fresh. Here the network report and the
outage scan ask `read_day` for the folded sessions of a range, and get them from the digests
when, and only when, that gives the same answer as the raw path (`scan` then `fold`):

- the range is exactly one UTC day (the raw path's result then depends on that day's
  partitions only). Any other range returns None and the caller takes the raw path: a
  session crossing midnight is two pieces in two digests, and stitching them is not done;
- every source with a partition that day has a fresh digest. A missing or stale one is
  rebuilt here when the store's lock is free (it is the raw path's work, done once), else
  the caller takes the raw path. A digest is never trusted over the manifests;
- `CPNIGUARD_QUALITY_DIGEST=off` switches digests off (the raw path is the reference).

The sources' digests are combined as `fold` would have folded them together: sessions get
one numbering, sorted by (start, device, holder) like `fold`'s, and the "still up" rule (a
session with no Stop whose device logged something within `LOST_AFTER` is open) is applied
with each device's newest record over all the sources read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import DAY_US
from cpniguard.quality.digest_write import (
    DIGEST_NAME,
    DIGEST_SCHEMA,
    ROW_COLUMNS,
    LockBusy,
    build,
    built_from,
    is_fresh,
)
from cpniguard.quality.folding import NO_STOP, OPEN, Folded
from cpniguard.quality.scan import ScanRange
from cpniguard.quality.sessions import LOST_AFTER

Ints = npt.NDArray[np.int64]
SWITCH = "CPNIGUARD_QUALITY_DIGEST"


def enabled() -> bool:
    return os.environ.get(SWITCH, "on").strip().lower() not in ("off", "0", "no", "false")


def whole_day(span: ScanRange) -> int | None:
    """The day number when `span` is exactly one UTC day, else None."""
    if span.since % DAY_US == 0 and span.until - span.since == DAY_US:
        return span.since // DAY_US
    return None


def fresh_files(root: Path, day: int, *, rebuild: bool = True) -> list[Path] | None:
    """The digest of every source with data that day, rebuilding a missing or stale one;
    None when one is missing and cannot be rebuilt now."""
    from cpniguard.connectivity.store.writer import day_name

    files: list[Path] = []
    if not root.is_dir():
        return files
    for source in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        directory = source / day_name(day)
        if not built_from(directory):
            continue
        if not is_fresh(directory):
            if not rebuild:
                return None
            try:
                build(root, source.name, day, wait=False)
            except (LockBusy, OSError):   # busy, or a store this process may only read
                return None
            if not is_fresh(directory):
                return None   # changed while it was rebuilt: the raw path reads it
        files.append(directory / DIGEST_NAME)
    return files


def _row_groups(handle: pq.ParquetFile, devices: set[str] | None) -> list[int]:
    """The row groups whose device range can hold one of `devices` (rows are sorted by
    device, so a device's sessions are a few neighbouring groups)."""
    metadata = handle.metadata
    if devices is None:
        return list(range(metadata.num_row_groups))
    column = handle.schema_arrow.get_field_index("device")
    chosen = []
    for number in range(metadata.num_row_groups):
        stats = metadata.row_group(number).column(column).statistics
        if stats is None or not stats.has_min_max or any(
                str(stats.min) <= name <= str(stats.max) for name in devices):
            chosen.append(number)
    return chosen


def _read(files: list[Path], devices: list[str] | None) -> pa.Table:
    tables = []
    offset = 0
    wanted = None if devices is None else set(devices)
    for path in files:
        handle = pq.ParquetFile(path)
        groups = _row_groups(handle, wanted)
        if not groups:
            continue
        part = handle.read_row_groups(groups)
        if wanted is not None:
            part = part.filter(pc.is_in(part.column("device").cast(pa.string()),
                                        value_set=pa.array(sorted(wanted), pa.string())))
        if not len(part):
            continue
        session = part.column("session").to_numpy() + offset
        offset = int(session.max()) + 1
        tables.append(part.set_column(0, "session", pa.array(session, pa.int64())))
    if not tables:
        return DIGEST_SCHEMA.empty_table()
    return pa.concat_tables(tables)


def _codes(column: pa.ChunkedArray, heads: Ints) -> tuple[Ints, list[str]]:
    """Codes (of the rows `heads`) into the sorted names of a dictionary column: the files'
    dictionaries are unified first, so one name has one code over every file."""
    unified = pa.table({"c": column}).unify_dictionaries().column("c")
    if not unified.num_chunks:
        return np.zeros(0, dtype=np.int64), []
    names = [str(v) for v in unified.chunk(0).dictionary.to_pylist()]
    indices = np.concatenate([np.asarray(chunk.indices.to_numpy(zero_copy_only=False),
                                         dtype=np.int64) for chunk in unified.chunks])
    picked = indices[heads]
    # Only the names these sessions use (a dictionary may hold the filtered-out devices').
    used = np.flatnonzero(np.bincount(picked, minlength=len(names)))
    kept = [names[i] for i in used.tolist()]
    order = sorted(range(len(kept)), key=kept.__getitem__)
    code = np.full(len(names) or 1, -1, dtype=np.int64)
    code[used[order]] = np.arange(len(kept), dtype=np.int64)
    return code[picked], [kept[i] for i in order]


def _ints(table: pa.Table, name: str, heads: Ints) -> Ints:
    return np.asarray(table.column(name).to_numpy(), dtype=np.int64)[heads]


def _dense(values: Ints) -> Ints:
    """Rank of each value among the distinct values, by a sort (numpy's hash-based
    `unique` is far slower on a million integers, see suppress.distinct)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
    return rank


def _newest(device: Ints, finish: Ints, devices: int) -> Ints:
    """Each device's latest session finish: its newest record. Sessions come in runs of one
    device (each file is sorted by device), so this is a max per run, then per device."""
    newest = np.full(devices, np.iinfo(np.int64).min, dtype=np.int64)
    if not len(device):
        return newest
    runs = np.flatnonzero(np.r_[True, device[1:] != device[:-1]])
    np.maximum.at(newest, device[runs], np.maximum.reduceat(finish, runs))
    return newest


def _folded(table: pa.Table) -> Folded:
    rows = len(table)
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Folded(empty, empty, empty, empty, empty, empty, np.zeros(0, dtype=np.int8),
                      empty, np.zeros(1, dtype=np.int64), empty, [], [], [], [])
    session = table.column("session").to_numpy()
    changed = np.r_[True, session[1:] != session[:-1]]
    first = np.flatnonzero(changed)
    local = np.cumsum(changed) - 1
    source, source_names = _codes(table.column("source"), first)
    device, device_names = _codes(table.column("device"), first)
    circuit, circuit_names = _codes(table.column("circuit"), first)
    # Holders are 64-bit keys (digest_write.holder_keys); their codes are dense ranks.
    holder = _dense(_ints(table, "holder", first))
    start, finish = _ints(table, "s_start", first), _ints(table, "s_finish", first)
    kind = _ints(table, "s_kind", first).astype(np.int8)
    newest = _newest(device, finish, len(device_names))
    still_up = (kind == NO_STOP) & (newest[device] - finish < LOST_AFTER)
    kind[still_up] = OPEN
    finish = np.where(still_up, np.maximum(finish, newest[device]), finish)
    # fold's order: start, then device, holder (by key, not by name) and source in one key;
    # lexsort is stable, so the files' own order breaks what ties remain.
    tie = (device * (len(holder) + 1) + holder) * (len(source_names) + 1) + source
    order = np.lexsort((tie, start))
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[order] = np.arange(len(first), dtype=np.int64)
    row_session = renumber[local]
    # A session's rows are neighbours in the digest: lay the runs out in session order.
    counts = np.diff(np.r_[first, rows])[order]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    row_order = (np.repeat(first[order] - offsets[:-1], counts)
                 + np.arange(rows, dtype=np.int64)).astype(np.int64)
    # No holder names: the digest keeps keys, and the views count holders, never name them.
    return Folded(source[order], device[order], holder[order],
                  circuit[order], start[order], finish[order], kind[order], row_order,
                  offsets, row_session, source_names, device_names, [], circuit_names)


def read_day(root: Path | str, span: ScanRange, devices: list[str] | None = None, *,
             rebuild: bool = True) -> tuple[pa.Table, Folded] | None:
    """(rows, sessions) of `span` from the digests, as `scan` + `fold` give them (rows carry
    `ROW_COLUMNS`; `devices` keeps the sessions of those named devices); None when the digests
    cannot answer and the caller must take the raw path."""
    day = whole_day(span)
    if day is None or not enabled():
        return None
    files = fresh_files(Path(root), day, rebuild=rebuild)
    if files is None:
        return None
    try:
        table = _read(files, devices)
    except (OSError, pa.ArrowInvalid):  # removed by a purge since it was checked
        return None
    return table.select(list(ROW_COLUMNS)), _folded(table)
