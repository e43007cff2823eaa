"""A partition's rows for point reads: small zstd blocks, any row decoded without Parquet.

A lookup finds its rows in the memory-mapped key arrays in microseconds; decoding those rows
from Parquet then cost a millisecond or more (a whole row group of every column, through the
Parquet reader's setup), which made the lookup hundreds of times slower than its search. So
each partition also keeps its rows, in index order, in blocks of `BLOCK_ROWS` rows compressed
one by one: a row is read by decompressing one block (a few kilobytes) and slicing it.

The columns the key arrays already hold (address key, prefix length, start, end, ports) are
not repeated here. Times are kept as differences from the row's start or end (zero for most
rows: a piece that was not split, a session whose last record is its Stop), so they cost
almost nothing once compressed.

Block layout, before compression (little-endian, column after column so like values sit
together): header `<III` (rows, evidence entries, flags) and one `<I` blob length per string
column; then a null mask (uint8 per row), five int64 columns, the uint32 lengths of each string
column, the evidence count per row (uint32), each evidence entry's source (uint32: a number in
the manifest's `evidence_sources`, the distinct file and SHA-256 pairs) and line (int64), and
last the string blobs (UTF-8; the session ids as the bytes they spell when the flags say so).
"""

from __future__ import annotations

import struct
import sys
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.store.schema import OPEN_END

# Blocks and key arrays are little-endian and read in place (memoryview casts, native order).
if sys.byteorder != "little":
    raise ImportError("the log store reads its files in place and needs a little-endian CPU")

BLOCK_ROWS = 32  # 64 or 128 compress 6-10 % smaller and decode a row 1.5-2x slower
STRING_COLUMNS = ("source", "username", "mac", "client_id", "duid", "circuit_id", "remote_id",
                  "device", "session_id", "flags", "terminate_cause")
_HEADER = struct.Struct(f"<III{len(STRING_COLUMNS)}I")
_SESSION = STRING_COLUMNS.index("session_id")
# Header flags: every session id of the block is hex digits (lower or upper case), kept as the
# bytes they spell. RADIUS unique session ids are 32 hex digits of an MD5: half the bytes.
_HEX_LOWER, _HEX_UPPER = 1, 2
# Null mask bits: the nullable columns.
_NO_LAST_SEEN, _NO_CAUSE, _NO_OCTETS_IN, _NO_OCTETS_OUT = 1, 2, 4, 8
# The codec of new blocks, named in the manifest ("block_codec"; absent means zstd, which
# the first format 2 partitions used). LZ4 blocks are about 15 % larger than zstd level 1
# but decode in 2-3 us against 20: pyarrow's zstd sets up a decompression context per call,
# and a lookup decodes one block, so that setup was a tenth of the whole lookup.
BLOCK_CODEC = "lz4_raw"
_CODECS = {"zstd": pa.Codec("zstd", compression_level=1), "lz4_raw": pa.Codec("lz4_raw")}
_INT = struct.Struct("<q")
_CODE = struct.Struct("<I")
_PAIR = struct.Struct("<II")


def _strings(array: pa.Array) -> tuple[npt.NDArray[np.int64], bytes]:
    """(offsets, data) of a plain string array, nulls as empty strings."""
    array = pc.fill_null(array, "") if array.null_count else array
    offsets = np.frombuffer(array.buffers()[1], np.int32)[array.offset:array.offset + len(array)
                                                          + 1].astype(np.int64)
    data = array.buffers()[2]
    return offsets, b"" if data is None else data.to_pybytes()


def _ints(array: pa.Array) -> npt.NDArray[np.int64]:
    return np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False), np.int64)


def _np_bool(array: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), bool)


def _nulls(array: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), bool)


def _evidence_sources(entries: pa.StructArray) -> tuple[list[tuple[str, str]],
                                                       npt.NDArray[np.uint32]]:
    """The distinct (file, sha256) pairs of these evidence entries, and each entry's pair: a
    partition's rows come from a handful of files, so the pairs are kept once, in the
    manifest, and an entry is its pair's number and its line."""
    # flatten(), not field(): only flatten() applies the struct array's own slice offset.
    children = dict(zip([entries.type.field(i).name for i in range(entries.type.num_fields)],
                        entries.flatten(), strict=True))
    files = pc.dictionary_encode(pc.fill_null(children["file"], ""))
    hashes = pc.dictionary_encode(pc.fill_null(children["sha256"], ""))
    pair = (np.asarray(files.indices, np.int64) * len(hashes.dictionary)
            + np.asarray(hashes.indices, np.int64))
    distinct, codes = np.unique(pair, return_inverse=True)
    names, digests = files.dictionary.to_pylist(), hashes.dictionary.to_pylist()
    sources = [(names[int(n) // len(digests)], digests[int(n) % len(digests)]) for n in distinct]
    return sources, codes.astype(np.uint32)


def encode(table: pa.Table) -> tuple[bytes, npt.NDArray[np.int64], list[tuple[str, str]]]:
    """(blocks, block table, evidence sources) for a partition's rows in index order
    (schema.ARROW_SCHEMA).

    The block table has one row per block: (byte offset, compressed size, raw size)."""
    count = len(table)
    col = {name: table.column(name).combine_chunks() for name in table.column_names}
    start, end = _ints(col["start"]), _ints(col["end"])
    original_end = _ints(col["original_end"])
    mask = ((_nulls(col["last_seen"]) * _NO_LAST_SEEN)
            | (_nulls(col["terminate_cause"]) * _NO_CAUSE)
            | (_nulls(col["octets_in"]) * _NO_OCTETS_IN)
            | (_nulls(col["octets_out"]) * _NO_OCTETS_OUT)).astype(np.uint8)
    ints = np.stack([
        _ints(col["original_start"]) - start,
        original_end - end,
        # A closed session's last record is usually its Stop: zero once compressed.
        np.where(mask & _NO_LAST_SEEN, 0,
                 _ints(col["last_seen"]) - _seen_base(start, original_end)),
        _ints(col["octets_in"]), _ints(col["octets_out"]),
    ])
    strings = [_strings(col[name]) for name in STRING_COLUMNS]
    sessions = col["session_id"]
    hex_case = [_np_bool(pc.match_substring_regex(sessions, "^([0-9a-f]{2})+$")),
                _np_bool(pc.match_substring_regex(sessions, "^([0-9A-F]{2})+$"))]
    evidence = col["evidence"]
    ev_offsets = np.frombuffer(evidence.buffers()[1], np.int32)[
        evidence.offset:evidence.offset + count + 1].astype(np.int64)
    ev_offsets -= ev_offsets[0] if count else 0
    entries = evidence.flatten()  # the struct entries of these rows only
    sources, ev_codes = _evidence_sources(entries)
    ev_lines = _ints(entries.flatten()[[entries.type.field(i).name for i in
                                        range(entries.type.num_fields)].index("line")])
    # Everything per row is computed once for the partition; a block is then slices of it.
    firsts = np.arange(0, count, BLOCK_ROWS)
    edges = np.append(firsts, count)
    lengths = np.stack([*(np.diff(offsets) for offsets, _ in strings),
                        np.diff(ev_offsets)]).astype(np.uint32)   # the block's layout order
    cuts = [offsets[edges].tolist() for offsets, _ in strings]
    ev_cuts = ev_offsets[edges].tolist()
    hex_blocks = [np.logical_and.reduceat(is_hex, firsts).tolist() if count else []
                  for is_hex in hex_case]
    chunks: list[bytes] = []
    table_rows: list[tuple[int, int, int]] = []
    position = 0
    for block, first in enumerate(firsts.tolist()):
        last = min(first + BLOCK_ROWS, count)
        ev_first, ev_last = ev_cuts[block], ev_cuts[block + 1]
        blobs = [data[cut[block]:cut[block + 1]]
                 for cut, (_, data) in zip(cuts, strings, strict=True)]
        sizes = lengths[:, first:last]
        flags = _HEX_LOWER if hex_blocks[0][block] else (
            _HEX_UPPER if hex_blocks[1][block] else 0)
        if flags:
            blobs[_SESSION] = bytes.fromhex(blobs[_SESSION].decode("ascii"))
            sizes = sizes.copy()
            sizes[_SESSION] //= 2
        raw = b"".join([
            _HEADER.pack(last - first, ev_last - ev_first, flags, *(len(b) for b in blobs)),
            mask[first:last].tobytes(), ints[:, first:last].tobytes(), sizes.tobytes(),
            ev_codes[ev_first:ev_last].tobytes(), ev_lines[ev_first:ev_last].tobytes(),
            *blobs,
        ])
        packed = _CODECS[BLOCK_CODEC].compress(raw, asbytes=True)
        chunks.append(packed)
        table_rows.append((position, len(packed), len(raw)))
        position += len(packed)
    return (b"".join(chunks), np.array(table_rows, dtype=np.int64).reshape(-1, 3), sources)


def _seen_base(start: Any, original_end: Any) -> Any:
    """What `last_seen` is kept relative to: the original end when there is one, else the
    start (works on ints and on arrays alike)."""
    return np.where(original_end == OPEN_END, start, original_end) if isinstance(
        start, np.ndarray) else (start if original_end == OPEN_END else original_end)


# A row's values beside its key arrays: original start, original end, last seen, octets in,
# octets out (None where unknown), the STRING_COLUMNS in order (terminate_cause None where
# unknown), and the evidence.
RowValues = tuple[int, int, int | None, int | None, int | None, list[Any],
                  tuple[Evidence, ...]]


@lru_cache(maxsize=64)
def _lengths(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


class Block:
    """One decompressed block, read in place: `row` unpacks just the row asked for.

    Building numpy views of every column cost more than a lookup's whole budget; a row needs
    about thirty fixed-offset reads, which `struct` does in a few microseconds."""

    __slots__ = ("blobs", "ev_codes", "ev_lines", "flags", "ints", "lengths", "raw", "rows",
                 "sources")

    def __init__(self, raw: bytes, sources: list[tuple[str, str]]) -> None:
        header = _HEADER.unpack_from(raw)
        rows, entries, self.flags, sizes = header[0], header[1], header[2], header[3:]
        self.raw, self.rows, self.sources = raw, rows, sources
        self.ints = _HEADER.size + rows                      # after the null mask
        at = self.ints + 40 * rows                           # five int64 columns
        # Lengths are stored (they compress better than offsets): row i of string column c
        # starts at the sum of the column's first i lengths. Summed per row asked for, since
        # a lookup wants one row of a block and arrays cost more to build than a short sum.
        count = (len(STRING_COLUMNS) + 1) * rows
        self.lengths = _lengths(count).unpack_from(raw, at)
        at += 4 * count
        self.ev_codes = at                                   # the last row: evidence entries
        self.ev_lines = at + 4 * entries
        at = self.ev_lines + 8 * entries
        blobs = []
        for size in sizes:
            blobs.append(at)
            at += size
        self.blobs = blobs

    def row(self, i: int, start: int, end: int) -> RowValues:
        """The values of row `i` that the key arrays do not hold, as `RowValues` lists them."""
        raw, rows, blobs, lengths, flags = self.raw, self.rows, self.blobs, self.lengths, self.flags
        mask = raw[_HEADER.size + i]
        ints = memoryview(raw)[self.ints:self.ints + 40 * rows].cast("q")
        original_start, original_end = start + ints[i], end + ints[rows + i]
        strings: list[Any] = []
        first = i
        for n in range(len(STRING_COLUMNS)):
            size = lengths[first]
            if not size:
                strings.append("")
            else:
                begin = blobs[n] + sum(lengths[first - i:first])
                text = raw[begin:begin + size]
                if n == _SESSION and flags:
                    strings.append(text.hex() if flags & _HEX_LOWER else text.hex().upper())
                else:
                    strings.append(text.decode())
            first += rows
        if mask & _NO_CAUSE:
            strings[-1] = None
        entry = sum(lengths[first - i:first])
        evidence = []
        for e in range(entry, entry + lengths[first]):
            file, sha256 = self.sources[_CODE.unpack_from(raw, self.ev_codes + 4 * e)[0]]
            evidence.append(Evidence(file, _INT.unpack_from(raw, self.ev_lines + 8 * e)[0],
                                     sha256))
        return (original_start, original_end,
                None if mask & _NO_LAST_SEEN else _seen_base(start, original_end)
                + ints[2 * rows + i],
                None if mask & _NO_OCTETS_IN else ints[3 * rows + i],
                None if mask & _NO_OCTETS_OUT else ints[4 * rows + i],
                strings, tuple(evidence))


class RowBlocks:
    """The blocks of one partition, memory-mapped; recently decoded blocks are kept."""

    _KEEP = 8

    def __init__(self, data: npt.NDArray[np.uint8], table: npt.NDArray[np.int64],
                 block_rows: int, sources: list[tuple[str, str]], codec: str = "zstd") -> None:
        if codec not in _CODECS:
            raise ValueError(f"unknown row block codec {codec!r}")
        self._codec = _CODECS[codec]
        self._data = data
        self._sources = [(file, sha) for file, sha in sources]
        self._block_rows = block_rows
        self._table = table
        self._recent: OrderedDict[int, Block] = OrderedDict()

    def block(self, number: int) -> Block:
        found = self._recent.get(number)
        if found is not None:
            return found
        offset, size, raw_size = self._table[number].tolist()
        raw = self._codec.decompress(self._data[offset:offset + size], decompressed_size=raw_size,
                                asbytes=True)
        found = Block(raw, self._sources)
        self._recent[number] = found
        if len(self._recent) > self._KEEP:
            self._recent.popitem(last=False)
        return found

    def fields(self, row: int, start: int, end: int) -> RowValues:
        return self.block(row // self._block_rows).row(row % self._block_rows, start, end)
