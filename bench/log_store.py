"""The log store against FreeRADIUS radacct on PostgreSQL, on the same events (issue 3, "Speed").

    PG_DURABLE=1 scripts/with-postgres .venv/bin/python bench/log_store.py \
        --events 10000000 --chunks 10 [--json] [--work /tmp]
    (issue 3's scale: --events 100000000 --chunks 50; without DATABASE_URL: store and floor only)

Fictional radacct exports (bench/radacct_synth.py) are written chunk by chunk, as successive
`COPY radacct TO ... CSV HEADER` files; each is ingested by the real `logs ingest` path
(`ingest.ingest_file`: hash, parse, intervals, store write, bookkeeping in the records database,
here SQLite) and loaded into PostgreSQL by COPY, then deleted, so disk stays bounded. After the
last chunk PostgreSQL builds its (framedipaddress, acctstarttime) btree; see bench/radacct_pg.py
for the schema and queries. The in-RAM floor is numpy `searchsorted` over the same (address,
start) keys, built after the store figures so it does not inflate their memory.

Figures are printed and written to bench/results/log_store-<time>.json. Measured: ingest
lines/s (with the time spent in the open-session registry, continuity.register, shown apart);
bytes per event on disk; single-lookup p50/p99 over --queries random (address, instant)
questions (80% inside a stored session, 10% random pool addresses and instants, 10% addresses
no session ever had); one batch of --batch questions; the audited `attribute` answer through
the access gate (decision, lookup, audit entry); peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import arguments, fresh_installation, percentile, report
from log_store_queries import Questions, floor_index, make_questions
from radacct_pg import Radacct
from radacct_synth import EPOCH_2025, Truth, days_for

GOALS = {"ingest_lines_per_s": 500_000, "ingest_vs_pg": 3.0, "bytes_vs_pg": 0.2,
         "p99_vs_pg": 3.0, "p99_vs_floor": 10.0, "batch_vs_pg": 5.0, "rss_gib": 4.0}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def resident_gib() -> dict[str, float]:
    """Resident memory now, split as Linux counts it: anonymous (the process's own) and file
    pages mapped in (here the store's memory-mapped arrays and blocks, which the kernel can
    drop and read again). ru_maxrss counts both, so a lookup phase over a large store shows
    the store's pages it touched."""
    found = {"anonymous": 0.0, "mapped_files": 0.0}
    with Path("/proc/self/status").open() as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                key = "anonymous" if name == "RssAnon" else "mapped_files"
                found[key] = int(value.split()[0]) / (1 << 20)
    return found


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def ingest_all(args: Any, work: Path, store_root: Path, pg: Radacct | None
               ) -> tuple[dict[str, Any], list[Truth]]:
    from cpniguard.connectivity import continuity
    from cpniguard.connectivity.ingest import ingest_file

    # Part of every ingest, timed apart: the registry of open sessions in the records database.
    register, registering = continuity.register, [0.0]

    def timed_register(*given: Any, **options: Any) -> int:
        began = time.perf_counter()
        try:
            return 0 if args.without_open_session_registry else register(*given, **options)
        finally:
            registering[0] += time.perf_counter() - began

    continuity.register = timed_register  # type: ignore[assignment]
    ours = pg_copy = 0.0
    lines = quarantined = 0
    samples: list[Truth] = []
    per_chunk = args.events // args.chunks
    for index in range(args.chunks):
        path = work / f"radacct-{index:03d}.csv"
        truth = generate(path, per_chunk, index, args)
        path.chmod(0o644)
        os.sync()  # the file is written: neither side is timed on flushing the generator
        began = time.perf_counter()
        result = ingest_file(path, "radacct-csv", "UTC", store_root)
        took = time.perf_counter() - began
        ours += took
        lines += result.lines
        quarantined += result.quarantined
        copy = pg.copy(path) if pg else 0.0
        pg_copy += copy
        path.unlink()
        np.savez(work / f"truth-{index:03d}.npz", ipv4=truth.ipv4,
                 start=(truth.start - EPOCH_2025).astype(np.uint32),
                 stop=np.where(truth.stop < 0, np.iinfo(np.uint32).max,
                               truth.stop - EPOCH_2025).astype(np.uint32))
        # Questions are drawn from a sample, so the bench's own memory does not grow with --events.
        keep = np.random.default_rng(index).choice(len(truth.ipv4), min(len(truth.ipv4), 200_000),
                                                   replace=False)
        samples.append(Truth(truth.ipv4[keep], truth.start[keep], truth.stop[keep],
                             truth.update[keep]))
        del truth
        print(f"chunk {index + 1}/{args.chunks}: {result.lines:,} lines, ours {took:.1f} s "
              f"({result.lines / took:,.0f}/s; open-session registry so far "
              f"{registering[0]:.1f} s), PostgreSQL COPY {copy:.1f} s, "
              f"rss {peak_rss_gib():.2f} GiB", file=sys.stderr, flush=True)
    continuity.register = register  # type: ignore[assignment]
    return {"lines": lines, "ours_s": ours, "pg_copy_s": pg_copy, "quarantined": quarantined,
            "open_session_registry_s": registering[0], "ingest_rss_gib": peak_rss_gib()}, samples


def generate(path: Path, rows: int, index: int, args: Any) -> Truth:
    """One export file, written by another process so its memory is not counted here."""
    truth_file = path.with_suffix(".truth.npz")
    subprocess.run([sys.executable, str(Path(__file__).with_name("radacct_synth.py")), str(path),
                    "--rows", str(rows), "--seed", str(args.seed), "--index", str(index),
                    "--chunks", str(args.chunks), "--days", str(days_for(args.events)),
                    "--truth", str(truth_file)], check=True)
    with np.load(truth_file) as data:
        truth = Truth(data["ipv4"], data["start"], data["stop"], data["update"])
    truth_file.unlink()
    return truth


def timed_each(work: Any, items: list[Any]) -> list[float]:
    took = []
    for item in items:
        began = time.perf_counter()
        work(item)
        took.append(time.perf_counter() - began)
    return took


def store_lookups(store_root: Path, questions: Questions, batch: Questions
                  ) -> dict[str, Any]:
    from cpniguard.connectivity.store import EmbeddedLogStore, Query

    store = EmbeddedLogStore(store_root)
    asks = list(zip(questions.texts, questions.moments, strict=True))
    timed_each(lambda q: store.lookup(q[0], q[1]), asks[:1000])  # open every partition once
    found: list[int] = []
    took = timed_each(lambda q: found.append(len(store.lookup(q[0], q[1]))), asks)
    # PostgreSQL's query returns one row at most (LIMIT 1); the store returns every row
    # holding the address at the instant (two overlapping sessions make an answer ambiguous),
    # and each row costs its decoding: the split shows what that costs.
    one = [t for t, n in zip(took, found, strict=True) if n <= 1]
    several = [t for t, n in zip(took, found, strict=True) if n > 1]
    hits = sum(1 for q in asks[:2000] if store.lookup(q[0], q[1]))
    queries = [Query(t, m) for t, m in zip(batch.texts, batch.moments, strict=True)]
    began = time.perf_counter()
    answers = store.batch_lookup(queries)
    batch_s = time.perf_counter() - began
    return {"p50_ms": percentile(took, 0.5) * 1e3, "p99_ms": percentile(took, 0.99) * 1e3,
            "at_most_one_row": {"share": len(one) / len(took),
                                "p50_ms": percentile(one, 0.5) * 1e3,
                                "p99_ms": percentile(one, 0.99) * 1e3},
            "several_rows": {"share": len(several) / len(took),
                             "p50_ms": percentile(several, 0.5) * 1e3 if several else 0.0,
                             "p99_ms": percentile(several, 0.99) * 1e3 if several else 0.0},
            "hit_rate": hits / 2000, "batch_s": batch_s,
            "batch_hit_rate": sum(1 for a in answers if a) / len(answers),
            "lookup_rss_gib": peak_rss_gib(), "after_lookups": resident_gib()}


def pg_lookups(pg: Radacct, questions: Questions, batch: Questions) -> dict[str, Any]:
    asks = list(zip(questions.texts, questions.moments, strict=True))
    timed_each(lambda q: pg.single(q[0], q[1]), asks[:1000])
    took = timed_each(lambda q: pg.single(q[0], q[1]), asks)
    hits = sum(1 for q in asks[:2000] if pg.single(q[0], q[1]))
    began = time.perf_counter()
    batch_hits = pg.batch(batch.texts, batch.moments)
    return {"p50_ms": percentile(took, 0.5) * 1e3, "p99_ms": percentile(took, 0.99) * 1e3,
            "hit_rate": hits / 2000, "batch_s": time.perf_counter() - began,
            "batch_hit_rate": batch_hits / len(batch.texts)}


def floor_lookups(work: Path, chunks: int, questions: Questions, batch: Questions
                  ) -> dict[str, Any]:
    keys, stops = floor_index(work, chunks)

    def one(q: tuple[int, int]) -> bool:
        key = np.uint64((q[0] << 32) | q[1])
        i = int(np.searchsorted(keys, key, side="right")) - 1
        return i >= 0 and int(keys[i]) >> 32 == q[0] and int(stops[i]) > q[1]

    asks = list(zip(questions.ipv4.tolist(), questions.offsets.tolist(), strict=True))
    timed_each(one, asks[:1000])
    took = timed_each(one, asks)
    began = time.perf_counter()
    wanted = (batch.ipv4.astype(np.uint64) << np.uint64(32)) | batch.offsets.astype(np.uint64)
    found = np.searchsorted(keys, wanted, side="right") - 1
    ok = (found >= 0) & ((keys[found] >> np.uint64(32)) == batch.ipv4) & (
        stops[found] > batch.offsets)
    batch_s = time.perf_counter() - began
    return {"p50_ms": percentile(took, 0.5) * 1e3, "p99_ms": percentile(took, 0.99) * 1e3,
            "batch_s": batch_s, "batch_hit_rate": float(ok.mean())}


def audited(store_root: Path, questions: Questions, count: int) -> dict[str, Any]:
    from cpniguard.access import Actor, Channel
    from cpniguard.connectivity.answers import Ask, answer_one
    from cpniguard.connectivity.store import EmbeddedLogStore

    store = EmbeddedLogStore(store_root)
    actor = Actor("noc1", "noc", Channel.CLI)
    asks = [Ask(t, m.isoformat()) for t, m in zip(questions.texts, questions.moments,
                                                 strict=True)][:count]
    took = timed_each(lambda a: answer_one(actor, a, purpose="troubleshooting",
                                           reference="TKT-100042", store=store), asks)
    return {"count": len(took), "p50_ms": percentile(took, 0.5) * 1e3,
            "p99_ms": percentile(took, 0.99) * 1e3}


def main() -> int:
    parser = arguments(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--audited", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--without-open-session-registry", action="store_true",
                        help="skip continuity.register (NOT the full ingest path: for store-level"
                        " figures when the registry's cost would not let a large run finish)")
    args = parser.parse_args()
    # A stopped run still removes its chunk files and store (tens of GB at full size).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    pg_url = os.environ.pop("DATABASE_URL", None)  # PostgreSQL is the baseline, not the records
    fresh_installation("logstore")
    work = Path(tempfile.mkdtemp(prefix="cpniguard-logstore-", dir=args.work))
    work.chmod(0o755)  # the PostgreSQL server reads the chunk files for COPY
    store_root = work / "store"
    pg = Radacct(pg_url) if pg_url else None
    try:
        if pg:
            pg.create()
        ingest, truths = ingest_all(args, work, store_root, pg)
        days = days_for(args.events)
        questions = make_questions(truths, args.queries, args.seed, days)
        batch = make_questions(truths, args.batch, args.seed + 1, days)
        del truths
        figures: dict[str, Any] = {"events": args.events, "chunks": args.chunks,
                                   "open_session_registry": not args.without_open_session_registry,
                                   "ingest": ingest, "store_bytes": du(store_root)}
        figures["ours"] = store_lookups(store_root, questions, batch)
        figures["audited"] = audited(store_root, questions, args.audited)
        if pg:
            figures["pg_index_s"], figures["pg_vacuum_s"] = pg.index()
            figures["pg_sizes"] = pg.sizes()
            figures["pg_settings"] = pg.settings()
            figures["pg"] = pg_lookups(pg, questions, batch)
        figures["floor"] = floor_lookups(work, args.chunks, questions, batch)
        figures["peak_rss_gib"] = peak_rss_gib()
    finally:
        if pg:
            pg.close()
        shutil.rmtree(work, ignore_errors=True)
    lines, verdicts = summarise(figures)
    figures["goals"] = verdicts
    report(args, "log_store", lines, figures)
    folder = Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (folder / f"log_store-{stamp}.json").write_text(json.dumps(
        {"time": stamp, "results": figures, "table": lines}, indent=2))
    subprocess.run(["uptime"], check=False, stdout=sys.stderr)
    return 0


def summarise(f: dict[str, Any]) -> tuple[list[str], dict[str, bool]]:
    from log_store_queries import table_lines

    return table_lines(f, GOALS)


if __name__ == "__main__":
    sys.exit(main())

