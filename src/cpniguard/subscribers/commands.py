"""`cpniguard subscribers import|search|show`: customer records from the command line.

Each command acts as the staff member linked to the operating-system user running it and goes
through the same services, policy decision and audit trail as the web UI and the API.

Exit codes: 0 done, 1 invalid import file, 2 unreadable file, 3 refused by the policy,
4 no such subscriber.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cpniguard.access import AccessRefused, Actor
from cpniguard.access.gate import SubjectNotFound
from cpniguard.policy import current_policy
from cpniguard.subscribers import importer, services

EXIT_INVALID, EXIT_UNREADABLE, EXIT_REFUSED, EXIT_NOT_FOUND = 1, 2, 3, 4
# Below this many rows a progress bar only flickers.
PROGRESS_ROWS = 1000


def _emit(args: argparse.Namespace, document: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(document, default=str))


def _refused(args: argparse.Namespace, refused: AccessRefused) -> int:
    decision = refused.decision
    print(f"refused: {decision.reason} (rule {decision.rule})", file=sys.stderr)
    _emit(args, {"error": "refused", "reason": decision.reason, "rule": decision.rule})
    return EXIT_REFUSED


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True,
                    disable=not enabled)


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        lines = path.read_bytes().count(b"\n")
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    enabled = not args.json and lines > PROGRESS_ROWS and Console(stderr=True).is_terminal
    with _progress(enabled) as bar:
        checking = bar.add_task("validating", total=lines)
        plan = importer.read_plan(path, progress=lambda n: bar.advance(checking, n))
        result = importer.ImportResult(plan, dry_run=args.dry_run)
        if not plan.errors:
            writing = bar.add_task("writing", total=len(plan.rows))
            try:
                result = importer.run_import(
                    plan, Actor.for_os_user(), purpose=args.purpose, reference=args.reference,
                    dry_run=args.dry_run, progress=lambda n: bar.advance(writing, n))
            except AccessRefused as refused:
                return _refused(args, refused)
    summary = {"file": str(path), "sha256": plan.sha256, "valid": not plan.errors,
               "rows": len(plan.rows), "dry_run": args.dry_run, "imported": result.imported,
               "errors": [{"line": e.line, "reason": e.reason} for e in plan.errors]}
    if result.not_granted:
        print(f"refused: the policy does not let you import {', '.join(sorted(result.not_granted))}"
              f" for {args.purpose}; nothing written", file=sys.stderr)
        _emit(args, {**summary, "error": "refused",
                     "not_granted": sorted(result.not_granted)})
        return EXIT_REFUSED
    _emit(args, summary)
    if plan.errors:
        if not args.json:
            for bad in plan.errors:
                print(f"{path}:{bad.line}: {bad.reason}", file=sys.stderr)
        print(f"{len(plan.errors)} bad row(s) in {path}; nothing imported", file=sys.stderr)
        return EXIT_INVALID
    if not args.json:
        if args.dry_run:
            print(f"{path}: {len(plan.rows)} subscriber(s) valid; dry run, nothing written")
        else:
            print(f"{path}: imported {result.imported} subscriber(s) (sha256 {plan.sha256})")
    return 0


def _cell(value: Any) -> str:
    return "masked" if value is None else str(value)


def _search(args: argparse.Namespace) -> int:
    try:
        rows = services.search(Actor.for_os_user(), args.query, purpose=args.purpose,
                               reference=args.reference)
    except AccessRefused as refused:
        return _refused(args, refused)
    if args.json:
        print(json.dumps({"purpose": args.purpose, "results": rows}))
        return 0
    if not rows:
        print("no match")
        return 0
    table = [("ID", "ACCOUNT", "NAME", "SERVICE TOWN")] + [
        (str(r["id"]), _cell(r["account_number"]), _cell(r["name"]), _cell(r["service_town"]))
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def _lines(value: Any, indent: str) -> list[str]:
    """A section of a record as indented text: dicts as `key: value`, lists one item a line."""
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if isinstance(item, list):
                out.append(f"{indent}{key}:")
                out.extend(_lines(item, indent + "  "))
            else:
                out.append(f"{indent}{key}: {'' if item is None else item}")
        return out
    if isinstance(value, list):
        if not value:
            return [f"{indent}(none on record)"]
        # Empty attributes (no static address on a broadband line) are left out of the line.
        return [f"{indent}- " + ", ".join(f"{k} {v}" for k, v in i.items() if v not in (None, ""))
                if isinstance(i, dict) else f"{indent}- {i}" for i in value]
    return [f"{indent}{value}"]


def render_detail(view: dict[str, Any], purpose: str) -> str:
    """The human form of `services.detail`: every category, masked ones saying why."""
    categories = current_policy().categories
    decision = view["decision"]
    out = [f"Subscriber {view['id']}: purpose {purpose}"
           + (f", reference {decision['reference']}" if decision["reference"] else "")
           + f", rule {decision['rule']}"]
    for category in (name for name in view if name in categories):
        label = categories[category].label
        if category in view["masked"]:
            out.append(f"{label}: masked (not needed for {purpose})")
        elif view[category] is None:
            out.append(f"{label}: none on record")
        else:
            out.append(f"{label}:")
            out.extend(_lines(view[category], "  "))
    return "\n".join(out)


def _show(args: argparse.Namespace) -> int:
    try:
        view = services.detail(Actor.for_os_user(), args.id, purpose=args.purpose,
                               reference=args.reference)
    except AccessRefused as refused:
        return _refused(args, refused)
    except SubjectNotFound:
        print(f"no subscriber {args.id}", file=sys.stderr)
        _emit(args, {"error": "not_found", "id": args.id})
        return EXIT_NOT_FOUND
    print(json.dumps(view, default=str) if args.json else render_detail(view, args.purpose))
    return 0


def _purpose_options(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    # Any purpose is accepted here: a forbidden or unknown one must reach the policy, which
    # refuses it and audits the attempt, rather than being turned away unrecorded.
    parser.add_argument("--purpose", required=default is None, default=default,
                        help="why you need the record, e.g. provide_service, billing"
                        + (" (default %(default)s)" if default else ""))
    parser.add_argument("--reference", help="ticket or legal case, when the purpose needs one "
                        "(e.g. TKT-104233, LR-2026-0042)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")


def register(commands: Any) -> None:
    group = commands.add_parser("subscribers", help="import, search and show customer records")
    sub = group.add_subparsers(metavar="ACTION", required=True)
    # The CSV layout and the checks, as documented in the importer, without its title line.
    layout = (importer.__doc__ or "").split("\n\n", 1)[1]
    load = sub.add_parser(
        "import", help="import subscribers from a CSV file (all rows or none)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=layout + "\nBad rows are printed as FILE:LINE: reason (the header is line "
        "1). The import acts as the\nstaff member linked to your OS user and needs the "
        "policy's import grant (role admin,\npurpose provide_service by default).\n\n"
        "Exit codes: 0 imported (or valid, with --dry-run), 1 bad rows, 2 unreadable file,\n"
        "3 refused by the policy.")
    load.add_argument("file", help="CSV file, UTF-8, header row first")
    load.add_argument("--dry-run", action="store_true",
                      help="validate only (checks the database for duplicates, writes nothing)")
    _purpose_options(load, default="provide_service")
    load.set_defaults(func=_import)
    find = sub.add_parser("search", help="find records by account, name, phone, email, street",
                          description="Search matches only on the categories your purpose may "
                          "see; results show masked for everything else.")
    find.add_argument("query")
    _purpose_options(find)
    find.set_defaults(func=_search)
    show = sub.add_parser("show", help="show one record, masked to what the purpose needs")
    show.add_argument("id", type=int, help="subscriber id (from search)")
    _purpose_options(show)
    show.set_defaults(func=_show)
