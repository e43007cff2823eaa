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

A file is read in segments (`column_segments`) that the ingest writes one by one, so its memory
does not grow with the file. Some of those refusals are only found after segments were handed
out (NotInColumns); the ingest then drops what it wrote and reads the file line by line.
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
    records: int = 0                      # CSV records the segment covers, fallback included


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


class NotInColumns(Exception):
    """Found after some segments were handed out: the whole file must take the per-line path."""


# Records per segment. A segment is decoded, written and released before the next is read, so
# an ingest's memory is bounded by this, not by the file (about 1.3 GiB per million records
# decoded and written at once). A file up to this size is one segment, as before segments.
SEGMENT_RECORDS = 1_000_000


def column_segments(path: Path, sha256: str, fmt: str, records: int | None = None
                    ) -> Iterator[Columns] | None:
    """`path` decoded in columns, `records` CSV records (default SEGMENT_RECORDS, 0: all) at a
    time, cut at pyarrow batch boundaries; None when the file must take the per-line path as a
    whole, as far as can be told before reading it.

    The iterator raises NotInColumns when that is found only later (a field count pyarrow
    rejects, a blank line shifting the numbering): segments already handed out must then be
    undone by the caller. `Columns.lines` is the file's physical line count on every segment.
    """
    lines, problem = _census(path)
    if problem or lines < 1:
        return None
    try:
        opened = _reader(path)  # pyarrow reads the first block here already
    except (pa.ArrowException, UnicodeDecodeError):
        return None
    if opened is None:
        return None
    size = SEGMENT_RECORDS if records is None else records
    return _segments(path, sha256, fmt, opened, lines, size)


def _segments(path: Path, sha256: str, fmt: str,
              opened: tuple[pv.CSVStreamingReader, dict[str, str]], lines: int, size: int
              ) -> Iterator[Columns]:
    reader, present = opened
    records = taken = 0  # CSV records read so far; those in the segment being built
    decoded: list[Decoded] = []

    def segment() -> Columns:
        table = _assemble(decoded, str(path), sha256, fmt)
        left = (np.concatenate([part.fallback for part in decoded]) if decoded
                else np.empty(0, np.int64))
        decoded.clear()
        return Columns(table, left, lines, taken - len(left), taken)

    try:
        # pyarrow kernels release the GIL: one batch is decoded while the next is parsed.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending: deque[tuple[Future[Decoded], int]] = deque()
            batches = _batches(reader, present)
            while True:
                columns = next(batches, None)
                if columns is not None:
                    count = len(next(iter(columns.values())))
                    numbers = np.arange(records + 2, records + 2 + count, dtype=np.int64)
                    pending.append((pool.submit(decode_batch, columns, numbers), count))
                    records += count
                while pending and (columns is None or len(pending) > 2):
                    future, count = pending.popleft()
                    decoded.append(future.result())
                    taken += count
                    if size and taken >= size:
                        yield segment()
                        taken = 0
                if columns is None:
                    break
    except (pa.ArrowException, UnicodeDecodeError) as error:
        # a field count, an encoding or a quote the csv module must judge
        raise NotInColumns(str(error)) from error
    if records != lines - 1:
        raise NotInColumns("a blank line or a record across lines: numbering would drift")
    if decoded or not size:
        yield segment()


def read_columns(path: Path, sha256: str, fmt: str) -> Columns | None:
    """Decode `path` in columns as one segment; None when the whole file must take the
    per-line path."""
    segments = column_segments(path, sha256, fmt, records=0)
    if segments is None:
        return None
    try:
        return next(segments)
    except NotInColumns:
        return None


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


class FallbackLines:
    """The parser over the header and the given lines only, numbered as in the file, segment
    after segment in one pass over the file (each call's numbers follow the previous call's).

    Every record is one physical line here (checked by `column_segments`), so the k-th record
    the parser sees is line `numbers[k]`.
    """

    def __init__(self, path: Path, source: Source) -> None:
        self._text = open_text(path)  # opened at the first line wanted, if any
        self._lines = enumerate(self._text, start=1)
        self._header: str | None = None
        self._source = source

    def items(self, numbers: npt.NDArray[np.int64]) -> Iterator[Event | Quarantined]:
        if not len(numbers):
            return
        if self._header is None:
            self._header = next(self._lines)[1]
        wanted = numbers.tolist()
        picked = [self._header]
        for number, line in self._lines:
            if number == wanted[len(picked) - 1]:
                picked.append(line)
                if len(picked) > len(wanted):
                    break
        real = [1, *wanted]
        for item in radacct_csv.parse(picked, self._source):
            if isinstance(item, Quarantined):
                yield replace(item, line=real[item.line - 1])
            else:
                yield replace(item, evidence=replace(item.evidence,
                                                     line=real[item.evidence.line - 1]))

    def close(self) -> None:
        self._text.close()


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
