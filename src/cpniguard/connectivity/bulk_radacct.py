"""radacct-csv ingest in columns: the common rows decoded with pyarrow and numpy, the rest by the
parser itself.

`parsers.radacct_csv` + `intervals_radius` read a row at a time, tens of thousands per second; a
year of radacct exports is hundreds of millions of rows. Here a row is decoded in columns only
when it has the plain shape `COPY radacct TO ... CSV HEADER` writes (times with an offset, an
IPv4 framed address and/or IPv6 addresses and prefixes that parse, ASCII identities without
edge whitespace, a separated MAC or none); every other row is handed, with its real line number, to
the very parser and interval builder the per-line path uses, so quarantine texts and flags stay
theirs. The columns produce exactly the stored rows that path would produce; tests compare them
row for row.

A whole file goes to the per-line path when it cannot be read in columns with certainty: gzip,
a lone CR, NUL bytes, a quote inside a field, a record spanning lines, a header the parser
would refuse, or anything pyarrow rejects. Line numbers are only known here because every record
is then exactly one physical line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pv  # type: ignore[import-untyped]

from cpniguard.connectivity.bulk_radacct_rules import (
    ADDRESS_COLUMNS,
    TIME_COLUMNS,
    Decoded,
    decode_batch,
)
from cpniguard.connectivity.events import Event, Quarantined, Source, open_text
from cpniguard.connectivity.parsers import radacct_csv
from cpniguard.connectivity.parsers.radacct_csv import _columns
from cpniguard.connectivity.store.schema import StoredInterval, to_table

_BLOCK = 1 << 24  # bytes per pyarrow batch: ~60k radacct rows
_SCAN = 1 << 22
_WANTED = (*TIME_COLUMNS, *ADDRESS_COLUMNS, "username", "nasipaddress", "acctuniqueid",
           "acctsessionid", "callingstationid", "acctinputoctets", "acctoutputoctets",
           "acctterminatecause")


@dataclass(frozen=True, slots=True)
class Columns:
    """The rows decoded in columns, and the line numbers left for the per-line path."""

    table: pa.Table                       # ARROW_SCHEMA names, plus "line"; strings may be dicts
    fallback: npt.NDArray[np.int64]       # 1-based physical line numbers, ascending
    lines: int                            # physical lines, as `events.open_text` counts them
    events: int = 0                       # records decoded here (a dual-stack one: 1 event,
                                          # several table rows)


def _census(path: Path) -> tuple[int, str]:
    """(physical lines, why the file must be read line by line, or "")."""
    with path.open("rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            return 0, "gzip"
    newlines = crs = crlfs = quotes = 0
    previous = b""
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN):
            if b"\x00" in chunk:
                return 0, "NUL byte"
            newlines += chunk.count(b"\n")
            if b"\r" in chunk or previous == b"\r":
                crs += chunk.count(b"\r")
                crlfs += chunk.count(b"\r\n") + (previous == b"\r" and chunk[:1] == b"\n")
            quotes += chunk.count(b'"')
            previous = last = chunk[-1:]
    if crs != crlfs:
        return 0, "a lone carriage return"
    lines = newlines + (1 if last not in (b"", b"\n") else 0)
    if quotes and not _quotes_delimit(path):
        return 0, "a quote inside a field"
    return lines, ""


def _quotes_delimit(path: Path) -> bool:
    """True when every quote opens or closes a field (or is a doubled quote inside one).

    pyarrow and the csv module disagree only on quotes in the middle of a field; such a file is
    left to the csv module, which is the reference.
    """
    data = np.memmap(path, dtype=np.uint8, mode="r")
    opening = np.frombuffer(b',\n"', np.uint8)
    closing = np.frombuffer(b',\r\n"', np.uint8)
    for first in range(0, len(data), _SCAN * 16):  # in slices: a mask of the whole file is GBs
        at = first + np.flatnonzero(data[first:first + _SCAN * 16] == ord('"'))
        before = np.where(at > 0, data[np.maximum(at - 1, 0)], ord("\n"))
        after = np.where(at < len(data) - 1, data[np.minimum(at + 1, len(data) - 1)], ord("\n"))
        if not np.all(np.isin(before, opening) | np.isin(after, closing)):
            return False
    return True


def _reader(path: Path) -> tuple[pv.CSVStreamingReader, dict[str, str]] | None:
    """A streaming reader over the needed columns as strings; None if the header is refused."""
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8", "surrogateescape").rstrip("\r\n")
    header = first.split(",")
    if '"' in first or first.startswith("\ufeff") or any(name != name.strip() for name in header):
        return None
    names, problem = _columns(header)
    if problem:
        return None
    present = {name: raw for name, raw in zip(names, header, strict=True) if name in _WANTED}
    reader = pv.open_csv(
        path,
        read_options=pv.ReadOptions(block_size=_BLOCK, use_threads=True),
        parse_options=pv.ParseOptions(newlines_in_values=False),
        convert_options=pv.ConvertOptions(
            column_types={raw: pa.string() for raw in header},
            include_columns=list(present.values()), strings_can_be_null=False),
    )
    return reader, present


def _batches(reader: pv.CSVStreamingReader, present: dict[str, str]
             ) -> Iterator[dict[str, pa.Array]]:
    for batch in reader:
        yield {name: batch.column(raw) for name, raw in present.items()}


def read_columns(path: Path, sha256: str, fmt: str) -> Columns | None:
    """Decode `path` in columns; None when the whole file must take the per-line path."""
    lines, problem = _census(path)
    if problem or lines < 1:
        return None
    decoded: list[Decoded] = []
    fallback: list[npt.NDArray[np.int64]] = []
    records = 0
    try:
        opened = _reader(path)  # pyarrow reads the first block here already
        if opened is None:
            return None
        reader, present = opened
        # pyarrow kernels release the GIL: one batch is decoded while the next is parsed.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending: deque[Future[Decoded]] = deque()
            for columns in _batches(reader, present):
                count = len(next(iter(columns.values())))
                numbers = np.arange(records + 2, records + 2 + count, dtype=np.int64)
                pending.append(pool.submit(decode_batch, columns, numbers))
                records += count
                if len(pending) > 2:
                    decoded.append(pending.popleft().result())
            decoded.extend(future.result() for future in pending)
        fallback = [part.fallback for part in decoded]
    except (pa.ArrowException, UnicodeDecodeError):
        return None  # a field count, an encoding or a quote the csv module must judge
    if records != lines - 1:
        return None  # a blank line or a record across lines: numbering would drift
    table = _assemble(decoded, str(path), sha256, fmt)
    left = np.concatenate(fallback) if fallback else np.empty(0, np.int64)
    return Columns(table, left, lines, records - len(left))


def _dictionary(values: list[str], indices: npt.NDArray[np.int32]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values))


def _assemble(parts: list[Decoded], file: str, sha256: str, fmt: str) -> pa.Table:
    """The stored columns (schema.ARROW_SCHEMA order) plus `line`, for every decoded row."""
    def joined(name: str) -> npt.NDArray[np.int64]:
        return np.concatenate([getattr(p, name) for p in parts]) if parts else np.empty(
            0, np.int64)

    line, start, end, seen = joined("line"), joined("start"), joined("end"), joined("seen")
    count = len(line)
    zeros = np.zeros(count, np.int32)
    flags = (np.concatenate([p.flags for p in parts]) if parts else zeros).astype(np.int32)
    hi = np.concatenate([p.hi for p in parts]) if parts else np.empty(0, np.uint64)
    lo = np.concatenate([p.lo for p in parts]) if parts else np.empty(0, np.uint64)
    plen = np.concatenate([p.plen for p in parts]) if parts else np.empty(0, np.uint8)

    def strings(name: str) -> pa.ChunkedArray:
        return pa.chunked_array([getattr(p, name) for p in parts], pa.string())

    evidence = pa.ListArray.from_arrays(
        pa.array(np.arange(count + 1, dtype=np.int32)),
        pa.StructArray.from_arrays(
            [_dictionary([file], zeros), pa.array(line, pa.int64()),
             _dictionary([sha256], zeros)], names=["file", "line", "sha256"]))
    empty = _dictionary([""], zeros)
    columns = {
        "hi": pa.array(hi, pa.uint64()), "lo": pa.array(lo, pa.uint64()),
        "plen": pa.array(plen, pa.uint8()),
        "start": pa.array(start), "end": pa.array(end),
        "original_start": pa.array(start), "original_end": pa.array(end),
        "last_seen": pa.array(seen), "port_first": pa.array(np.full(count, -1, np.int32)),
        "port_last": pa.array(np.full(count, -1, np.int32)),
        "source": _dictionary([fmt], zeros), "username": strings("username"),
        "mac": strings("mac"), "client_id": empty, "duid": empty, "circuit_id": empty,
        "remote_id": empty, "device": strings("device"), "session_id": strings("session_id"),
        "flags": _dictionary(list(_FLAG_TEXTS), flags), "evidence": evidence,
        "terminate_cause": strings("terminate_cause"),
        "octets_in": pa.chunked_array([p.octets_in for p in parts], pa.int64()),
        "octets_out": pa.chunked_array([p.octets_out for p in parts], pa.int64()),
        "line": pa.array(line, pa.int64()),
    }
    return pa.table(columns)


# Index = NO_START bit (1) | NO_STOP bit (2): the sorted, comma-joined text of each flag set.
_FLAG_TEXTS = ("", "no-start", "no-stop", "no-start,no-stop")


def per_line(path: Path, numbers: npt.NDArray[np.int64], source: Source
             ) -> Iterator[Event | Quarantined]:
    """The parser over the header and the given lines only, numbered as in the file.

    Every record is one physical line here (checked by `read_columns`), so the k-th record the
    parser sees is line `numbers[k]`.
    """
    if not len(numbers):
        return
    wanted = set(numbers.tolist())
    picked: list[str] = []
    for number, line in enumerate(open_text(path), start=1):
        if number == 1 or number in wanted:
            picked.append(line)
    real = [1, *numbers.tolist()]
    for item in radacct_csv.parse(picked, source):
        if isinstance(item, Quarantined):
            yield replace(item, line=real[item.line - 1])
        else:
            yield replace(item, evidence=replace(item.evidence, line=real[item.evidence.line - 1]))


def merge(columns: pa.Table, rows: list[StoredInterval]) -> pa.Table:
    """The column-decoded rows and the per-line path's rows, in file order, without `line`."""
    if rows:
        slow = to_table(rows)
        lines = [row.evidence[0].line for row in rows]
        slow = slow.append_column("line", pa.array(lines, pa.int64())).cast(columns.schema)
        columns = pa.concat_tables([columns, slow])
        columns = columns.take(pa.array(np.argsort(columns.column("line").to_numpy(),
                                                   kind="stable")))
    return columns.drop_columns(["line"])
