"""What the disconnect-cause and octet columns cost on disk: bytes per event with and without.

    bench/store_growth.py --events 1000000 [--json] [--work /tmp]

Generates realistic logs (the demo generator: RADIUS detail with Acct-Terminate-Cause and
octet counters with Gigawords, DHCP leases, CGNAT port blocks) until about `--events` parsed
events, ingests them with `ingest_file` into an embedded store, and measures the store's
bytes (Parquet, index arrays, manifests) per event. The baseline is the same store without
`schema.END_COLUMNS`: every partition's Parquet re-encoded by the writer's own encoder with
those columns dropped, which is what the store wrote before they existed (the other columns
and the index are unchanged, byte for byte).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import arguments, fresh_installation, report

EVENTS_PER_SUBSCRIBER_DAY = 57  # measured on the generator's defaults; only sizes the run
FORMAT_OF = {"radacct": "radius-detail", "dhcpd": "dhcpd-leases", "cgnat": "juniper-nat"}


def store_bytes(root: Path) -> tuple[int, int]:
    """(all files of the visible partitions, their Parquet files only)."""
    total = parquet = 0
    for path in root.rglob("part-*"):
        size = path.stat().st_size
        total += size
        parquet += size if path.suffix == ".parquet" else 0
    return total, parquet


def parquet_without_end_columns(root: Path) -> int:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from cpniguard.connectivity.store.schema import END_COLUMNS
    from cpniguard.connectivity.store.writer import _parquet_bytes

    return sum(len(_parquet_bytes(pq.read_table(path).drop_columns(list(END_COLUMNS))))
               for path in root.rglob("part-*.parquet"))


def run(args: Any) -> dict[str, Any]:
    fresh_installation("growth")
    from cpniguard.connectivity.generator import generate
    from cpniguard.connectivity.ingest import ingest_file

    work = Path(tempfile.mkdtemp(prefix="cpniguard-growth-", dir=args.work))
    if os.environ.get("BENCH_KEEP") != "1":  # as harness.fresh_installation
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    subscribers = max(1, args.events // (EVENTS_PER_SUBSCRIBER_DAY * args.days))
    started = time.perf_counter()
    generated = generate(work / "logs", subscribers=subscribers, days=args.days,
                         start=date(2025, 3, 1), cgnat_ratio=0.2, seed=11, zone="UTC")
    generate_seconds = time.perf_counter() - started
    root = work / "store"
    events = intervals = 0
    started = time.perf_counter()
    for relative, _lines, _size in generated.files:
        result = ingest_file(work / "logs" / relative, FORMAT_OF[Path(relative).parts[0]],
                             "UTC", root, year=2025)
        events += result.events
        intervals += result.intervals
    ingest_seconds = time.perf_counter() - started
    total, parquet = store_bytes(root)
    before = total - parquet + parquet_without_end_columns(root)
    return {"subscribers": subscribers, "days": args.days, "events": events,
            "intervals": intervals, "generate_seconds": round(generate_seconds, 1),
            "ingest_seconds": round(ingest_seconds, 1), "bytes_after": total,
            "bytes_before": before, "bytes_per_event_after": round(total / events, 2),
            "bytes_per_event_before": round(before / events, 2),
            "growth": round(total / before - 1, 4)}


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--work", default=None, help="where the logs and store go")
    args = parser.parse_args()
    figures = run(args)
    lines = [f"{figures['events']:,} events ({figures['subscribers']:,} subscribers, "
             f"{figures['days']} days) -> {figures['intervals']:,} intervals; ingest "
             f"{figures['ingest_seconds']} s",
             f"store bytes/event: {figures['bytes_per_event_before']} without the cause and "
             f"octet columns, {figures['bytes_per_event_after']} with them "
             f"({figures['growth']:+.1%})"]
    report(args, "store_growth", lines, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
