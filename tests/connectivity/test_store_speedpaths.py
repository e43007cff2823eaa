"""The store's column paths (write_table, split_table, table_days, cached row reads) against the
row-at-a-time rule they replace: `split_days` plus a list sort, written out here as the oracle."""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.store import EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.index import PartitionIndex
from cpniguard.connectivity.store.schema import DAY_US, OPEN_END, address_key, to_table, to_us
from cpniguard.connectivity.store.writer import (
    ROW_GROUP_SIZE,
    day_name,
    split_days,
    table_days,
)

BASE = to_us(datetime(2025, 3, 4, tzinfo=UTC))
ADDRESSES = ["198.18.0.1", "198.18.0.2", "100.64.0.9", "2001:db8:1:100::/56",
             "2001:db8::5", "198.19.255.255"]


def random_rows(count: int, seed: int) -> list[StoredInterval]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        hi, lo, plen = address_key(rng.choice(ADDRESSES))
        start = BASE + rng.randrange(-DAY_US, 3 * DAY_US, 60_000_000)
        kind = rng.random()
        if kind < 0.2:  # open; proven alive until a later day, or not at all
            end, seen = OPEN_END, rng.choice([None, start + rng.randrange(0, 3 * DAY_US)])
        elif kind < 0.3:  # an exact duplicate key of the previous row: ties keep input order
            previous = rows[-1] if rows else None
            start = previous.start if previous else start
            end, seen = (previous.end if previous else start + 1), None
            hi, lo, plen = (previous.hi, previous.lo, previous.plen) if previous else (hi, lo,
                                                                                        plen)
        else:
            end, seen = start + rng.choice([0, 1, 3_600_000_000, 2 * DAY_US + 7]), None
        ports = (rng.randrange(0, 60000), 0) if rng.random() < 0.2 else (-1, -1)
        rows.append(StoredInterval(
            hi=hi, lo=lo, plen=plen, start=start, end=end, original_start=start,
            original_end=end, source="radius", last_seen=seen,
            port_first=ports[0], port_last=ports[0] + 63 if ports[0] >= 0 else -1,
            username=f"user{n:06d}@example.net", session_id=f"{n:08X}",
            flags="no-stop" if end == OPEN_END else "",
            evidence=(Evidence("radacct.csv", n + 2, "ab" * 32),)))
    return rows


def expected_days(rows: list[StoredInterval]) -> dict[str, list[StoredInterval]]:
    """The rule as the row path states it: split, group by day, stable sort by index key."""
    days: dict[int, list[StoredInterval]] = {}
    for row in rows:
        for day, piece in split_days(row):
            days.setdefault(day, []).append(piece)
    return {day_name(day): sorted(pieces, key=lambda r: (r.hi, r.lo, r.start, r.plen, r.end))
            for day, pieces in sorted(days.items())}


def stored_days(root: Path) -> dict[str, list[StoredInterval]]:
    found: dict[str, list[StoredInterval]] = {}
    for info in EmbeddedLogStore(root).partitions("radius"):
        rows = PartitionIndex(info.manifest).read_rows(list(range(info.rows)))
        found.setdefault(info.day, []).extend(rows[n] for n in range(info.rows))
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_columns_write_what_the_row_rule_says(tmp_path: Path, seed: int) -> None:
    rows = random_rows(400, seed)
    by_rows, by_table = EmbeddedLogStore(tmp_path / "rows"), EmbeddedLogStore(tmp_path / "t")
    by_rows.add("radius", rows)
    by_table.add_table("radius", to_table(rows))
    expected = expected_days(rows)
    assert stored_days(tmp_path / "rows") == expected
    assert stored_days(tmp_path / "t") == expected
    assert table_days(to_table(rows)) == list(expected)


def test_index_arrays_follow_the_parquet_rows(tmp_path: Path) -> None:
    rows = random_rows(300, 9)
    store = EmbeddedLogStore(tmp_path)
    for manifest in store.add("radius", rows):
        index = PartitionIndex(manifest)
        stored = index.read_rows(list(range(len(index.start))))
        assert [(r.hi, r.lo) for r in stored.values()] == [
            (int(k["hi"]), int(k["lo"])) for k in index.key]
        assert list(index.start) == [r.start for r in stored.values()]
        assert list(index.end) == [r.end for r in stored.values()]
        assert list(index.pfirst) == [r.port_first for r in stored.values()]
        assert index.row is None  # format 2: an index position is the Parquet row


def test_an_over_long_interval_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    rows = random_rows(5, 4)
    hi, lo, plen = address_key("198.18.0.1")
    rows.append(StoredInterval(hi=hi, lo=lo, plen=plen, start=BASE, end=BASE + 4000 * DAY_US,
                               original_start=BASE, original_end=BASE + 4000 * DAY_US))
    store = EmbeddedLogStore(tmp_path)
    with pytest.raises(ValueError, match="refusing to split"):
        store.add("radius", rows)
    with pytest.raises(ValueError, match="refusing to split"):
        store.add_table("radius", to_table(rows))
    assert store.partitions() == []


def test_rows_deep_in_a_partition_come_back_from_their_own_row_group(tmp_path: Path) -> None:
    count = 3 * ROW_GROUP_SIZE + 17
    base = int(address_key("198.18.0.0")[1])
    rows = [StoredInterval(hi=0, lo=base + n, plen=128, start=BASE + n, end=BASE + n + 1000,
                           original_start=BASE + n, original_end=BASE + n + 1000,
                           username=f"user{n:06d}@example.net",
                           evidence=(Evidence("radacct.csv", n + 2, "cd" * 32),))
            for n in range(count)]
    store = EmbeddedLogStore(tmp_path)
    [manifest] = store.add("radius", rows)
    index = PartitionIndex(manifest)
    picks = [*sorted(random.Random(5).sample(range(count), 40)), count - 1, 0, ROW_GROUP_SIZE]
    got = index.read_rows(picks)
    assert {n: got[n] for n in picks} == {n: rows[n] for n in picks}
    assert index.read_rows(picks) == got  # the cached file handle answers the same again
    assert index._from_parquet(picks) == got  # the columns path (large reads) agrees
    for n in (0, ROW_GROUP_SIZE - 1, ROW_GROUP_SIZE, count - 1):
        address = f"198.18.{(n >> 8) & 255}.{n & 255}"
        moment = datetime.fromtimestamp((BASE + n + 500) / 1e6, UTC)
        [match] = store.lookup(address, moment)
        assert match.interval.username == f"user{n:06d}@example.net"
        assert match.interval.evidence == (Evidence("radacct.csv", n + 2, "cd" * 32),)
        assert match.row == n
    assert np.all(index.key["lo"][1:] > index.key["lo"][:-1])


def test_columns_constant_within_a_row_group_come_back_exactly(tmp_path: Path) -> None:
    """Columns holding one value per row group are filled from the footer's statistics, not
    decoded: groups with different constants, all-null groups and varying groups mixed."""
    count = 3 * ROW_GROUP_SIZE
    base = int(address_key("198.18.0.0")[1])

    def row(n: int) -> StoredInterval:
        group = n // ROW_GROUP_SIZE
        return StoredInterval(
            hi=0, lo=base + n, plen=128, start=BASE + n, end=BASE + n + 1000,
            original_start=BASE + n, original_end=BASE + n + 1000,
            device=f"nas-{group}.example.net",                        # constant per group
            last_seen=None if group != 1 else BASE + n + 10,          # all null, then varying
            port_first=-1 if group != 2 else 1024, port_last=-1 if group != 2 else 2047,
            octets_in=None if group == 0 else 2**40 + group,
            terminate_cause="" if group == 0 else "Lost-Carrier",
            username=f"user{n:06d}@example.net",
            evidence=(Evidence("radacct.csv", n + 2, "cd" * 32),))

    rows = [row(n) for n in range(count)]
    [manifest] = EmbeddedLogStore(tmp_path).add("radius", rows)
    index = PartitionIndex(manifest)
    for picks in ([5], [ROW_GROUP_SIZE + 3], [2 * ROW_GROUP_SIZE + 9],
                  [1, ROW_GROUP_SIZE + 1, 2 * ROW_GROUP_SIZE + 1], list(range(0, count, 97))):
        got = index.read_rows(picks)
        assert {n: got[n] for n in picks} == {n: rows[n] for n in picks}
        assert index._from_parquet(picks) == got  # row blocks and Parquet agree


def test_a_partition_written_after_a_lookup_is_seen_by_the_next_one(tmp_path: Path) -> None:
    """Directory listings are reused between lookups; a new partition must still be found."""
    store = EmbeddedLogStore(tmp_path)
    moment = datetime.fromtimestamp((BASE + 500) / 1e6, UTC)
    first = StoredInterval(hi=0, lo=int(address_key("198.18.0.1")[1]), plen=128, start=BASE,
                           end=BASE + 1000, original_start=BASE, original_end=BASE + 1000,
                           username="one@example.net")
    assert store.lookup("198.18.0.1", moment) == []
    store.add("radius", [first])
    assert [m.interval.username for m in store.lookup("198.18.0.1", moment)] == [
        "one@example.net"]
    # A second part of the same day, at once:
    store.add("radius", [replace(first, username="two@example.net")])
    assert sorted(m.interval.username for m in store.lookup("198.18.0.1", moment)) == [
        "one@example.net", "two@example.net"]
    store.add("dhcp", [replace(first, source="dhcp", username="",
                               mac="02:00:00:00:00:01")])  # a new source directory
    assert len(store.lookup("198.18.0.1", moment)) == 3



def _age(directory: Path) -> None:
    """Make every file and directory under `directory` an hour old: settled, so shareable."""
    old = time.time() - 3600
    for path in [*directory.rglob("*"), directory]:
        os.utime(path, (old, old))


def test_a_purged_partition_is_never_answered_from_a_shared_open_copy(tmp_path: Path) -> None:
    """Opened partitions are shared between store objects; a purge that rewrites one must
    still be seen by the next lookup, from any store object."""
    moment = datetime.fromtimestamp((BASE + 500) / 1e6, UTC)
    key = int(address_key("198.18.0.7")[1])
    rows = [StoredInterval(hi=0, lo=key, plen=128, start=BASE, end=BASE + 1000,
                           original_start=BASE, original_end=BASE + 1000, username=name)
            for name in ("held@example.net", "gone@example.net")]
    EmbeddedLogStore(tmp_path).add("radius", rows)
    _age(tmp_path)
    assert len(EmbeddedLogStore(tmp_path).lookup("198.18.0.7", moment)) == 2  # now shared
    day = day_name(BASE // DAY_US)
    EmbeddedLogStore(tmp_path).purge_day("radius", day,
                                         lambda row: row.username == "held@example.net")
    for settled in (False, True):
        if settled:
            _age(tmp_path)
        found = EmbeddedLogStore(tmp_path).lookup("198.18.0.7", moment)
        assert [m.interval.username for m in found] == ["held@example.net"]
