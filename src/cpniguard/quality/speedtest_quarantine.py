"""`cpniguard quality speedtest quarantine`: the speed-test lines an import could not use.

    cpniguard quality speedtest quarantine --purpose network_quality [--file PATH|SHA256]
        [--limit N] [--json]

A quarantined line is raw input (an iperf3 document with the addresses it tested, a CSV row
with an account number), so listing them is a read of service-quality data: decided by the
policy for the staff member and purpose, and audited, as `logs quarantine` is for log lines.
Exit codes: 0 listed (also when there is nothing), 3 refused by the policy.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cpniguard.quality.cli_errors import exit_for

RESOURCE = "quality:speedtests:quarantine"


def quarantined(actor: Any, *, purpose: str, reference: str | None, file: str | None = None,
                limit: int = 1000) -> list[dict[str, Any]]:
    """The quarantined lines (of one file, by path or SHA-256 or its first 8+ hex digits),
    oldest import first; raises AccessRefused (audited) when the policy says no."""
    from cpniguard.access.gate import access
    from cpniguard.connectivity.commands import file_named
    from cpniguard.policy import Action
    from cpniguard.quality.models import SpeedTestQuarantine

    lines = SpeedTestQuarantine.objects.select_related("file").order_by("file_id", "line", "id")
    if file:
        lines = lines.filter(file_named(file))
    with access(actor, Action.READ, resource=RESOURCE, purpose=purpose, reference=reference,
                subject="speedtest-quarantine", categories={"service_quality"}) as permit:
        rows: list[dict[str, Any]] = [
            {"file": q.file.path, "sha256": q.file.sha256, "format": q.file.format,
             "line": q.line, "reason": q.reason, "text": q.text} for q in lines[:limit]]
        permit.about("speedtest-quarantine:" + ",".join(sorted({r["sha256"][:16]
                                                                for r in rows})))
        permit.touched(["speedtest_quarantine.line", "speedtest_quarantine.reason",
                        "speedtest_quarantine.text"])
    return rows


def list_command(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor

    try:
        rows = quarantined(Actor.for_os_user(), purpose=args.purpose, reference=args.reference,
                           file=args.file, limit=args.limit)
    except AccessRefused as refused:
        return exit_for("quality speedtest quarantine", refused, args.json)
    if args.json:
        print(json.dumps({"quarantined": rows}))
    elif not rows:
        print("no quarantined speed-test lines")
    else:
        for row in rows:
            print(f"{row['file']}:{row['line']} ({row['format']}, {row['sha256'][:12]}): "
                  f"{row['reason']}")
        if len(rows) == args.limit:
            print(f"(first {args.limit} shown; --limit N for more)", file=sys.stderr)
    return 0


def add_quarantine(sub: Any) -> None:
    review = sub.add_parser(
        "quarantine", help="list the speed-test lines an import could not use",
        description="Each line an import could not use, with its file, line and reason "
        "(--json adds the raw text). Reading them is a read of service-quality data: "
        "network_quality, or troubleshooting with a ticket. Exit codes: 0 listed, 3 refused.")
    review.add_argument("--file", metavar="PATH|SHA256",
                        help="only this file: its path, SHA-256, or the first 8+ hex digits")
    review.add_argument("--purpose", default="network_quality",
                        help="declared purpose (default network_quality)")
    review.add_argument("--reference", help="ticket reference (TKT-...) where the purpose "
                        "needs one")
    review.add_argument("--limit", type=int, default=1000, help="at most N lines (1000)")
    review.add_argument("--json", action="store_true", help="print the lines as JSON")
    review.set_defaults(func=list_command)
