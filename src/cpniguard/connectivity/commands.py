"""`cpniguard logs ingest|quarantine`: connectivity log files into the log store.

Ingest reads no customer records, so it takes no --purpose; it is audited as
`logs:file:ingest` under the operating-system user's linked staff member, naming the file
only by its hash.

Exit codes: 0 done (quarantined lines are reported, not an error), 2 bad usage: unknown
format or zone, missing or unreadable file, a bad store URL, or a file already recorded
against another log store than this one.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from cpniguard.connectivity.clock import UnknownZone, zone
from cpniguard.connectivity.ingest import FORMATS, IngestResult, StoreMismatch, ingest_file
from cpniguard.connectivity.parsers.nat_common import NoYear
from cpniguard.connectivity.question import Usage
from cpniguard.connectivity.store_config import configured_store, store_name

if TYPE_CHECKING:  # no Django models at import: the CLI loads this before setup
    from django.db.models import Q

EXIT_USAGE = 2
DEFAULT_LIMIT = 100


class _Bar:
    """The ingest's ProgressSink on a rich progress bar: one task per phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, phase: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(phase, total=total)

    def advance(self, amount: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)


def _usage(message: str) -> int:
    print(f"cpniguard logs: {message}", file=sys.stderr)
    return EXIT_USAGE


def _summary(result: IngestResult) -> str:
    if result.already_ingested:
        return f"{result.path}: already ingested as {result.format} (sha256 {result.sha256}); " \
               "nothing added"
    return (f"{result.path}: {result.lines} lines, {result.events} events, "
            f"{result.intervals} intervals, {result.quarantined} quarantined "
            f"(sha256 {result.sha256})")


def _ingest(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        return _usage(f"unknown format {args.format!r}; one of {', '.join(FORMATS)}")
    try:
        zone(args.source_tz)
    except UnknownZone as error:
        return _usage(str(error))
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return _usage(f"no such file: {', '.join(missing)}")
    try:
        store = configured_store(args.store)
    except Usage as error:
        return _usage(str(error))
    name = store_name(store)
    console = Console(stderr=True)
    results: list[IngestResult] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=args.json or not console.is_terminal) as progress:
        bar = _Bar(progress)
        for path in paths:
            try:
                result = ingest_file(path, args.format, args.source_tz, store, progress=bar,
                                     year=args.year, device=args.device)
            except (OSError, NoYear) as error:
                return _usage(f"{path}: {error}")
            except StoreMismatch as error:
                return _usage(str(error))
            results.append(result)
            if not args.json:
                print(_summary(result))  # stdout; rich keeps the bar below it
    if args.json:
        print(json.dumps({"store": name, "files": [asdict(r) for r in results]}))
    return 0


def file_named(text: str) -> Q:
    """Rows whose `file` is the one named: its path, its SHA-256, or the first 8+ hex digits
    of it (an abbreviated hash, as git shows one). For quarantine listings of any kind."""
    from django.db.models import Q

    wanted = text.lower()
    match = Q(file__path=str(Path(text).resolve())) | Q(file__sha256=wanted)
    if len(wanted) >= 8 and all(c in "0123456789abcdef" for c in wanted):
        match |= Q(file__sha256__startswith=wanted)
    return match


def _quarantine(args: argparse.Namespace) -> int:
    """Quarantined lines are raw log content (usernames, MACs, addresses): reading them is a
    read of connectivity logs, decided by the policy and audited like any other."""
    from cpniguard.access import AccessRefused, Actor, access
    from cpniguard.connectivity.models import QuarantinedLine
    from cpniguard.policy import Action

    lines = QuarantinedLine.objects.select_related("file").order_by("file_id", "line", "id")
    if args.file:
        lines = lines.filter(file_named(args.file))
    try:
        with access(Actor.for_os_user(), Action.READ, resource="connectivity:quarantine",
                    purpose=args.purpose, reference=args.reference, subject="quarantine",
                    categories={"connectivity_logs"}) as permit:
            rows: list[dict[str, Any]] = [
                {"file": q.file.path, "sha256": q.file.sha256, "format": q.file.format,
                 "line": q.line, "reason": q.reason, "text": q.text}
                for q in lines[:args.limit]]
            permit.about("quarantine:" + ",".join(sorted({r["sha256"][:16] for r in rows})))
            permit.touched(["quarantine.line", "quarantine.reason", "quarantine.text"])
    except AccessRefused as refused:
        print(f"refused: {refused.decision.reason} (rule {refused.decision.rule})",
              file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps({"quarantined": rows}))
        return 0
    if not rows:
        print("no quarantined lines")
    for row in rows:
        print(f"{row['file']}:{row['line']}: {row['reason']}")
    return 0


def register(commands: Any) -> None:
    group = commands.add_parser("logs", help="ingest connectivity logs into the log store")
    sub = group.add_subparsers(metavar="ACTION", required=True)
    load = sub.add_parser(
        "ingest", help="parse log files into assignment intervals in the log store",
        description="Each file is hashed first; one already ingested in this format adds "
        "nothing. Lines that cannot be used are kept for `cpniguard logs quarantine`. "
        "Re-running after a crash is safe: the interrupted attempt is undone first. "
        "Exit codes: 0 done, 2 bad usage.")
    load.add_argument("paths", nargs="+", metavar="PATH", help="log file (gzip read as well)")
    load.add_argument("--format", required=True, metavar="FORMAT",
                      help=f"one of: {', '.join(FORMATS)}")
    load.add_argument("--source-tz", default="UTC", metavar="ZONE",
                      help="IANA zone the file's local timestamps are in (default UTC)")
    load.add_argument("--store", metavar="DIR_OR_URL",
                      help="log store directory or clickhouse://, clickhouses://, chdb:/// URL "
                      "(default $CPNIGUARD_LOGSTORE, else $CPNIGUARD_HOME/logstore)")
    load.add_argument("--year", type=int,
                      help="juniper-nat, asa-nat: year of the first yearless line "
                      "(default: from the file's modification time)")
    load.add_argument("--device", default="",
                      help="conntrack: name of the NAT box that wrote the file")
    load.add_argument("--json", action="store_true", help="print the summary as JSON")
    load.set_defaults(func=_ingest)
    review = sub.add_parser("quarantine", help="list lines that could not be ingested")
    review.add_argument("--file", metavar="SHA_OR_PATH",
                        help="only this file: its path, SHA-256, or a hash prefix (8+ digits)")
    review.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                        help=f"at most this many lines (default {DEFAULT_LIMIT})")
    review.add_argument("--purpose", required=True,
                        help="why you read raw log lines, e.g. troubleshooting")
    review.add_argument("--reference", help="ticket or case reference, where the policy "
                        "requires one (e.g. TKT-104233)")
    review.add_argument("--json", action="store_true")
    review.set_defaults(func=_quarantine)
    from cpniguard.connectivity.generate_command import add_generate
    from cpniguard.connectivity.verify_command import add_verify

    add_generate(sub)
    add_verify(sub)
