"""CSV import speed: `cpniguard subscribers import` of 5,000 demo subscribers.

    .venv/bin/python bench/csv_import.py [--rows 5000] [--json]
    PG_DURABLE=1 scripts/with-postgres .venv/bin/python bench/csv_import.py

Writes a sample file of the demo ISP's customers in the documented layout, then times the two
halves of an import as the command runs them: validating every row (model validation, the
full-card-number search, duplicates) and writing all rows through the access gate in one
transaction with bulk inserts and one audit entry. The baseline is the same write with no
validation, no decision and no audit entry: bare bulk inserts of the same records.
Goal: 5,000 rows in a few seconds (5 s here).
"""

from __future__ import annotations

import getpass
import sys
import tempfile
import time
from pathlib import Path

from harness import arguments, database_name, fresh_installation, rate, report

GOAL_SECONDS = 5.0


def main() -> int:
    parser = arguments(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    fresh_installation("import")
    from django.db import transaction

    from cpniguard.access import Actor
    from cpniguard.accounts.models import StaffUser
    from cpniguard.audit.models import AuditEntry
    from cpniguard.demo.sample_csv import write_sample_csv
    from cpniguard.subscribers import importer
    from cpniguard.subscribers.models import Subscriber

    StaffUser.objects.create(username="bench-admin", role="admin", os_username=getpass.getuser())
    with tempfile.TemporaryDirectory() as folder:
        path = write_sample_csv(Path(folder) / "subscribers.csv", args.rows)
        began = time.perf_counter()
        plan = importer.read_plan(path)
        validated = time.perf_counter()
        if plan.errors:
            sys.exit(f"the sample file has bad rows, first: line {plan.errors[0].line}: "
                     f"{plan.errors[0].reason}")
        result = importer.run_import(plan, Actor.for_os_user(), purpose="provide_service",
                                     reference=None)
        done = time.perf_counter()
        if Subscriber.objects.count() != args.rows or result.imported != args.rows:
            sys.exit("not every row was imported")
        if AuditEntry.objects.filter(event="subscriber:record:import").count() != 1:
            sys.exit("an import must write exactly one audit entry")

        # Baseline: the same records again, bare bulk inserts under fresh account numbers.
        bare = importer.read_plan(path)
        for row in bare.rows:
            row.subscriber.account_number = "X" + row.subscriber.account_number[1:]
            for child in row.children:
                if hasattr(child, "static_ip"):
                    child.static_ip = None  # the first import holds these addresses
        began_bare = time.perf_counter()
        with transaction.atomic():
            importer._write(bare, None)
        bare_seconds = time.perf_counter() - began_bare

    validate_s, write_s = validated - began, done - validated
    total = done - began
    database = database_name()
    lines = [
        f"database: {database}; {args.rows} demo subscribers in the documented CSV layout",
        f"validate {validate_s:.2f} s + write through the gate {write_s:.2f} s = {total:.2f} s "
        f"({rate(args.rows, total):,.0f} rows/s)",
        f"baseline, bare bulk inserts of the same records: {bare_seconds:.2f} s",
        f"ratio: the import takes {total / bare_seconds:.1f}x the bare inserts",
        f"{'PASS' if total < GOAL_SECONDS else 'SLOW'}: goal {args.rows} rows in "
        f"< {GOAL_SECONDS:.0f} s",
    ]
    report(args, "csv_import", lines, {
        "database": database, "rows": args.rows, "validate_s": validate_s, "write_s": write_s,
        "total_s": total, "baseline_s": bare_seconds, "ratio": total / bare_seconds,
        "goal_met": total < GOAL_SECONDS,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
