"""How fast `cpniguard audit verify` checks the trail, in entries per second.

    CPNIGUARD_HOME=$(mktemp -d) .venv/bin/python bench/audit_verify.py --entries 1000000
    scripts/with-postgres .venv/bin/python bench/audit_verify.py --entries 1000000

Seeds N entries fast (bulk inserts computing the hash chain in Python, as `record()` would),
signs a checkpoint after every 1000, then times `verify_trail()` in one process and in one per
CPU (as `cpniguard audit verify` runs it), a checkpoint over 999 new entries on top (the work
the automatic checkpoint does), and an export. Goal: >= 200,000 entries/s verified. The
database must hold no audit entries yet (a fresh CPNIGUARD_HOME or PostgreSQL cluster).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpniguard.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


EVENTS = (
    ("support1", "support", "troubleshooting", "subscriber:record:read",
     ["account", "name", "phone", "service_address", "services"],
     ["account.number", "name.first_name", "name.last_name", "phone.number", "services.plan"]),
    ("billing1", "billing", "billing", "subscriber:record:read",
     ["account", "billing_address", "billing_info", "name"],
     ["account.number", "billing_info.last4", "billing_info.method", "name.last_name"]),
    ("noc1", "noc", "troubleshooting", "subscriber:record:search",
     ["account", "service_address", "services"], ["query:account.account_number"]),
)


def seed(count: int, every: int) -> None:
    from django.db import transaction

    from cpniguard.audit.checkpoints import create_checkpoint
    from cpniguard.audit.models import AuditEntry, ChainHead
    from cpniguard.audit.trail import format_time
    from cpniguard.audit.verifier import GENESIS, entry_hash

    if AuditEntry.objects.exists():
        sys.exit("the audit trail is not empty: use a fresh CPNIGUARD_HOME / database")
    start = datetime.now(UTC) - timedelta(seconds=count)
    prev, batch = GENESIS, []
    for seq in range(1, count + 1):
        actor, role, purpose, event, categories, fields = EVENTS[seq % len(EVENTS)]
        moment = start + timedelta(seconds=seq, microseconds=seq % 1_000_000)
        values = {
            "seq": seq, "time": format_time(moment), "actor": actor, "role": role,
            "channel": "web", "event": event, "purpose": purpose,
            "reference": f"TKT-{100000 + seq % 5000}" if purpose == "troubleshooting" else "",
            "subject": f"subscriber:{seq % 4000 + 1}", "categories": categories,
            "fields": fields, "outcome": "allowed", "rule": f"grant:{role}-{purpose}",
            "reason": f"allowed by rule {role}-{purpose}", "request_id": f"{seq:032x}",
            "policy_version": "1", "prev_hash": prev,
        }
        prev = entry_hash(values)
        batch.append(AuditEntry(**{**values, "time": moment}, entry_hash=prev))
        if len(batch) == every or seq == count:
            with transaction.atomic():
                AuditEntry.objects.bulk_create(batch)
                ChainHead.objects.update_or_create(pk=1, defaults={"seq": seq,
                                                                   "entry_hash": prev})
            batch = []
            create_checkpoint()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    args = parser.parse_args()
    _setup()
    from django.db import connection, transaction

    from cpniguard.audit.checkpoints import create_checkpoint
    from cpniguard.audit.integrity import verify_trail
    from cpniguard.audit.trail import record

    began = time.perf_counter()
    seed(args.entries, args.checkpoint_every)
    print(f"seeded {args.entries} entries on {connection.vendor} in "
          f"{time.perf_counter() - began:.1f} s")
    workers = os.cpu_count() or 1
    runs = {1: verify_trail(workers=1), workers: verify_trail(workers=workers)}
    for count, report in runs.items():
        if not report.ok:
            print(f"FAILED: #{report.first_bad_seq}: {report.problem}")
            return 1
        print(f"verify, {count} process{'es' if count > 1 else ''}: {report.seconds:.2f} s, "
              f"{report.entries_per_second:,.0f} entries/s")
    best = max(runs.values(), key=lambda r: r.entries_per_second)
    # bench/run reads the figure after "= " on this line.
    print(f"verify: {best.entries} entries, {best.checkpoints} checkpoints in "
          f"{best.seconds:.2f} s = {best.entries_per_second:,.0f} entries/s")
    with transaction.atomic():
        for _ in range(999):
            record(actor="bench", role="", channel="system", event="bench:tick",
                   outcome="succeeded")
    began = time.perf_counter()
    create_checkpoint()
    print(f"checkpoint over 999 new entries on a tree of {args.entries}: "
          f"{(time.perf_counter() - began) * 1000:.1f} ms")
    from cpniguard.audit.bundle import write_bundle

    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        summary = write_bundle(Path(folder) / "bundle")
        print(f"export: {summary['entries']} entries in {time.perf_counter() - began:.1f} s")
    ok = best.entries_per_second >= 200_000
    print(f"{'PASS' if ok else 'BELOW GOAL'}: {best.entries_per_second:,.0f} entries/s "
          f"(goal 200,000; load average {os.getloadavg()[0]:.1f} on {workers} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
