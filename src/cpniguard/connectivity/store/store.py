"""The embedded log store: day partitions on local disk, one directory per source.

A lookup at instant T opens only the partitions of T's UTC day (and the neighbouring day when
the skew window crosses midnight), because every interval was split at midnight on write.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.index import Match, PartitionIndex, Query, probe_arrays
from cpniguard.connectivity.store.schema import (
    DAY_US,
    Address,
    StoredInterval,
    address_key,
    to_us,
)
from cpniguard.connectivity.store.writer import check_source, day_name, write_batch, write_table


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    source: str
    day: str
    part: int
    rows: int
    manifest: Path


_SETTLED_NS = 3_000_000_000


# Opened partitions shared by every store object of the process: the API and the CLI open a
# store per call, and opening a partition (its manifest, seven memory maps, the Parquet footer)
# cost more than the lookup itself. Keyed by the manifest's inode and mtime, so a partition
# rewritten by a purge (a new manifest renamed over the old) is opened afresh; a manifest
# changed in the last seconds is not shared at all (the racy case, as for listings).
_LISTINGS: dict[tuple[str, str, bool], tuple[int, list[Path]]] = {}  # shared, like _OPENED
_LISTINGS_LIMIT = 8192
_OPENED: OrderedDict[tuple[str, int, int], PartitionIndex] = OrderedDict()
_OPENED_LIMIT = 512
_OPENED_LOCK = threading.Lock()


_day_text = lru_cache(maxsize=8192)(day_name)  # a lookup's day as a directory name


def _opened(manifest: Path) -> PartitionIndex:
    stat = manifest.stat()
    key = (str(manifest), stat.st_ino, stat.st_mtime_ns)
    with _OPENED_LOCK:
        index = _OPENED.get(key)
        if index is not None:
            _OPENED.move_to_end(key)
            return index
    index = PartitionIndex(manifest)
    if time.time_ns() - stat.st_mtime_ns > _SETTLED_NS:
        with _OPENED_LOCK:
            _OPENED[key] = index
            while len(_OPENED) > _OPENED_LIMIT:
                _OPENED.popitem(last=False)
    return index


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch builds its rows.

    A batch makes hundreds of thousands of small objects (rows, evidence, matches) and keeps
    them all; each allocation burst set off collections that walked every one of them again,
    which was 40 % of a 100,000-question batch. They hold no cycles, so nothing is lost by
    not looking; reference counting still frees them. Left off if something else turned it
    off; turned back on by whichever caller turned it off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _sort_key(match: Match) -> tuple[int, int, int, int, str, int, int]:
    i = match.interval
    return (i.start, i.hi, i.lo, i.plen, match.source, match.part, match.row)


class EmbeddedLogStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._indexes: dict[Path, PartitionIndex] = {}

    def _listing(self, directory: str, pattern: str, *, dirs_only: bool = False
                 ) -> list[Path]:
        """Sorted entries of `directory` matching `pattern`, re-read only when it changed.

        Listing a directory on every lookup cost more than the lookup's binary searches. A
        directory's mtime moves whenever an entry is added, removed or renamed over, so a
        listing is reused while the mtime is unchanged; one that changed in the last few
        seconds is not cached at all, because two changes within one timestamp tick would
        leave the same mtime (the racy case)."""
        try:
            # A string path: building a Path per lookup cost more than the stat.
            stamp = os.stat(directory).st_mtime_ns  # noqa: PTH116
        except (FileNotFoundError, NotADirectoryError):
            return []
        key = (directory, pattern, dirs_only)
        cached = _LISTINGS.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found = sorted(p for p in Path(directory).glob(pattern) if not dirs_only or p.is_dir())
        if time.time_ns() - stamp > _SETTLED_NS:
            if len(_LISTINGS) > _LISTINGS_LIMIT:
                _LISTINGS.clear()
            _LISTINGS[key] = (stamp, found)
        return found

    def add(self, source: str, rows: Iterable[StoredInterval]) -> list[Path]:
        return write_batch(self.root, source, rows)

    def add_table(self, source: str, table: pa.Table) -> list[Path]:
        """`add` for rows already in columns (schema.ARROW_SCHEMA), as bulk ingest builds them."""
        return write_table(self.root, source, table)

    def _sources(self) -> list[Path]:
        return self._listing(str(self.root), "[!.]*", dirs_only=True)

    def _manifests(self, day: str) -> list[Path]:
        # Only a manifest makes a partition visible; temp files and orphans are never opened.
        found: list[Path] = []
        for source in self._sources():
            found.extend(self._listing(f"{source}/{day}", "part-*.manifest.json"))
        return found

    def _index(self, manifest: Path) -> PartitionIndex:
        index = self._indexes.get(manifest)
        if index is None:
            index = self._indexes[manifest] = _opened(manifest)
        return index

    def lookup(
        self, address: Address | str, at: datetime, *, port: int | None = None,
        skew: timedelta = timedelta(0),
    ) -> list[Match]:
        """Every stored row holding `address` (and `port`) at `at`, or within `skew` of it.

        More than one match is an answer too: the caller must report it as ambiguous.

        `batch_lookup` of one query, without its grouping of queries by day: for the usual
        question, whose window lies in one UTC day, that bookkeeping cost a third of the
        lookup. Tests hold both to the same answers.
        """
        hi, lo, plen = address_key(address)
        if plen != 128 or skew < timedelta(0) or (port is not None and not 0 <= port <= 65535):
            probe_arrays([Query(address, at, port, skew)])  # raises the batch's own error
        moment, width = to_us(at), skew // timedelta(microseconds=1)
        low, high = moment - width, moment + width
        day = low // DAY_US
        if high // DAY_US != day:
            return self.batch_lookup([Query(address, at, port, skew)])[0]
        matches: list[Match] = []
        for manifest in self._manifests(_day_text(day)):
            index = self._index(manifest)
            rows = index.find_one(hi, lo, low, high, port)
            if rows:
                decoded = index.read_rows(rows)
                matches.extend(Match(decoded[r], index.source, index.day, index.part, r)
                               for r in rows)
        return sorted(matches, key=_sort_key) if len(matches) > 1 else matches

    def batch_lookup(self, queries: Iterable[Query]) -> list[list[Match]]:
        with _collector_paused():
            return self._batch_lookup(list(queries))

    def _batch_lookup(self, queries: list[Query]) -> list[list[Match]]:
        everything = probe_arrays(queries)  # validates everything before touching disk
        by_day: dict[str, list[int]] = {}
        for number, (low, high) in enumerate(zip(everything.low.tolist(),
                                                 everything.high.tolist(), strict=True)):
            for day_number in range(low // DAY_US, high // DAY_US + 1):
                by_day.setdefault(_day_text(day_number), []).append(number)
        results: list[list[Match]] = [[] for _ in queries]
        for day, numbers in by_day.items():
            probe = everything.subset(numbers)
            for manifest in self._manifests(day):
                index = self._index(manifest)
                found = index.find_rows(probe)
                wanted = sorted({row for rows in found for row in rows})
                if not wanted:
                    continue
                decoded = index.read_rows(wanted)
                for number, rows in zip(numbers, found, strict=True):
                    results[number].extend(
                        Match(decoded[r], index.source, index.day, index.part, r) for r in rows
                    )
        return [sorted(matches, key=_sort_key) for matches in results]

    def parts_from_file(self, source: str, days: Iterable[date | str],
                        sha256: str) -> list[tuple[str, int]]:
        """(day, part) of each part of `source` on `days` that an ingest of `sha256` wrote:
        a part holds the rows of one `add`, i.e. of one file, so its first row tells."""
        wanted = {d if isinstance(d, str) else d.isoformat() for d in days}
        found = []
        for info in self.partitions(source):
            if info.day in wanted:
                first = _opened(info.manifest).read_rows([0]).get(0)
                if first is not None and any(e.sha256 == sha256 for e in first.evidence):
                    found.append((info.day, info.part))
        return found

    def partitions(self, source: str | None = None) -> list[PartitionInfo]:
        found = []
        for directory in self._sources():
            if source is not None and directory.name != source:
                continue
            for manifest in sorted(directory.glob("*/part-*.manifest.json")):
                data = json.loads(manifest.read_text())
                found.append(
                    PartitionInfo(data["source"], data["day"], data["part"], data["rows"], manifest)
                )
        return found

    def drop_partition(self, source: str, day: date | str, part: int | None = None) -> list[Path]:
        """Retention: physically delete whole partitions of `source` on `day` (one, or all).

        The manifest goes first, so a crash mid-way leaves invisible files, never a partition
        that answers with some of its rows missing. Returns the manifests removed.
        """
        check_source(source)
        day_text = day if isinstance(day, str) else day.isoformat()
        date.fromisoformat(day_text)  # refuse anything that is not a plain date
        directory = self.root / source / day_text
        pattern = "part-*.manifest.json" if part is None else f"part-{part:06d}.manifest.json"
        dropped = []
        for manifest in sorted(directory.glob(pattern)) if directory.is_dir() else []:
            self._indexes.pop(manifest, None)
            stem = manifest.name.removesuffix(".manifest.json")
            manifest.unlink()
            for leftover in directory.glob(f"{stem}.*"):
                leftover.unlink()
            dropped.append(manifest)
        # Derived files (the quality digest) hold the dropped rows' identities: they go too.
        for derived in directory.glob(".derived.*") if dropped else []:
            derived.unlink()
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        return dropped

    def purge_day(self, source: str, day: date | str,
                  keep: Callable[[StoredInterval], bool]) -> tuple[int, int]:
        """Retention: delete the rows of `source` on `day` that `keep` refuses; returns
        (rows removed, rows kept). Crash-safe; see `store.purge`."""
        from cpniguard.connectivity.store.purge import purge_day

        result = purge_day(self.root, source, day, keep)
        directory = self.root / source / (day if isinstance(day, str) else day.isoformat())
        for manifest in [m for m in self._indexes if m.parent == directory]:
            self._indexes.pop(manifest)
        return result.removed, result.kept
