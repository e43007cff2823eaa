"""Writing the per-day session digest of one source: the day's folded sessions, kept on disk.

A network view or an outage scan of one whole UTC day reads the day's pieces, merges the
pieces split at midnight back into intervals (`scan`) and folds the intervals into sessions
(`folding.fold`). Both steps depend on that day's partitions only: every interval touching
the day has a piece in it, and sessions never cross sources. So their result, per source and
day, can be written once and read many times. The digest is that result:

- one row per merged interval of the day (what `scan` returns for the day), sorted by the
  session's device, then the session's start, so a device or POP query reads only the row
  groups of its devices;
- on each row, its session: a digest-local number, and the session's source, device (the
  named device: a DHCP server's source when the row names none), holder, circuit id, start,
  finish and end kind. Finish and kind are kept *before* the "still up" rule (a session with
  no Stop whose device logged something recently is open, not lost), because that rule looks
  at the newest record of the device across every source, which a per-source file cannot
  know: the reader applies it over the sources it combines (`digest.read_day`);
- strings as Parquet dictionaries (a few devices and causes, many rows).

Freshness: the file's metadata records the SHA-256 of every manifest of the day directory it
was built from (a manifest lists its files with their SHA-256, so this pins the data). A
reader recomputes that list and uses the digest only when it is equal. The digest sits in the
day directory under a dot-name, which no reader of the store scans, `logs verify` does not
list, and the purge of the day deletes first (see `purge.recover_day` and `drop`).

Crash safety: written under a temp name, fsynced, renamed (`writer.atomic_write`): a crash
leaves the old digest, the new one, or none, never half of one. It is built under the store's
write lock, after checking the manifests did not change while it was read, so a purge cannot
run between the read and the rename and leave a purged identity in a new digest.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import DAY_US, OPEN_END
from cpniguard.connectivity.store.writer import atomic_write
from cpniguard.quality.folding import NO_STOP, OPEN, Folded, fold
from cpniguard.quality.scan import SESSION_COLUMNS, ScanRange, scan

DIGEST_NAME = ".derived.quality-digest.parquet"  # store: `.derived.*` goes with its rows
FORMAT = 1
META_KEY = b"cpniguard.quality_digest"
ROW_GROUP_ROWS = 16_384   # a device's sessions span a few groups; pruning skips the rest
Ints = npt.NDArray[np.int64]

# Per row: the interval's own columns the views read (capacity, causes, usage).
ROW_COLUMNS = ("original_start", "original_end", "last_seen", "hi", "lo", "plen",
               "port_first", "port_last", "flags", "terminate_cause", "octets_in", "octets_out")
_DICT = pa.dictionary(pa.int32(), pa.string())
DIGEST_SCHEMA = pa.schema([
    ("session", pa.int64()), ("device", _DICT), ("source", _DICT), ("holder", pa.int64()),
    ("circuit", _DICT), ("s_start", pa.int64()), ("s_finish", pa.int64()), ("s_kind", pa.int8()),
    ("original_start", pa.int64()), ("original_end", pa.int64()), ("last_seen", pa.int64()),
    ("hi", pa.uint64()), ("lo", pa.uint64()), ("plen", pa.uint8()), ("port_first", pa.int32()),
    ("port_last", pa.int32()), ("flags", _DICT), ("terminate_cause", _DICT),
    ("octets_in", pa.int64()), ("octets_out", pa.int64()),
])


class KeyCollision(Exception):
    """Two holders of one source-day share a key: no digest, the raw path answers."""


def holder_keys(names: list[str]) -> Ints:
    """A 64-bit key per holder name (BLAKE2b): subscribers are counted by key, not by text."""
    keys = np.array([int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(),
                                    "little", signed=True) for name in names], dtype=np.int64)
    if len(np.unique(keys)) != len(keys):
        raise KeyCollision("two holders share a digest key")
    return keys


class LockBusy(Exception):
    """The store's write lock is held (an ingest or a purge is running)."""


def day_directory(root: Path, source: str, day: int) -> Path:
    from cpniguard.connectivity.store.writer import day_name

    return root / source / day_name(day)


def built_from(directory: Path) -> dict[str, str]:
    """Manifest name -> SHA-256 of its bytes, for every published partition of the day."""
    found: dict[str, str] = {}
    for manifest in sorted(directory.glob("part-*.manifest.json")):
        try:
            found[manifest.name] = hashlib.sha256(manifest.read_bytes()).hexdigest()
        except FileNotFoundError:   # dropped while listed: it is not part of the day
            continue
    return found


def recorded(path: Path) -> dict[str, str] | None:
    """What a digest says it was built from; None when absent, unreadable or of a format
    this version does not read (then it is rebuilt, never trusted)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        data = json.loads(metadata[META_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowInvalid):
        return None
    if data.get("format") != FORMAT or not isinstance(data.get("built_from"), dict):
        return None
    return {str(k): str(v) for k, v in data["built_from"].items()}


def is_fresh(directory: Path) -> bool:
    found = recorded(directory / DIGEST_NAME)
    return found is not None and found == built_from(directory)


@contextmanager
def store_lock(root: Path, *, wait: bool) -> Iterator[None]:
    """The writer's lock (`writer._locked`), optionally without waiting for it."""
    with (root / ".write.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(str(root)) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _session_finish(table: pa.Table, folded: Folded) -> Ints:
    """Each session's finish before the "still up" rule: the latest end among its rows
    (an open row ends at its last record), as `fold` computes it before that rule."""
    if not len(folded):
        return np.zeros(0, dtype=np.int64)
    end = table.column("original_end").to_numpy().astype(np.int64)
    start = table.column("original_start").to_numpy().astype(np.int64)
    seen = table.column("last_seen")
    last = np.where(seen.is_null().to_numpy(zero_copy_only=False), start,
                    seen.fill_null(0).to_numpy())
    effective = np.where(end == OPEN_END, last, end)[folded.row_order]
    return np.maximum.reduceat(effective, folded.row_offsets[:-1]).astype(np.int64)


def digest_table(table: pa.Table, folded: Folded) -> pa.Table:
    """The digest rows of a scan table and its fold (see the module docstring)."""
    n = len(folded)
    device_names = np.array(folded.device_names or [""], dtype=object)
    # Sessions by device name, then start; the fold's own order breaks ties.
    rank = np.argsort(np.argsort(device_names, kind="stable"), kind="stable")
    by_device = np.lexsort((np.arange(n), folded.start, rank[folded.device] if n else
                            np.zeros(0, np.int64)))
    number = np.empty(n, dtype=np.int64)
    number[by_device] = np.arange(n, dtype=np.int64)
    position = np.empty(len(table), dtype=np.int64)
    position[folded.row_order] = np.arange(len(table), dtype=np.int64)
    row_number = number[folded.row_session] if len(table) else np.zeros(0, np.int64)
    rows = np.lexsort((position, row_number))
    session = row_number[rows]
    of = folded.row_session[rows]
    kind = folded.kind.copy()
    kind[kind == OPEN] = NO_STOP          # the reader decides "still up" over all sources
    finish = _session_finish(table, folded)

    def names(codes: Ints, vocabulary: list[str]) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(codes[of], pa.int32()),
                                              pa.array(vocabulary or [""], pa.string()))

    picked = table.select(list(ROW_COLUMNS)).take(pa.array(rows, pa.int64()))
    columns = {
        "session": pa.array(session, pa.int64()),
        "device": names(folded.device, folded.device_names),
        "source": names(folded.source, folded.source_names),
        "holder": pa.array(holder_keys(folded.holder_names)[folded.holder[of]]
                           if n else np.zeros(0, np.int64), pa.int64()),
        "circuit": names(folded.circuit, folded.circuit_names),
        "s_start": pa.array(folded.start[of], pa.int64()),
        "s_finish": pa.array(finish[of], pa.int64()),
        "s_kind": pa.array(kind[of], pa.int8()),
    }
    for name in ROW_COLUMNS:
        column = picked.column(name)
        wanted = DIGEST_SCHEMA.field(name).type
        columns[name] = column.dictionary_encode() if pa.types.is_dictionary(wanted) \
            else column.cast(wanted)
    return pa.table(columns).cast(DIGEST_SCHEMA)


def _bytes(table: pa.Table, source: str, day: str, manifests: dict[str, str]) -> bytes:
    meta = {"format": FORMAT, "source": source, "day": day, "built_from": manifests}
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return buffer.getvalue()


def build(root: Path, source: str, day: int, *, wait: bool = True) -> bool:
    """Write (or replace, or remove) the digest of `source` on `day`; True when one was
    written. `wait=False` gives up with LockBusy rather than wait for an ingest or a purge."""
    root = Path(root)
    directory = day_directory(root, source, day)
    if not directory.is_dir():
        return False
    with store_lock(root, wait=wait):
        manifests = built_from(directory)
        if not manifests:
            drop(directory)
            return False
        span = ScanRange(day * DAY_US, (day + 1) * DAY_US)
        table = scan(root, span, columns=SESSION_COLUMNS, sources=[source])
        try:
            rows = digest_table(table, fold(table))
        except KeyCollision:
            drop(directory)
            return False
        atomic_write(directory / DIGEST_NAME, _bytes(rows, source, directory.name, manifests))
        if built_from(directory) != manifests:
            # A partition dropped without the lock (an ingest undoing its own interrupted
            # attempt) while this was read: keep nothing of rows that are gone.
            drop(directory)
            return False
    return True


def drop(directory: Path) -> None:
    """Remove the digest of a day directory (with its rows, when they are purged)."""
    (directory / DIGEST_NAME).unlink(missing_ok=True)


def build_days(root: Path, source: str, days: list[str]) -> int:
    """The digests of `source` on `days` (YYYY-MM-DD); returns how many were written."""
    from datetime import date

    written = 0
    for text in days:
        day = (date.fromisoformat(text) - date(1970, 1, 1)).days
        written += build(Path(root), source, day)
    return written


def build_all(root: Path) -> int:
    """Every missing or stale digest of the store (a command, or the bench)."""
    root = Path(root)
    written = 0
    if not root.is_dir():
        return 0
    for directory in sorted(root.glob("*/*")):
        if directory.is_dir() and not directory.parent.name.startswith(".") \
                and not directory.name.startswith(".") and not is_fresh(directory):
            written += build_days(root, directory.parent.name, [directory.name])
    return written
