"""`cpniguard audit verify|checkpoint|list|export`.

`verify` and `checkpoint` check and sign the trail's integrity and show no entry contents, so
any operator may run them. `list` and `export` show entries: they act as the staff member linked
to the operating-system user (`Actor.for_os_user()`), declare a purpose with --purpose, and go
through the access gate like every other read (granted to auditor and compliance staff for
compliance_review), so they are audited too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from cpniguard.access import AccessRefused, Actor
from cpniguard.audit.models import Outcome

# Exit codes: 0 ok, 1 tampering found (verify, checkpoint), 2 bad usage, 3 refused by policy.
REFUSED = 3


def aware_time(text: str) -> datetime:
    """An ISO 8601 time that names its offset (Z or +hh:mm); a naive time is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; write it as e.g. {text}Z or {text}+00:00")
    return moment.astimezone(UTC)


def tree_head(text: str) -> tuple[int, str]:
    """SIZE:ROOT, a tree head recorded earlier (e.g. from an export's README)."""
    size, _, root = text.partition(":")
    if not size.isdigit() or int(size) < 1 or len(root) != 64 or \
            any(c not in "0123456789abcdefABCDEF" for c in root):
        raise argparse.ArgumentTypeError(f"{text!r} is not TREE_SIZE:ROOT_HASH (64 hex digits)")
    return int(size), root.lower()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _verify(args: argparse.Namespace) -> int:
    from cpniguard.audit.checkpoints import CheckpointRefused, checkpoint_dict, create_checkpoint
    from cpniguard.audit.integrity import verify_trail

    report = verify_trail(workers=os.cpu_count() or 1, pins=args.pin)
    result = report.as_dict()
    result["checkpoint"] = None
    if report.ok:
        try:
            checkpoint = create_checkpoint()
        except CheckpointRefused as refused:  # the trail changed under us since the check
            report.ok, result["ok"], result["problem"] = False, False, str(refused)
        else:
            result["checkpoint"] = checkpoint_dict(checkpoint) if checkpoint else None
    if args.json:
        _print_json(result)
    elif report.ok:
        print(f"OK: audit trail intact: {report.entries} entries, chain head "
              f"#{report.head or 0}, {report.checkpoints} signed checkpoints verified "
              f"({report.seconds:.2f} s, {report.entries_per_second:,.0f} entries/s)")
        if result["checkpoint"]:
            cp = result["checkpoint"]
            print(f"checkpoint {cp['tree_size']}: root {cp['root_hash']} key {cp['key_id'][:16]}")
    else:
        if report.first_bad_seq is not None:
            print(f"TAMPERED: first bad entry #{report.first_bad_seq}: {report.problem}")
        else:
            print(f"TAMPERED: {result['problem']}")
        for problem in report.problems[1:]:
            print(f"  also entry #{problem['seq']}: {problem['reason']}")
    return 0 if report.ok else 1


def _checkpoint(args: argparse.Namespace) -> int:
    from cpniguard.audit.checkpoints import CheckpointRefused, checkpoint_dict, create_checkpoint

    try:
        checkpoint = create_checkpoint()
    except CheckpointRefused as refused:
        print(f"REFUSED: {refused}", file=sys.stderr)
        return 1
    if checkpoint is None:
        print("the audit trail is empty; nothing to sign")
        return 0
    summary = checkpoint_dict(checkpoint)
    if args.json:
        _print_json(summary)
    else:
        print(f"checkpoint {checkpoint.tree_size}: root {checkpoint.root_hash} "
              f"signed {summary['time']} by key {checkpoint.key_id[:16]}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from cpniguard.audit.services import list_entries

    try:
        page = list_entries(
            Actor.for_os_user(), purpose=args.purpose, reference=args.reference,
            subscriber=args.subscriber, staff=args.staff, entry_purpose=args.entry_purpose,
            outcome=args.outcome, since=args.since, until=args.until, limit=args.limit,
            offset=args.offset)
    except AccessRefused as refused:
        print(f"refused: {refused.decision.reason} ({refused.decision.rule})", file=sys.stderr)
        return REFUSED
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Echo the filters as understood, times in UTC, so the reader sees what was searched.
    given = {name: getattr(args, name) for name in
             ("subscriber", "staff", "entry_purpose", "outcome", "since", "until")}
    filters = {name: value.isoformat() if isinstance(value, datetime) else value
               for name, value in given.items() if value is not None}
    if args.json:
        _print_json({**page, "filters": filters})
        return 0
    shown = len(page["entries"])
    echo = ", ".join(f"{name.replace('_', '-')} {value}" for name, value in filters.items())
    print(f"{page['count']} matching entries{f' ({echo})' if echo else ''}; showing {shown} "
          f"from #{args.offset + 1}, newest first, times in UTC")
    for entry in page["entries"]:
        why = entry["purpose"] + (f" [{entry['reference']}]" if entry["reference"] else "")
        print(f"#{entry['seq']:<7} {entry['time']}  {entry['actor']} ({entry['role'] or '-'}, "
              f"{entry['channel']})  {entry['event']}  {entry['subject'] or '-'}  "
              f"{why or '-'}  {entry['outcome']}  {entry['rule']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from cpniguard.audit.services import export_bundle

    try:
        summary = export_bundle(Actor.for_os_user(), args.directory, purpose=args.purpose,
                                reference=args.reference)
    except AccessRefused as refused:
        print(f"refused: {refused.decision.reason} ({refused.decision.rule})", file=sys.stderr)
        return REFUSED
    except (FileExistsError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(summary)
    else:
        print(f"exported {summary['entries']} entries and {summary['checkpoints']} signed "
              f"checkpoints to {summary['directory']}")
        print(f"newest checkpoint {summary['tree_size']}: root {summary['root_hash']}")
        print(f"check it with: python {summary['directory']}/verify_bundle.py "
              f"{summary['directory']}")
    if summary["warning"]:
        print(f"WARNING: the trail is not intact: {summary['warning']}", file=sys.stderr)
        return 1
    return 0


def _declared_purpose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--purpose", "--as-purpose", dest="purpose", required=True,
                        help="why you are reading the trail (the policy grants "
                             "compliance_review to auditor and compliance staff)")
    parser.add_argument("--reference", help="case or ticket reference, if the purpose needs one")
    parser.add_argument("--json", action="store_true", help="print JSON")


def register(commands: Any) -> None:
    audit = commands.add_parser("audit", help="verify, sign, list and export the audit trail")
    sub = audit.add_subparsers(metavar="ACTION", required=True)

    verify = sub.add_parser(
        "verify", help="check the hash chain, chain head and signed checkpoints",
        description="Exit 0 if the trail is intact (then sign a fresh checkpoint); exit 1 "
        "after any edit, deletion, insertion, reordering or truncation, naming the first bad "
        "entry.")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--pin", type=tree_head, action="append", default=[],
                        metavar="SIZE:ROOT", help="a tree head recorded outside the database "
                        "(an export's README names one) that the trail must still match; "
                        "repeatable")
    verify.set_defaults(func=_verify)

    checkpoint = sub.add_parser(
        "checkpoint", help="sign a Merkle tree head over every entry so far",
        description="Refuses (exit 1) if the entries since the last checkpoint do not continue "
        "the hash chain.")
    checkpoint.add_argument("--json", action="store_true", help="print the checkpoint as JSON")
    checkpoint.set_defaults(func=_checkpoint)

    listing = sub.add_parser(
        "list", help="list audit entries, newest first (a read of the trail, itself audited)",
        description="Times must carry a UTC offset (2026-01-31T00:00:00Z); they are shown in "
        "UTC.")
    _declared_purpose(listing)
    listing.add_argument("--subscriber", type=int, metavar="ID", help="entries about this "
                         "subscriber (its record, things in it, searches that returned it)")
    listing.add_argument("--staff", metavar="USERNAME", help="entries by this staff member")
    listing.add_argument("--entry-purpose", metavar="PURPOSE",
                         help="entries whose declared purpose was this")
    listing.add_argument("--outcome", choices=Outcome.values)
    listing.add_argument("--since", type=aware_time, metavar="ISO",
                         help="from this time (inclusive)")
    listing.add_argument("--until", type=aware_time, metavar="ISO",
                         help="up to this time (exclusive)")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.set_defaults(func=_list)

    export = sub.add_parser(
        "export", help="write a self-verifying bundle of the trail for an auditor",
        description="Signs a fresh checkpoint, then writes entries.jsonl, checkpoints.json, "
        "the public key, verify_bundle.py and README.txt into DIR (new or empty).")
    export.add_argument("directory", metavar="DIR")
    _declared_purpose(export)
    export.set_defaults(func=_export)
