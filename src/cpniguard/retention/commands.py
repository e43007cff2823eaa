"""`cpniguard hold create|renew|release|list` and `cpniguard retention run`.

Instants are accepted only with an offset or a zone name and are echoed back in UTC. Every
command acts as the staff member linked to the operating-system user and goes through the
policy gate; refusals are audited.

Exit codes: 0 done, 2 bad usage (unreadable instant, bad identifier, range ending before it
starts, no retention rule for a source), 3 refused by the policy.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

EXIT_USAGE = 2


class _Bar:
    """A ProgressSink on a rich progress bar: one task per phase."""

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


def _usage(command: str, message: str) -> int:
    print(f"cpniguard {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _refused(error: Any, as_json: bool) -> int:
    # The refusal is printed as every command prints one (stderr, and JSON with --json).
    from cpniguard.quality.cli_errors import exit_for

    return exit_for("retention", error, as_json)


def _instant(text: str) -> datetime:
    from cpniguard.connectivity.question import parse_instant

    return parse_instant(text)


def _print_hold(view: Any) -> None:
    print(f"hold {view.id} [{view.state}] {view.reference}: {view.kind} {view.identifier}")
    print(f"  range (UTC): {view.starts} .. {view.ends}")
    print(f"  expires (UTC): {view.expires}")
    extra = f"; renewed {view.renewed}" if view.renewed else ""
    extra += f"; released {view.released}" if view.released else ""
    print(f"  placed by {view.created_by} at {view.created}{extra}")


def _hold(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.access.gate import SubjectNotFound
    from cpniguard.connectivity.question import Usage
    from cpniguard.retention import hold_service
    from cpniguard.retention.holds import InvalidHold

    actor = Actor.for_os_user()
    try:
        if args.hold_action == "create":
            view = hold_service.create_hold(
                actor, identifier=args.identifier, kind=args.kind,
                starts=_instant(args.starts), ends=_instant(args.ends),
                expires=_instant(args.expires), reference=args.reference)
            views = [view]
        elif args.hold_action == "renew":
            views = [hold_service.renew_hold(actor, args.id, expires=_instant(args.expires),
                                             reference=args.reference)]
        elif args.hold_action == "release":
            views = [hold_service.release_hold(actor, args.id, reference=args.reference)]
        else:
            views = hold_service.list_holds(actor, purpose=args.purpose,
                                            reference=args.reference,
                                            include_ended=not args.active)
    except (Usage, InvalidHold) as error:
        return _usage("hold", str(error))
    except SubjectNotFound as error:
        return _usage("hold", str(error))
    except AccessRefused as refused:
        return _refused(refused, args.json)
    if args.json:
        print(json.dumps({"holds": [v.to_dict() for v in views]}))
        return 0
    if not views:
        print("no legal holds")
    for view in views:
        _print_hold(view)
    return 0


def _print_report(data: dict[str, Any]) -> None:
    verb = "would remove" if data["dry_run"] else "removed"
    print(f"retention as of {data['now']}" + (" (dry run: nothing deleted)"
                                               if data["dry_run"] else ""))
    if data["repaired"]:
        print(f"finished {data['repaired']} interrupted rewrite(s) first")
    for rule in data["rules"]:
        print(f"{rule['source']}: {rule['retention_key']} {rule['days']} days, "
              f"expired before {rule['cutoff']}")
    for day in data["days"]:
        parts = ",".join(str(p) for p in day["partitions"]) or "-"
        held = f", kept {day['kept']} held by {', '.join(map(str, day['holds']))}" \
            if day["kept"] else ""
        again = " (resumed)" if day["resumed"] else ""
        print(f"  {day['source']} {day['day']} parts {parts}: {day['rows']} rows, "
              f"{verb} {day['removed']}{held}{again}")
    for file in data["files"]:
        what = (f"kept, held by {', '.join(map(str, file['holds']))}" if file["holds"]
                else f"{verb} {file['lines']} quarantined lines, "
                     f"{file['open_sessions']} open-session registry rows")
        print(f"  file {file['sha256'][:16]} ({file['source']}, {file['days'][0]}.."
              f"{file['days'][-1]}): {what}")
    tests = data.get("speed_tests")
    if tests is not None:
        held = f", kept {tests['kept']} held by {', '.join(map(str, tests['holds']))}" \
            if tests["kept"] else ""
        print(f"speed tests: {tests['retention_key']} {tests['days']} days, expired before "
              f"{tests['cutoff']}: {verb} {tests['removed']} results and "
              f"{tests['quarantined_lines']} quarantined lines{held}")
    totals = data["totals"]
    print(f"total: {verb} {totals['rows_removed']} rows in {totals['days']} days, kept "
          f"{totals['rows_kept']} held rows; {verb} {totals['lines_removed']} quarantined "
          f"lines and {totals['open_sessions_removed']} open-session registry rows of "
          f"{totals['files']} files")


def _retention(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.connectivity.question import Usage
    from cpniguard.connectivity.store_config import configured_store
    from cpniguard.retention.purge import EarlyPurge, run_retention
    from cpniguard.retention.sources import NoRetentionRule

    try:
        now = _instant(args.now) if args.now else None
    except Usage as error:
        return _usage("retention", str(error))
    try:
        store = configured_store(args.store)
    except Usage as error:
        return _usage("retention", str(error))
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                      console=console, transient=True,
                      disable=args.json or not console.is_terminal) as progress:
            report = run_retention(Actor.for_os_user(), store, now=now, dry_run=args.dry_run,
                                   progress=_Bar(progress))
    except AccessRefused as refused:
        return _refused(refused, args.json)
    except (NoRetentionRule, EarlyPurge) as error:
        return _usage("retention", str(error))
    data = report.to_dict()
    if args.json:
        print(json.dumps(data))
    else:
        _print_report(data)
    return 0


def _instant_help(what: str) -> str:
    return f"{what}, with an offset (2026-05-01T00:00:00-05:00) or a zone " \
           "('2026-05-01 00:00 America/Chicago'); echoed in UTC"


def register(commands: Any) -> None:
    hold = commands.add_parser(
        "hold", help="legal holds: keep named connectivity logs past their retention",
        description="A hold keeps every stored row carrying its identifier whose interval "
        "overlaps its range, until it expires or is released. Exit codes: 0 done, 2 bad "
        "usage, 3 refused.")
    sub = hold.add_subparsers(dest="hold_action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="place a hold under a legal case")
    create.add_argument("--identifier", required=True,
                        help="an address or prefix (192.0.2.7, 2001:db8:1200::/56) or, with "
                        "--kind, an identity value")
    create.add_argument("--kind", help="username, mac, client_id, duid, circuit_id, remote_id "
                        "(default: address)")
    create.add_argument("--from", dest="starts", required=True, metavar="INSTANT",
                        help=_instant_help("start of the range (inclusive)"))
    create.add_argument("--to", dest="ends", required=True, metavar="INSTANT",
                        help=_instant_help("end of the range (exclusive)"))
    create.add_argument("--expires", required=True, metavar="INSTANT",
                        help=_instant_help("when the hold stops protecting"))
    renew = sub.add_parser("renew", help="extend a hold's expiry")
    renew.add_argument("id", type=int)
    renew.add_argument("--expires", required=True, metavar="INSTANT",
                       help=_instant_help("the new expiry"))
    release = sub.add_parser("release", help="end a hold (the record is kept)")
    release.add_argument("id", type=int)
    for parser in (create, renew, release):
        parser.add_argument("--reference", required=True,
                            help="the hold's legal case (e.g. LR-2026-0042)")
    listing = sub.add_parser("list", help="list holds")
    listing.add_argument("--purpose", required=True,
                         help="e.g. compliance_review, retention, legal_process")
    listing.add_argument("--reference", help="only this case's holds (required for "
                         "legal_process)")
    listing.add_argument("--active", action="store_true", help="only holds in force")
    for parser in (create, renew, release, listing):
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(func=_hold)

    retention = commands.add_parser(
        "retention", help="delete connectivity logs older than the policy's retention",
        description="Run with --dry-run first. Exit codes: 0 done, 2 bad usage or a source "
        "without a retention rule (nothing deleted), 3 refused.")
    rsub = retention.add_subparsers(metavar="ACTION", required=True)
    run = rsub.add_parser("run", help="delete expired days, keeping rows under legal holds")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would be deleted and change nothing")
    run.add_argument("--now", metavar="INSTANT",
                     help=_instant_help("as of this instant (default: the clock; a real "
                                        "run refuses one in the future)"))
    run.add_argument("--store", metavar="DIR_OR_URL",
                     help="log store directory or clickhouse://, clickhouses://, chdb:/// URL "
                     "(default $CPNIGUARD_LOGSTORE, else $CPNIGUARD_HOME/logstore)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=_retention)
