"""Read the intervals of a time range from the embedded log store, for analytics.

Attribution probes one key at one instant through the per-partition index; the quality views
instead read every interval of a range (optionally of some devices, or of some identities),
so this goes straight to the Parquet files with pyarrow:

- only the day partitions of the range are opened (intervals are split at UTC midnight on
  write, so every interval touching the range has a piece in one of its days), and of those
  only the ones whose manifest says their rows reach into the range;
- only the columns asked for are decoded, and the range, device and identity filters are
  pushed into the Parquet scan (row-group statistics skip what cannot match);
- the pieces of one interval are folded back into one row: `original_start` and
  `original_end` are the whole interval, and each piece carries the same identities, flags
  and evidence, so one piece per interval is kept: the one carrying the interval's end when
  it was read, because only that piece holds the disconnect cause and the octets (see
  `store.writer.split_days`). An interval whose end lies outside the range is read without
  them: its counters were read, and its cause given, after the range.
- partitions written before the cause and octet columns existed read them as null.

Only a manifest makes a partition visible, as for every other reader of the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import ARROW_SCHEMA, DAY_US, END_COLUMNS
from cpniguard.connectivity.store.writer import day_name

# What one interval is, whichever day piece it was read from.
IDENTITY_OF_INTERVAL = ("source", "hi", "lo", "plen", "port_first", "original_start",
                        "original_end", "device", "session_id")
# The columns the network view and the outage scan need; the health view adds evidence.
SESSION_COLUMNS = ("source", "hi", "lo", "plen", "port_first", "port_last", "original_start",
                   "original_end", "last_seen", "username", "mac", "client_id", "duid",
                   "circuit_id", "remote_id", "device", "session_id", "flags",
                   *END_COLUMNS)
IDENTITY_COLUMNS = ("username", "mac", "client_id", "duid", "circuit_id", "remote_id")


@dataclass(frozen=True, slots=True)
class ScanRange:
    """[since, until) in microseconds UTC."""

    since: int
    until: int

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise ValueError("the range must end after it begins")

    def days(self) -> list[str]:
        return [day_name(day) for day in range(self.since // DAY_US,
                                               (self.until - 1) // DAY_US + 1)]


def partition_files(root: Path, span: ScanRange, sources: Iterable[str] | None = None
                    ) -> list[Path]:
    """The Parquet files of the visible partitions whose rows can reach into `span`."""
    wanted = None if sources is None else set(sources)
    files: list[Path] = []
    if not root.is_dir():
        return files
    for source in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if wanted is not None and source.name not in wanted:
            continue
        for day in span.days():
            directory = source / day
            if not directory.is_dir():
                continue
            for manifest in sorted(directory.glob("part-*.manifest.json")):
                data = json.loads(manifest.read_text())
                if data.get("rows", 0) == 0 or data.get("min_start", 0) >= span.until \
                        or data.get("max_end", span.until) <= span.since:
                    continue
                files.extend(directory / name for name in sorted(data["files"])
                             if name.endswith(".parquet"))
    return files


def _filter(span: ScanRange, devices: Iterable[str] | None,
            identities: Mapping[str, Iterable[str]] | None) -> ds.Expression:
    # A piece overlaps the range; an open piece (end = OPEN_END) always passes this test.
    expression = (ds.field("start") < span.until) & (ds.field("end") > span.since)
    if devices is not None:
        expression = expression & ds.field("device").isin(sorted(set(devices)))
    if identities is not None:
        wanted = [ds.field(kind).isin(sorted(set(values)))
                  for kind, values in identities.items() if kind in IDENTITY_COLUMNS and values]
        if not wanted:
            return ds.scalar(False)
        either = wanted[0]
        for more in wanted[1:]:
            either = either | more
        expression = expression & either
    return expression


def scan(root: Path | str, span: ScanRange, *, columns: Iterable[str] = SESSION_COLUMNS,
         devices: Iterable[str] | None = None,
         identities: Mapping[str, Iterable[str]] | None = None,
         sources: Iterable[str] | None = None) -> pa.Table:
    """Whole intervals touching `span`, one row each, sorted by (original_start, device).

    `identities` maps an identity column (username, mac, ...) to the values wanted: a row
    matching any of them is kept. `devices` keeps only rows of those NASes / servers.
    """
    wanted = list(dict.fromkeys([*IDENTITY_OF_INTERVAL, *columns]))
    unknown = set(wanted) - set(ARROW_SCHEMA.names)
    if unknown:
        raise ValueError(f"unknown columns {sorted(unknown)}")
    files = partition_files(Path(root), span, sources)
    schema = pa.schema([ARROW_SCHEMA.field(name) for name in wanted])
    if not files:
        return schema.empty_table()
    # The full schema, not each file's: an older file lacking a column reads it as null.
    dataset = ds.dataset([str(f) for f in files], format="parquet", schema=ARROW_SCHEMA)
    read = list(dict.fromkeys([*wanted, "end"]))
    table = dataset.to_table(columns=read, filter=_filter(span, devices, identities))
    return _one_row_per_interval(table).select(wanted)


def _one_row_per_interval(table: pa.Table) -> pa.Table:
    if not len(table):
        return table
    # The piece holding the interval's end ranks first, so it is the one kept when read.
    position = np.arange(len(table), dtype=np.int64)
    at_end = np.asarray(pc.equal(table.column("end"), table.column("original_end"))
                        .to_numpy(zero_copy_only=False), dtype=bool)
    rank = np.where(at_end, position, position + len(table))
    numbered = table.append_column("_row", pa.array(rank))
    first = numbered.group_by(list(IDENTITY_OF_INTERVAL), use_threads=False).aggregate(
        [("_row", "min")])
    chosen = first.column("_row_min").to_numpy()
    kept = table.take(pa.array(np.where(chosen >= len(table), chosen - len(table), chosen)))
    order = pc.sort_indices(kept, sort_keys=[("original_start", "ascending"),
                                             ("device", "ascending"),
                                             ("original_end", "ascending")])
    return kept.take(order)
