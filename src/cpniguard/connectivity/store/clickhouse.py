"""The ClickHouse log store: the `LogStore` protocol over a ClickHouse server or chDB.

It answers exactly as `EmbeddedLogStore` does for the same writes, down to the `Match`
fields and their order: intervals are split at UTC midnight by the same function, a write
batch becomes part N+1 of each (source, day) it touches, and `row` is the position in that
part in the embedded store's sort order (hi, lo, start, plen, end). So `source/day/part#row`
names the same evidence in either store.

Part numbers are taken as max(part) + 1 when a batch is written; ClickHouse has no lock to
make that atomic, so one (source, day) must have one writer at a time, as ingest of a source
already is.

A batch is not atomic across days (one insert per day), so ingest saves the days first and,
after a crash, `parts_from_file` finds what the attempt left by the file's hash in row 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.store.clickhouse_client import EngineURL, Executor
from cpniguard.connectivity.store.clickhouse_sql import (
    INTERVAL_COLUMNS,
    NO_PORT,
    ROW_COLUMNS,
    Statements,
)
from cpniguard.connectivity.store.index import Match, Query, probe_arrays
from cpniguard.connectivity.store.schema import (
    ARROW_SCHEMA,
    DAY_US,
    Address,
    StoredInterval,
    prefix_mask,
    to_table,
    with_all_columns,
)
from cpniguard.connectivity.store.store import PartitionInfo
from cpniguard.connectivity.store.writer import check_source, split_table

_EPOCH_DAY = date(1970, 1, 1)
_LAST_DAY = date(2149, 6, 6)  # ClickHouse's Date runs from the epoch to here
_SYNC = {"mutations_sync": 2}  # return only when every replica has rewritten its parts
# Keys per statement: bounds the parameter size (about 100 bytes each) of a huge batch.
KEYS_PER_STATEMENT = 20_000


def _day(number: int) -> date:
    return _EPOCH_DAY + timedelta(days=number)


def _plain_day(day: date | str) -> date:
    # Refuse anything but a plain date, as the embedded store does (a datetime is a date too).
    return date.fromisoformat(day if isinstance(day, str) else day.isoformat())


def _place(source: str, day: date, part: int) -> Path:
    """The logical name of a stored part, laid out like the embedded store's manifests."""
    return Path(source, day.isoformat(), f"part-{part:06d}")


def display_url(url: EngineURL) -> str:
    """The URL a store was opened from, without its password, in one canonical spelling."""
    options = f"table={quote(url.table)}" + (f"&cluster={quote(url.cluster)}"
                                              if url.cluster else "")
    if url.engine == "chdb":
        return f"chdb://{quote(url.path)}?database={quote(url.database)}&{options}"
    host = f"[{url.host}]" if ":" in url.host else url.host
    scheme = "clickhouses" if url.secure else "clickhouse"
    return (f"{scheme}://{quote(url.username, safe='')}@{host}:{url.port}/"
            f"{quote(url.database)}?{options}")


def _port(query: Query) -> int:
    return NO_PORT if query.port is None else query.port


def _sort_key(match: Match) -> tuple[int, int, int, int, str, int, int]:
    i = match.interval
    return (i.start, i.hi, i.lo, i.plen, match.source, match.part, match.row)


def _intervals(table: pa.Table) -> list[tuple[dict[str, Any], StoredInterval]]:
    result = []
    for record in table.to_pylist():
        fields = {field: record[column] for column, _, field in INTERVAL_COLUMNS}
        fields["evidence"] = tuple(Evidence(**e) for e in record["evidence"])
        result.append((record, StoredInterval(**fields)))
    return result


class ClickHouseLogStore:
    def __init__(self, executor: Executor, *, database: str = "cpniguard",
                 table: str = "intervals", cluster: str | None = None,
                 name: str | None = None) -> None:
        self.executor = executor
        self.sql = Statements(database, table, cluster)
        # How records and messages name this store: never with a password (`display_url`).
        where = getattr(executor, "location", "clickhouse")
        self.name = name or f"{where}?database={database}&table={table}" + (
            f"&cluster={cluster}" if cluster else "")
        for statement in self.sql.create():
            executor.command(statement)

    def add(self, source: str, rows: Iterable[StoredInterval]) -> list[Path]:
        """Write `rows` as a new part of each (source, day) they touch; returns those parts."""
        check_source(source)
        return self.add_table(source, to_table(list(rows)))

    def add_table(self, source: str, table: pa.Table) -> list[Path]:
        """`add` for rows already in columns (schema.ARROW_SCHEMA), as bulk ingest builds them.

        The embedded writer's own `split_table` cuts them at midnight and orders each day's
        pieces, so part and row numbers come out as the embedded store gives them. Each day
        is one insert: a crash leaves whole earlier days and at most a prefix of the current
        one, whose row 0 is always among the rows that arrived (see `parts_from_file`).
        """
        check_source(source)
        table = with_all_columns(table).select(ARROW_SCHEMA.names)
        if not len(table):
            return []
        pieces = [(_day(number), day_table) for number, day_table in split_table(table)]
        if pieces[0][0] < _EPOCH_DAY or pieces[-1][0] > _LAST_DAY:
            raise ValueError(f"a day outside {_EPOCH_DAY}..{_LAST_DAY} cannot be stored")
        last = self.executor.query(self.sql.last_parts(), {
            "source": source, "days": [day for day, _ in pieces]})
        parts = dict(zip(last.column("day").to_pylist(), last.column("part").to_pylist(),
                         strict=True))
        written = []
        for day, day_table in pieces:
            part = int(parts.get(day, 0)) + 1
            # The prefix lengths first: one listed with no rows yet costs an empty probe, while
            # rows whose length is not listed would be invisible.
            prefixes = sorted(set(day_table.column("plen").to_pylist()))
            self.executor.insert(self.sql.database, f"{self.sql.table}_prefixes", pa.table({
                "source": pa.array([source] * len(prefixes), pa.string()),
                "day": pa.array([day] * len(prefixes), pa.date32()),
                "plen": pa.array(prefixes, pa.uint8()),
            }))
            self.executor.insert(self.sql.database, self.sql.table,
                                 self._arrow(source, day, part, day_table))
            written.append(_place(source, day, part))
        return written

    @staticmethod
    def _arrow(source: str, day: date, part: int, pieces: pa.Table) -> pa.Table:
        count = len(pieces)
        stored = pieces.cast(ARROW_SCHEMA)  # dictionary-encoded strings arrive from bulk ingest
        columns = [pa.array([source] * count, pa.string()), pa.array([day] * count, pa.date32()),
                   pa.array([part] * count, pa.uint32()), pa.array(range(count), pa.uint32())]
        columns += [stored.column(field) for _, _, field in INTERVAL_COLUMNS]
        return pa.Table.from_arrays(columns, names=list(ROW_COLUMNS))

    def parts_from_file(self, source: str, days: Iterable[date | str],
                        sha256: str) -> list[tuple[str, int]]:
        """(day, part) of each part of `source` on `days` whose row 0 came from that file.

        A part holds the rows of exactly one write, i.e. of one file, and an interrupted
        insert keeps a prefix of its rows, row 0 first: so this finds every part an
        interrupted ingest of the file left, and no other file's.
        """
        check_source(source)
        wanted = sorted({_plain_day(day) for day in days})
        if not wanted:
            return []
        found = self.executor.query(self.sql.parts_from_file(), {
            "source": source, "days": wanted, "sha256": sha256})
        return [(day.isoformat(), int(part)) for day, part in zip(
            found.column("day").to_pylist(), found.column("part").to_pylist(), strict=True)]

    def lookup(
        self, address: Address | str, at: datetime, *, port: int | None = None,
        skew: timedelta = timedelta(0),
    ) -> list[Match]:
        """Every stored row holding `address` (and `port`) at `at`, or within `skew` of it."""
        return self.batch_lookup([Query(address, at, port, skew)])[0]

    def batch_lookup(self, queries: Iterable[Query]) -> list[list[Match]]:
        queries = list(queries)
        # The embedded store's validation and key arithmetic, before any statement runs.
        probe = probe_arrays(queries)
        windows = list(zip(probe.low.tolist(), probe.high.tolist(), strict=True))
        results: list[list[Match]] = [[] for _ in queries]
        keys = self._keys(queries, probe.hi.tolist(), probe.lo.tolist(), windows)
        if not keys:
            return results
        if len(queries) == 1:
            # One query needs no join: its window and port are plain filters.
            [(low, high)] = windows
            found = self.executor.query(self.sql.lookup_one(), {
                "keys": [key[1:6] for key in keys], "low": low, "high": high,
                "port": _port(queries[0])})
            results[0] = [self._match(record, interval) for record, interval in _intervals(found)]
        else:
            for first in range(0, len(keys), KEYS_PER_STATEMENT):
                chunk = keys[first:first + KEYS_PER_STATEMENT]
                found = self.executor.query(self.sql.lookup_many(), {"keys": chunk})
                for record, interval in _intervals(found):
                    results[record["query"]].append(self._match(record, interval))
        return [sorted(matches, key=_sort_key) for matches in results]

    @staticmethod
    def _match(record: dict[str, Any], interval: StoredInterval) -> Match:
        return Match(interval, record["source"], record["day"].isoformat(), record["part"],
                     record["row"])

    def _keys(self, queries: list[Query], his: list[int], los: list[int],
              windows: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
        """(query, source, day, masked hi, masked lo, plen, low, high, port) to look up.

        Each UTC day the window touches is its own partition, and each prefix length stored
        that day is one masked key, as the embedded index probes them.
        """
        # Days outside the Date range hold nothing (`add` refuses them): no key is built.
        days = sorted({_day(n) for low, high in windows
                       for n in range(low // DAY_US, high // DAY_US + 1)
                       if _EPOCH_DAY <= _day(n) <= _LAST_DAY})
        present: dict[date, list[tuple[str, int, int, int]]] = defaultdict(list)
        if days:
            stored = self.executor.query(self.sql.prefix_lengths(), {"days": days})
            for entry in stored.to_pylist():
                plen = entry["plen"]
                present[entry["day"]].append((entry["source"], plen, *prefix_mask(plen)))
        keys: list[tuple[Any, ...]] = []
        for number, (query, hi, lo, (low, high)) in enumerate(
                zip(queries, his, los, windows, strict=True)):
            port = _port(query)
            for day in range(low // DAY_US, high // DAY_US + 1):
                when = _day(day)
                keys.extend((number, source, when, hi & mask_hi, lo & mask_lo, plen, low, high,
                             port) for source, plen, mask_hi, mask_lo in present[when])
        return keys

    def partitions(self, source: str | None = None) -> list[PartitionInfo]:
        params = {} if source is None else {"source": source}
        table = self.executor.query(self.sql.partitions(source is not None), params)
        return [PartitionInfo(r["source"], r["day"].isoformat(), r["part"], r["rows"],
                              _place(r["source"], r["day"], r["part"]))
                for r in table.to_pylist()]

    def _parts(self, source: str, day: date) -> list[int]:
        table = self.executor.query(self.sql.parts_of_day(), {"source": source, "day": day})
        return [int(part) for part in table.column("part").to_pylist()]

    def drop_partition(self, source: str, day: date | str, part: int | None = None) -> list[Path]:
        """Retention: remove whole parts of `source` on `day` (one, or all); returns them.

        A whole day is a ClickHouse partition and goes by DROP PARTITION, with no rewrite;
        one part of a day goes by a synchronous mutation, so its rows are physically gone.
        """
        check_source(source)
        when = _plain_day(day)
        existing = self._parts(source, when)
        params = {"source": source, "day": when}
        if part is None:
            for statement in self.sql.drop_day():
                self.executor.command(statement, params)
            return [_place(source, when, number) for number in existing]
        if part not in existing:
            return []
        self.executor.command(self.sql.delete_part(), {**params, "part": part}, _SYNC)
        return [_place(source, when, part)]

    def purge_day(self, source: str, day: date | str,
                  keep: Callable[[StoredInterval], bool]) -> tuple[int, int]:
        """Remove the rows of (source, day) that `keep` refuses; returns (removed, kept).

        As in the embedded store (`store/purge.py`), a part whose rows all stay is untouched,
        one whose rows all go disappears, and one that keeps some becomes a new part (the next
        number, taken part by part in ascending order) holding exactly those, numbered again in
        their order. It is one synchronous mutation, so the refused rows are rewritten out of
        the data on disk when this returns, not merely hidden.
        """
        check_source(source)
        when = _plain_day(day)
        found = _intervals(self.executor.query(self.sql.day_rows(),
                                               {"source": source, "day": when}))
        by_part: dict[int, list[tuple[int, bool]]] = defaultdict(list)
        for record, interval in found:
            by_part[record["part"]].append((record["row"], keep(interval)))
        gone: list[tuple[int, int]] = []
        old_parts: list[int] = []
        new_parts: list[int] = []
        old_places: list[int] = []
        new_rows: list[int] = []
        last = max(by_part, default=0)
        for part in sorted(by_part):
            gone += [(part, row) for row, kept in by_part[part] if not kept]
            held = [row for row, kept in by_part[part] if kept]
            if held and len(held) < len(by_part[part]):
                last += 1
                old_parts.append(part)
                new_parts.append(last)
                old_places += [(part << 32) | row for row in held]
                new_rows += range(len(held))
        if gone:
            self.executor.command(self.sql.purge(), {
                "source": source, "day": when, "gone": gone, "old_parts": old_parts,
                "new_parts": new_parts, "old_places": old_places, "new_rows": new_rows}, _SYNC)
        return len(gone), len(found) - len(gone)

    def survey_day(self, source: str, day: date | str,
                   keep: Callable[[StoredInterval], bool]) -> tuple[int, int]:
        """What `purge_day` would remove and keep, changing nothing: (removed, kept)."""
        check_source(source)
        found = _intervals(self.executor.query(self.sql.day_rows(),
                                               {"source": source, "day": _plain_day(day)}))
        kept = sum(1 for _, interval in found if keep(interval))
        return len(found) - kept, kept

    def close(self) -> None:
        self.executor.close()
