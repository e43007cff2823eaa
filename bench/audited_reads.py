"""Audited reads per second through the choke point: `services.detail` on random subscribers.

    .venv/bin/python bench/audited_reads.py [--subscribers 5000] [--reads 3000] [--json]
    PG_DURABLE=1 scripts/with-postgres .venv/bin/python bench/audited_reads.py

Each read is what a staff member opening a record costs: the policy decision, the record's
queries, masking, and the hash-chained audit entry, committed in the same transaction. SQLite
runs in WAL mode with synchronous=NORMAL (the shipped settings); under `PG_DURABLE=1` the
PostgreSQL cluster keeps fsync and synchronous_commit on, so every read waits for its audit
entry to reach the disk.

The baseline is the same record query and masking with no decision and no audit entry, so the
ratio is what the choke point costs. It also reports how long seeding the demo ISP took (the
demo must seed 5,000 subscribers in under 60 s).

Reads are timed from one client, then from --clients processes at once (default 2, one per
core of the reference machine): the audit chain is one sequence, so concurrent readers share
its lock, and the second figure shows how much of the machine the choke point can use.
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import time

from harness import arguments, database_name, fresh_installation, rate, report, seed_subscribers

GOAL_READS_PER_SECOND = 2000.0
GOAL_SEED_SECONDS = 60.0
TIME_CAP = 20.0  # seconds per timed loop, so a slow disk cannot make the run unbounded
PURPOSE = "provide_service"


def read_loop(picks: list[int]) -> tuple[int, float]:
    """Audited reads of `picks` as support staff, until done or TIME_CAP; (reads, seconds)."""
    from cpniguard.access import Actor, Channel
    from cpniguard.subscribers import services

    actor = Actor("support1", "support", Channel.WEB)
    began, count = time.perf_counter(), 0
    for pk in picks:
        view = services.detail(actor, pk, purpose=PURPOSE)
        count += 1
        if view["billing_info"] is not None:
            sys.exit("masking failed: support saw billing information")
        if time.perf_counter() - began > TIME_CAP:
            break
    return count, time.perf_counter() - began


def concurrent_reads(picks: list[int], clients: int) -> tuple[int, float]:
    """The same loop in `clients` processes at once; (total reads, wall-clock seconds)."""
    from django.db import connections

    connections.close_all()  # each process must open its own connection
    shares = [picks[n::clients] for n in range(clients)]
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(read_loop, shares)
    return sum(count for count, _ in results), time.perf_counter() - began


def main() -> int:
    parser = arguments(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    fresh_installation("reads")
    from django.db import transaction

    from cpniguard.audit.models import AuditEntry
    from cpniguard.policy import AccessRequest, Action, current_policy
    from cpniguard.subscribers import catalog, records
    from cpniguard.subscribers.models import Subscriber

    seed_seconds, _ = seed_subscribers(args.subscribers)
    ids = list(Subscriber.objects.values_list("pk", flat=True))
    rng = random.Random(7)
    picks = [rng.choice(ids) for _ in range(args.reads)]
    read_loop(picks[:50])  # warm caches and the connection

    before = AuditEntry.objects.count()
    audited, audited_seconds = read_loop(picks)
    together, together_seconds = concurrent_reads(picks, args.clients)
    written = AuditEntry.objects.count() - before
    if written != audited + together:
        sys.exit(f"{audited + together} reads wrote {written} audit entries")

    granted = current_policy().decide(AccessRequest(
        "support", PURPOSE, Action.READ, catalog.RECORD_CATEGORIES)).granted
    categories = tuple(catalog.FIELDS)
    began, plain = time.perf_counter(), 0
    for pk in picks:
        with transaction.atomic():
            # the very load detail() runs, without the decision and the audit entry
            assert records.load_record(pk, granted, categories) is not None
        plain += 1
        if time.perf_counter() - began > TIME_CAP:
            break
    plain_seconds = time.perf_counter() - began

    reads_per_s = rate(audited, audited_seconds)
    together_per_s = rate(together, together_seconds)
    best = max(reads_per_s, together_per_s)
    plain_per_s = rate(plain, plain_seconds)
    database = database_name()
    lines = [
        f"database: {database}; {args.subscribers} demo subscribers seeded in "
        f"{seed_seconds:.1f} s ({'PASS' if seed_seconds < GOAL_SEED_SECONDS else 'SLOW'}: "
        f"goal < {GOAL_SEED_SECONDS:.0f} s)",
        f"audited reads: {audited} in {audited_seconds:.2f} s = {reads_per_s:,.0f} reads/s "
        f"({audited_seconds / audited * 1000:.2f} ms each)",
        f"audited reads, {args.clients} clients at once: {together} in {together_seconds:.2f} s"
        f" = {together_per_s:,.0f} reads/s; {written} audit entries written in all",
        f"baseline, same query + masking without decision or audit: {plain_per_s:,.0f} reads/s",
        f"ratio: the choke point costs {plain_per_s / reads_per_s:.2f}x the bare read",
        f"{'PASS' if best >= GOAL_READS_PER_SECOND else 'BELOW GOAL'}: goal >= "
        f"{GOAL_READS_PER_SECOND:,.0f} audited reads/s",
    ]
    report(args, "audited_reads", lines, {
        "database": database, "subscribers": args.subscribers, "seed_seconds": seed_seconds,
        "reads": audited, "reads_per_s": reads_per_s, "clients": args.clients,
        "concurrent_reads_per_s": together_per_s, "baseline_per_s": plain_per_s,
        "ratio": plain_per_s / reads_per_s, "goal_met": best >= GOAL_READS_PER_SECOND,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
