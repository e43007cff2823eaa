"""`cpniguard quality speedtest import`: speed-test results into the records database
(`quality speedtest quarantine` lists what an import could not use: speedtest_quarantine.py).

    cpniguard quality speedtest import --format iperf3 --account A1000001 \\
        --purpose troubleshooting --reference TKT-104233 result.json
    cpniguard quality speedtest import --format csv results-20261128.csv.gz

Each file goes through `quality.speedtests.import_file` (the access gate, one audit entry per
file). Exit codes: 0 done (quarantined lines are reported, not an error), 2 bad usage or an
unreadable file, 3 refused by the policy, 4 no subscriber with that --account.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from cpniguard.connectivity.question import Usage
from cpniguard.quality.cli_errors import EXIT_USAGE, exit_for
from cpniguard.quality.speedtest_formats import CSV_COLUMNS
from cpniguard.quality.speedtest_quarantine import add_quarantine

SHOWN_PROBLEMS = 20


class _Bar:
    """ProgressSink on a rich progress bar, one task per phase (as `logs ingest` shows)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, phase: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(phase, total=total)

    def advance(self, amount: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)


def _line(result: Any) -> str:
    if result.already_imported:
        return (f"{result.path}: already imported as {result.format} (sha256 "
                f"{result.sha256}); {result.duplicates} results, nothing added")
    return (f"{result.path}: {result.imported} imported for {result.subscribers} "
            f"subscriber(s), {result.duplicates} duplicates, {result.quarantined} quarantined "
            f"(sha256 {result.sha256})")


def _import(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.access.gate import SubjectNotFound
    from cpniguard.quality.speedtests import ImportSummary, import_file

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"cpniguard quality speedtest: no such file: {', '.join(missing)}",
              file=sys.stderr)
        return EXIT_USAGE
    # A technician's single test belongs to a ticket; a feed of results watches the network.
    purpose = args.purpose or ("troubleshooting" if args.account else "network_quality")
    console = Console(stderr=True)
    summary = ImportSummary()
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  console=console, transient=True,
                  disable=args.json or not console.is_terminal) as progress:
        bar = _Bar(progress)
        for path in paths:
            try:
                result = import_file(Actor.for_os_user(), path, args.format, purpose=purpose,
                                     reference=args.reference, account=args.account,
                                     progress=bar)
            except (Usage, SubjectNotFound, AccessRefused) as error:
                return exit_for("quality speedtest", error, args.json)
            except (OSError, UnicodeDecodeError) as error:  # AccessRefused is an OSError: after
                print(f"cpniguard quality speedtest: {path}: {error}", file=sys.stderr)
                return EXIT_USAGE
            summary.files.append(result)
            if not args.json:
                print(_line(result))
                for line, reason in result.problems[:SHOWN_PROBLEMS]:
                    print(f"  quarantined {result.path}:{line}: {reason}")
                if len(result.problems) > SHOWN_PROBLEMS:
                    print(f"  ... and {len(result.problems) - SHOWN_PROBLEMS} more")
    totals = {"imported": summary.imported, "duplicates": summary.duplicates,
              "quarantined": summary.quarantined}
    if args.json:
        print(json.dumps({"purpose": purpose, **totals,
                          "files": [asdict(f) for f in summary.files]}))
    else:
        print(f"{len(paths)} file(s): {totals['imported']} imported, "
              f"{totals['duplicates']} duplicates, {totals['quarantined']} quarantined")
    return 0


def add_speedtest(actions: Any) -> None:
    group = actions.add_parser("speedtest", help="speed-test results (iperf3 --json, CSV)")
    sub = group.add_subparsers(dest="speedtest_action", metavar="ACTION", required=True)
    load = sub.add_parser(
        "import", help="store speed-test results, compared later with each plan",
        description="iperf3 --json output (one or more documents per file; --account names "
        f"the subscriber) or a CSV with the header {','.join(CSV_COLUMNS)} (measured_at "
        "with an offset or a zone). Gzip is read as well. A file already imported adds "
        "nothing; lines that cannot be used are quarantined with their line and reason. "
        "Exit codes: 0 done, 2 bad usage, 3 refused, 4 no such subscriber.")
    load.add_argument("paths", nargs="+", metavar="PATH")
    load.add_argument("--format", required=True, choices=("iperf3", "csv"))
    load.add_argument("--account", metavar="ACCOUNT",
                      help="iperf3: the subscriber whose line was tested (e.g. A1000313)")
    load.add_argument("--purpose", help="declared purpose (default: troubleshooting with "
                      "--account, else network_quality)")
    load.add_argument("--reference", help="ticket reference (TKT-...) where the purpose "
                      "needs one")
    load.add_argument("--json", action="store_true", help="print the summary as JSON")
    load.set_defaults(func=_import)
    add_quarantine(sub)
