"""The ClickHouse log store on chDB against the embedded store, on the same rows.

    nice .venv/bin/python bench/logstore_clickhouse.py [--rows 1000000] [--days 10] [--json]

Fictional sessions: IPv4 /32 from 198.18.0.0/15 and delegated IPv6 /56 from 2001:db8::/32,
minutes to two days long, 8% open with a last proof of life. Both stores get the same rows in
one write per day; then the same point lookups (90% hits at an instant inside a stored
interval, 10% misses) and one batch of 10k. Before any figure is printed, every answer of the
two stores is compared and the run stops if one differs.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.store import OPEN_END, EmbeddedLogStore, Query
from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore
from cpniguard.connectivity.store.clickhouse_client import chdb_executor
from cpniguard.connectivity.store.schema import DAY_US, StoredInterval, key_network
from harness import percentile

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
MINUTE = 60_000_000


def day_rows(day: int, count: int, rng: random.Random) -> list[StoredInterval]:
    rows = []
    for n in range(count):
        if rng.random() < 0.3:
            hi, lo, plen = (0x2001_0DB8 << 32) | (rng.randrange(1 << 24) << 8), 0, 56
        else:
            hi, lo, plen = 0, (0xFFFF << 32) | (0xC612_0000 + rng.randrange(1 << 17)), 128
        start = T0_US + day * DAY_US + rng.randrange(DAY_US)
        length = rng.randrange(5, 2 * 1440) * MINUTE
        is_open = rng.random() < 0.08
        end = OPEN_END if is_open else start + length
        rows.append(StoredInterval(
            hi=hi, lo=lo, plen=plen, start=start, end=end, original_start=start,
            original_end=end, source="radius", last_seen=start + length if is_open else None,
            username=f"sub{rng.randrange(200_000):06d}@example.net", session_id=f"{day}-{n}",
            device="192.0.2.1", evidence=(Evidence("/logs/radacct.csv", n + 1, "ab" * 32),)))
    return rows


def queries(rows: list[StoredInterval], count: int, rng: random.Random) -> list[Query]:
    asked = []
    for _ in range(count):
        row = rng.choice(rows)
        end = row.last_seen if row.end == OPEN_END and row.last_seen else row.end
        at = rng.randrange(row.start, max(row.start + 1, end))
        network = key_network(row.hi, row.lo, row.plen)
        address = network[rng.randrange(min(network.num_addresses, 1 << 20))]
        if rng.random() < 0.1:
            at -= 3 * DAY_US  # before anything was stored: a miss
        moment = T0 + timedelta(microseconds=at - T0_US)
        asked.append(Query(address, moment, None, timedelta(seconds=2)))
    return asked


def timed_lookups(store: EmbeddedLogStore | ClickHouseLogStore,
                  asked: list[Query]) -> tuple[list[float], list[list[object]]]:
    samples, answers = [], []
    for query in asked:
        began = time.perf_counter()
        answers.append(list(store.lookup(query.address, query.at, skew=query.skew)))
        samples.append(time.perf_counter() - began)
    return samples, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(2026)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cpniguard-bench-logstore-") as root:
        embedded = EmbeddedLogStore(Path(root) / "embedded")
        clickhouse = ClickHouseLogStore(chdb_executor(str(Path(root) / "chdb")))
        sample: list[StoredInterval] = []
        write = {"embedded": 0.0, "chdb": 0.0}
        for day in range(args.days):
            rows = day_rows(day, args.rows // args.days, rng)
            sample.extend(rng.sample(rows, min(len(rows), 2 * args.batch // args.days + 1)))
            for name, store in (("embedded", embedded), ("chdb", clickhouse)):
                began = time.perf_counter()
                store.add("radius", rows)
                write[name] += time.perf_counter() - began
        stored = sum(p.rows for p in clickhouse.partitions())
        points = queries(sample, args.points, rng)
        batch = queries(sample, args.batch, rng)
        for name, store in (("embedded", embedded), ("chdb", clickhouse)):
            timed_lookups(store, points[:20])  # warm caches and the engine
            samples, answers = timed_lookups(store, points)
            began = time.perf_counter()
            batched = store.batch_lookup(batch)
            figures[f"{name}_batch_s"] = time.perf_counter() - began
            figures[f"{name}_p50_ms"] = percentile(samples, 0.50) * 1000
            figures[f"{name}_p99_ms"] = percentile(samples, 0.99) * 1000
            figures[f"{name}_write_rows_per_s"] = args.rows / write[name]
            if name == "embedded":
                expected, expected_batch = answers, batched
            elif answers != expected or batched != expected_batch:
                sys.exit("the stores disagree: no figures")
        figures["stored_pieces"] = stored
        figures["batch_hits"] = sum(1 for found in expected_batch if found)
    print(f"{args.rows:,} intervals over {args.days} days ({stored:,} stored day pieces); "
          f"{args.points:,} point lookups, one batch of {args.batch:,}; answers identical")
    print(f"{'store':10} {'write rows/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'batch s':>8}")
    for name in ("embedded", "chdb"):
        print(f"{name:10} {figures[f'{name}_write_rows_per_s']:13,.0f} "
              f"{figures[f'{name}_p50_ms']:8.2f} {figures[f'{name}_p99_ms']:8.2f} "
              f"{figures[f'{name}_batch_s']:8.2f}")
    if args.json:
        import json

        print(json.dumps(figures))


if __name__ == "__main__":
    main()
