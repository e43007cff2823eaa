"""Sessions that cross log files: an open row in one file, its continuation in the next.

At ingest (`register`, inside the transaction that completes a file): the file's rows are
matched against the open rows earlier files left, by (source, device, session id, address);
a match records where the session goes on. The file's own open rows are then registered.
This is one vectorised filter over the new rows plus dictionary lookups over the registry of
open sessions, so it costs little even for large files.

At attribution (`ContinuationBook`): an open candidate whose session a later file continues
is dropped when the later interval already covers it (it begins no later: a NO_START start
estimated from Acct-Session-Time, or the same radacct row exported again), or cut where the
later interval begins otherwise, flagged CONTINUED. The later interval is then the evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from django.db import connection

from cpniguard.connectivity.models import IngestedFile, OpenInterval
from cpniguard.connectivity.store.schema import OPEN_END
from cpniguard.rawsql import driver_cursor, for_driver

Key = tuple[str, str, str, str, int]  # (source, device, session id, network, original start)
_CHUNK = 500
HORIZON_US = 2 * 86_400_000_000  # two days: beyond the longest NAS accounting buffering


@dataclass(frozen=True, slots=True)
class Continuation:
    start: int                 # µs UTC: where the later file's interval begins
    end: int | None            # µs UTC, or None if still open there
    file: str                  # the later file's path, as evidence
    sha256: str
    line: int | None


@dataclass(frozen=True, slots=True)
class _Row:
    device: str
    session_id: str
    network: str
    start: int
    end: int
    last_seen: int | None
    line: int | None


_V4_MAPPED_HIGH = 0xFFFF  # lo >> 32 of an IPv4 key (hi is 0): see schema.address_key


def _network_texts(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64],
                   plen: npt.NDArray[np.uint8]) -> list[str]:
    """`str(key_network(hi, lo, plen))` for every row, without an `ipaddress` object each
    (those were most of `register`'s time)."""
    ipv4 = (hi == 0) & ((lo >> np.uint64(32)) == _V4_MAPPED_HIGH) & (plen >= 96)
    texts = np.empty(len(hi), object)
    if ipv4.any():
        octets = [pa.array((lo[ipv4] >> np.uint64(shift)) & np.uint64(0xFF)).cast(pa.string())
                  for shift in (24, 16, 8, 0)]
        length = pa.array(plen[ipv4].astype(np.int64) - 96).cast(pa.string())
        texts[ipv4] = pc.binary_join_element_wise(
            pc.binary_join_element_wise(*octets, "."), length, "/").to_numpy(
                zero_copy_only=False)
    if not ipv4.all():
        texts[~ipv4] = _ipv6_texts(hi[~ipv4], lo[~ipv4], plen[~ipv4])
    found: list[str] = texts.tolist()
    return found


def _ipv6_texts(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64],
                plen: npt.NDArray[np.uint8]) -> list[str]:
    """RFC 5952 text as `ipaddress` writes it: lower-case groups without leading zeros, the
    first longest run of two or more zero groups as `::`, then the length."""
    shifts = np.array([48, 32, 16, 0], np.uint64)
    groups = np.concatenate([(hi[:, None] >> shifts) & np.uint64(0xFFFF),
                             (lo[:, None] >> shifts) & np.uint64(0xFFFF)], axis=1)
    run = np.zeros(groups.shape, np.int64)  # zero groups ending at each position
    for k in range(8):
        run[:, k] = np.where(groups[:, k] == 0, (run[:, k - 1] if k else 0) + 1, 0)
    longest = run.max(axis=1)
    last = run.argmax(axis=1)  # the first run to reach the longest length ends here
    texts = []
    for values, length, end, bits in zip(groups.tolist(), longest.tolist(), last.tolist(),
                                         plen.tolist(), strict=True):
        hextets = [f"{value:x}" for value in values]
        if length > 1:
            text = ":".join(hextets[:end - length + 1]) + "::" + ":".join(hextets[end + 1:])
        else:
            text = ":".join(hextets)
        texts.append(f"{text}/{bits}")
    return texts


# What `register` reads of a file's rows: `slim` keeps only these, so a file written in
# segments carries a few dozen bytes a row to its commit point, not the rows themselves.
SLIM_SCHEMA = pa.schema([
    ("device", pa.dictionary(pa.int32(), pa.string())), ("session_id", pa.string()),
    ("hi", pa.uint64()), ("lo", pa.uint64()), ("plen", pa.uint8()),
    ("original_start", pa.int64()), ("original_end", pa.int64()), ("last_seen", pa.int64()),
    ("line", pa.int64()),
])


def slim(table: pa.Table) -> pa.Table:
    """The rows of `table` (schema.ARROW_SCHEMA) that `register` can use: those with a session
    id, in SLIM_SCHEMA, the line of their first evidence as `line` (null without one)."""
    picked = table.filter(pc.not_equal(table["session_id"], ""))
    evidence = picked["evidence"]
    if len(picked) and pc.min(pc.list_value_length(evidence).fill_null(0)).as_py() > 0:
        lines = pc.struct_field(pc.list_element(evidence, 0), "line")
    else:  # a row without evidence has no line to name
        lines = pa.array([e[0]["line"] if e else None for e in evidence.to_pylist()], pa.int64())
    # A few NAS names repeat on every row: as a dictionary they cost 4 bytes a row, not 14.
    device = pc.dictionary_encode(pc.cast(picked["device"], pa.string()))
    columns = {name: picked[name] for name in SLIM_SCHEMA.names[1:-1]}  # between the two
    return pa.table({"device": device, **columns, "line": lines}).cast(SLIM_SCHEMA)


def _rows(table: pa.Table, mask: pa.Array) -> list[_Row]:
    picked = table.filter(mask)
    networks = _network_texts(picked["hi"].to_numpy(), picked["lo"].to_numpy(),
                              picked["plen"].to_numpy())
    return [_Row(*values) for values in zip(
        picked["device"].to_pylist(), picked["session_id"].to_pylist(), networks,
        picked["original_start"].to_pylist(), picked["original_end"].to_pylist(),
        picked["last_seen"].to_pylist(), picked["line"].to_pylist(), strict=True)]


_Pending = tuple[int, str, str, str, int]  # id, device, session id, network, original start


def _pending(source: str, record: IngestedFile, table: pa.Table) -> list[_Pending]:
    """Open rows earlier files left that this file could continue.

    Only those proven alive within HORIZON before this file's first record: a session silent
    for longer is not continued by it (NAS buffering reaches about a day), and skipping them
    keeps the work per file bounded by the sessions alive around it, not by all history.
    """
    first = pc.min(table["original_start"]).as_py()
    rows = (OpenInterval.objects.filter(source=source, continued_start__isnull=True,
                                        last_seen__gte=first - HORIZON_US)
            .exclude(file=record)
            .values_list("id", "device", "session_id", "address", "original_start"))
    return list(rows)


def register(record: IngestedFile, source: str, table: pa.Table) -> int:
    """Link this file's rows to open sessions of earlier files; register its own open rows.

    `table`: the file's rows through `slim`. Must run in the transaction that marks `record`
    complete. Returns the continuations found.
    """
    if not len(table):
        return 0
    has_session = pc.not_equal(table["session_id"], "")
    pending = _pending(source, record, table)
    found = 0
    if pending:
        sessions = pa.array(sorted({entry[2] for entry in pending}), pa.string())
        mask = pc.and_(has_session, pc.is_in(table["session_id"], value_set=sessions))
        later: dict[tuple[str, str, str], list[_Row]] = {}
        for row in _rows(table, mask):
            later.setdefault((row.device, row.session_id, row.network), []).append(row)
        for pk, device, session, network, start in pending:
            rows = later.get((device, session, network))
            if rows:
                found += _continue(pk, start, rows, record)
    opened = table.filter(pc.and_(has_session, pc.equal(table["original_end"], OPEN_END)))
    networks = _network_texts(opened["hi"].to_numpy(), opened["lo"].to_numpy(),
                              opened["plen"].to_numpy())
    # A row split at midnight is several table rows of one interval: one entry for it, with
    # the last row's proof of life. Plain lists here: a row object each cost more than the
    # insert itself.
    unique = {(device, session, network, start): seen for device, session, network, start, seen
              in zip(opened["device"].to_pylist(), opened["session_id"].to_pylist(), networks,
                     opened["original_start"].to_pylist(), opened["last_seen"].to_pylist(),
                     strict=True)}
    _insert_open(source, record, unique)
    return found


_OpenKey = tuple[str, str, str, int]  # device, session id, network, original start


def _insert_open(source: str, record: IngestedFile, rows: dict[_OpenKey, int | None]) -> None:
    """One prepared statement through the driver: the ORM cost 20x the insert itself here.

    The same open row met again (a radacct export repeating a session) is skipped.
    """
    if not rows:
        return
    table = OpenInterval._meta.db_table
    ignore = "OR IGNORE " if connection.vendor == "sqlite" else ""
    tail = "" if connection.vendor == "sqlite" else " ON CONFLICT DO NOTHING"
    sql = for_driver(
        f"INSERT {ignore}INTO {table} (source, device, session_id, address, original_start, "  # noqa: S608
        f"last_seen, file_id) VALUES (%s, %s, %s, %s, %s, %s, %s){tail}")
    cursor = driver_cursor()
    try:
        file_id = record.pk  # read once: a model attribute lookup per row added up
        cursor.executemany(sql, [(source, device, session, network, start, seen, file_id)
                                 for (device, session, network, start), seen in rows.items()])
    finally:
        cursor.close()


def _continue(pk: int, open_start: int, rows: list[_Row], record: IngestedFile) -> int:
    """The earliest later interval of the same session that reaches past the open one's start.

    The same start again is the same session row exported again (radacct): it continues
    the open one only once it has an end; open again, it is the same open row.
    """
    usable = [r for r in rows if (r.start == open_start and r.end != OPEN_END)
              or (r.start != open_start and r.end > open_start)]
    if not usable:
        return 0
    row = min(usable, key=lambda r: r.start)
    OpenInterval.objects.filter(pk=pk).update(
        continued_start=row.start, continued_end=None if row.end == OPEN_END else row.end,
        continued_file=record, continued_line=row.line)
    return 1


class ContinuationBook:
    """What later files say about a set of open rows, loaded in a few queries."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self._found: dict[Key, Continuation] = {}
        wanted = sorted(set(keys))
        for first in range(0, len(wanted), _CHUNK):
            chunk = wanted[first:first + _CHUNK]
            # Source and device too, though only the session narrows much: they lead the
            # unique index (source, device, session id, ...), and without them the registry
            # was scanned whole (72 ms at 800k open rows, on every answer with an open row).
            # "Continued" is tested below, not in SQL: as a range it lured the planner onto
            # the (source, continued start) index, which spans most of a real registry.
            rows = (OpenInterval.objects.filter(source__in={key[0] for key in chunk},
                                                device__in={key[1] for key in chunk},
                                                session_id__in={key[2] for key in chunk})
                    .select_related("continued_file"))
            want = set(chunk)
            for row in rows:
                key = (row.source, row.device, row.session_id, row.address, row.original_start)
                if key in want and row.continued_start is not None:
                    later = row.continued_file
                    self._found[key] = Continuation(
                        row.continued_start, row.continued_end,
                        later.path if later else "", later.sha256 if later else "",
                        row.continued_line)

    def get(self, key: Key) -> Continuation | None:
        return self._found.get(key)
