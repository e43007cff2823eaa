"""`cpniguard links ...`: the dated links from network identities to subscribers.

    links add --account A --kind mac --value aa:bb:cc:dd:ee:ff --from INSTANT [--to INSTANT]
    links import FILE.csv          account,kind,value,valid_from,valid_to (all rows or none)
    links sync --zone America/Chicago   static IPs from services, MACs from equipment
    links list [--account A] [--json]

A link says which subscriber an identity belonged to, so it is customer data (category
`services`): changing links needs a grant to change services, listing them a grant to read
them, and every call is decided and audited by the gate. Exit codes: 0, 2 bad usage, 3 refused.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

EXIT_USAGE, EXIT_REFUSED = 2, 3
COLUMNS = ("account", "kind", "value", "valid_from", "valid_to")


def _usage(message: str) -> int:
    print(f"cpniguard links: {message}", file=sys.stderr)
    return EXIT_USAGE


def _row(link: Any) -> dict[str, Any]:
    return {"id": link.pk, "account": link.subscriber.account_number, "kind": link.kind,
            "value": link.value, "valid_from": link.valid_from.isoformat(),
            "valid_to": link.valid_to.isoformat() if link.valid_to else None,
            "origin": link.origin}


def _gated(args: argparse.Namespace, action: str, subject: str, work: Any) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.access.gate import access
    from cpniguard.connectivity.links import BadLink
    from cpniguard.connectivity.question import Usage
    from cpniguard.policy import Action

    try:
        with access(Actor.for_os_user(), Action(action), resource="connectivity:links",
                    purpose=args.purpose, reference=args.reference, subject=subject,
                    categories={"services"}, required={"services"}) as permit:
            printed = work()
            permit.touched(["identity_link.kind", "identity_link.value",
                            "identity_link.valid_from", "identity_link.valid_to"])
    except AccessRefused as refused:
        print(f"refused: {refused.decision.reason} (rule {refused.decision.rule})",
              file=sys.stderr)
        return EXIT_REFUSED
    except (BadLink, Usage, LookupError) as error:
        return _usage(str(error))
    if printed is not None:
        print(printed)
    return 0


def _new_link(account: str, kind: str, value: str, start_text: str, end_text: str,
              where: str) -> Any:
    from cpniguard.connectivity.links import BadLink, normalize
    from cpniguard.connectivity.models import IdentityLink
    from cpniguard.connectivity.question import parse_instant
    from cpniguard.subscribers.models import Subscriber

    subscriber = Subscriber.objects.filter(account_number=account.strip()).first()
    if subscriber is None:
        raise BadLink(f"{where}no subscriber with account {account!r}")
    start: datetime = parse_instant(start_text)
    end = parse_instant(end_text) if end_text.strip() else None
    if end is not None and end <= start:
        raise BadLink(f"{where}valid_to {end.isoformat()} is not after valid_from")
    try:
        normalized = normalize(kind.strip(), value)
    except BadLink as error:
        raise BadLink(f"{where}{error}") from None
    return IdentityLink(subscriber=subscriber, kind=kind.strip(), value=normalized,
                        valid_from=start, valid_to=end)


def _add(args: argparse.Namespace) -> int:
    def work() -> str:
        link = _new_link(args.account, args.kind, args.value, args.valid_from,
                         args.valid_to or "", "")
        link.save()
        return f"link {link.pk}: {link.kind} {link.value} -> account {args.account} from " \
               f"{link.valid_from.isoformat()} to {link.valid_to or 'open'} (UTC)"
    return _gated(args, "change", f"subscriber-account:{args.account}", work)


def _import(args: argparse.Namespace) -> int:
    from cpniguard.connectivity.links import BadLink

    path = Path(args.file)

    def work() -> str:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if set(COLUMNS[:4]) - set(reader.fieldnames or ()):
                raise BadLink(f"{path}: header must be {','.join(COLUMNS)}")
            links, errors = [], []
            for row in reader:
                try:
                    links.append(_new_link(row["account"] or "", row["kind"] or "",
                                           row["value"] or "", row["valid_from"] or "",
                                           row.get("valid_to") or "",
                                           f"{path}:{reader.line_num}: "))
                except (BadLink, ValueError) as error:
                    errors.append(str(error))
        if errors:
            raise BadLink("nothing imported:\n" + "\n".join(errors))
        for link in links:
            link.save()
        return f"imported {len(links)} links from {path}"
    if not path.is_file():
        return _usage(f"no such file: {path}")
    return _gated(args, "import", f"identity-links:{path.name}", work)


def _sync(args: argparse.Namespace) -> int:
    from cpniguard.connectivity.clock import zone
    from cpniguard.connectivity.links_sync import sync_derived_links

    zone(args.zone)  # an unknown zone is a usage error before anything is decided

    def work() -> str:
        report = sync_derived_links(args.zone)
        return (f"links opened {report.opened}, updated {report.updated}, closed "
                f"{report.closed}, unchanged {report.unchanged}")
    return _gated(args, "change", "identity-links:derived", work)


def _list(args: argparse.Namespace) -> int:
    from cpniguard.connectivity.models import IdentityLink

    def work() -> str:
        rows = IdentityLink.objects.select_related("subscriber").order_by("pk")
        if args.account:
            rows = rows.filter(subscriber__account_number=args.account)
        found = [_row(link) for link in rows[: args.limit]]
        if args.json:
            return json.dumps(found)
        return "\n".join(f"{r['id']:>6} {r['account']:<12} {r['kind']:<10} {r['value']:<40} "
                         f"{r['valid_from']} .. {r['valid_to'] or 'open'} ({r['origin']})"
                         for r in found) or "(no links)"
    subject = f"subscriber-account:{args.account}" if args.account else "identity-links"
    return _gated(args, "read", subject, work)


def register(commands: Any) -> None:
    parser = commands.add_parser("links", help="dated links from network identities to "
                                 "subscribers (RADIUS user, MAC, client-id, static IP)")
    sub = parser.add_subparsers(dest="links_command", required=True)

    def common(p: argparse.ArgumentParser, purpose: str) -> None:
        p.add_argument("--purpose", default=purpose, help=f"default {purpose}")
        p.add_argument("--reference", help="ticket or legal case reference")

    add = sub.add_parser("add", help="link one identity to a subscriber over an interval")
    add.add_argument("--account", required=True)
    add.add_argument("--kind", required=True, choices=("username", "mac", "client_id", "duid",
                                                       "circuit_id", "remote_id", "static_ip"))
    add.add_argument("--value", required=True)
    add.add_argument("--from", dest="valid_from", required=True, metavar="INSTANT",
                     help="with an offset or a zone name")
    add.add_argument("--to", dest="valid_to", metavar="INSTANT", help="omit: still valid")
    common(add, "provide_service")
    add.set_defaults(func=_add)
    imp = sub.add_parser("import", help=f"CSV with header {','.join(COLUMNS)}; all or nothing")
    imp.add_argument("file")
    common(imp, "provide_service")
    imp.set_defaults(func=_import)
    sync = sub.add_parser("sync", help="derive links from static_ip services and equipment")
    sync.add_argument("--zone", required=True, help="the zone service dates are written in")
    common(sync, "provide_service")
    sync.set_defaults(func=_sync)
    show = sub.add_parser("list", help="list links")
    show.add_argument("--account")
    show.add_argument("--limit", type=int, default=1000)
    show.add_argument("--json", action="store_true")
    common(show, "provide_service")
    show.set_defaults(func=_list)
