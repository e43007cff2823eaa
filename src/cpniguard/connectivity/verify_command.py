"""`cpniguard logs verify [--store DIR] [--json]`: re-hash the log store against its manifests.

Names no customer data (paths and hashes only), so it needs no purpose; the run and its
result are still recorded in the audit trail, because a failed check is evidence too.
Exit codes: 0 every file as written, 1 a file changed, missing or unreadable, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


def _verify(args: argparse.Namespace) -> int:
    from cpniguard.access import Actor, record_event
    from cpniguard.audit.models import Outcome
    from cpniguard.connectivity.question import Usage
    from cpniguard.connectivity.store.verify import verify_store
    from cpniguard.connectivity.store_config import embedded_root

    try:  # the configured store, as every command finds it; ClickHouse is refused
        root = embedded_root(args.store, tool="logs verify")
    except Usage as error:
        print(f"cpniguard logs verify: {error}", file=sys.stderr)
        return 2
    if not root.is_dir():
        print(f"cpniguard logs verify: no log store at {root}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True, disable=args.json or not console.is_terminal) as bar:
        task = bar.add_task("verify", total=None)
        report = verify_store(root, lambda done, total: bar.update(task, completed=done,
                                                                   total=total))
    bad = [p for p in report.problems if p.kind != "unlisted"]
    record_event(Actor.for_os_user(), "logs:store:verify",
                 Outcome.SUCCEEDED if report.ok else Outcome.FAILED, subject=f"logstore:{root}",
                 reason=f"{report.partitions} partitions, {report.files} files, "
                        f"{len(bad)} problems"[:500])
    if args.json:
        print(json.dumps({"store": str(root), "ok": report.ok, "partitions": report.partitions,
                          "files": report.files, "bytes": report.bytes,
                          "problems": [asdict(p) for p in report.problems]}))
    else:
        for problem in report.problems:
            print(f"{problem.kind}: {problem.path}" + (f" ({problem.detail})"
                                                       if problem.detail else ""))
        verdict = "OK" if report.ok else "FAILED"
        print(f"{verdict}: {report.partitions} partitions, {report.files} files, "
              f"{report.bytes} bytes re-hashed; {len(bad)} problems")
    return 0 if report.ok else 1


def add_verify(sub: Any) -> None:
    """Add `verify` to the `logs` command's actions (called by connectivity.commands)."""
    verify = sub.add_parser(
        "verify", help="re-hash every stored file against its partition manifest",
        description="Finds files that changed, went missing or are not listed in any "
        "manifest. Reads only. Exit codes: 0 all as written, 1 problems found, 2 bad usage.")
    verify.add_argument("--store", metavar="DIR",
                        help="log store directory (default $CPNIGUARD_LOGSTORE, else "
                        "$CPNIGUARD_HOME/logstore); the embedded store only")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_verify)
