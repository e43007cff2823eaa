"""`cpniguard legal notices` and `cpniguard legal notice-send`: customer notices on the CLI.

    cpniguard legal notices [--due] [--json]          # the queue: held until / due / sent
    cpniguard legal notice-send LR-2026-0003 [--json] # identify if needed, send the due ones
    cpniguard legal notice-send --all-due [--json]    # every due notice of every request

Sending renders each letter (PDF), keeps it by SHA-256 and marks the notice sent; the
custodian mails the letters (their files are listed). Exit codes as the other `legal`
commands: 0 done, 1 nothing due or not possible now, 3 refused by the policy, 4 no such
request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from cpniguard.legal.commands import _guarded


def _actor() -> Any:
    from cpniguard.access import Actor

    return Actor.for_os_user()


def print_queue(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no customer notices")
        return
    print(f"{'reference':<14} {'notice':>6}  {'state':<12} {'held until':<20} {'sent':<26} "
          "object by")
    for row in rows:
        held = ("indefinitely" if row["held_indefinitely"] else row["held_until"] or "-")
        print(f"{row['reference']:<14} {row['notice'] or '-':>6}  {row['state']:<12} "
              f"{held:<20} {row['sent'] or '-':<26} {row['object_by'] or '-'}")


def print_sent(view: dict[str, Any]) -> None:
    if "error" in view:
        print(f"{view['reference']}: {view['error']}")
        return
    for notice in view["notices"]:
        line = f"{view['reference']} notice {notice['notice']}: {notice['state']}"
        if notice["state"] == "sent":
            line += f" {notice['sent']} by {notice['how']}"
            if notice["object_by"]:
                line += f"; may object through {notice['object_by']}"
        elif notice["reason"]:
            line += f" ({notice['reason']})"
        print(line)


def print_all(views: list[dict[str, Any]]) -> None:
    if not views:
        print("no customer notice is due")
    for view in views:
        print_sent(view)


def _notices(args: argparse.Namespace) -> int:
    from cpniguard.legal.notice_desk import queue

    return _guarded(args, lambda: queue(_actor(), due_only=args.due), print_queue)


def _send(args: argparse.Namespace) -> int:
    from cpniguard.legal.notice_desk import send, send_all_due

    if bool(args.reference) == bool(args.all_due):
        print("cpniguard legal notice-send: give one LR-YYYY-NNNN or --all-due",
              file=sys.stderr)
        return 2
    if args.all_due:
        return _guarded(args, lambda: send_all_due(_actor()), print_all)
    return _guarded(args, lambda: send(_actor(), args.reference), print_sent)


def register_notices(sub: Any) -> None:
    def add(name: str, func: Callable[[argparse.Namespace], int],
            help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.set_defaults(func=func)
        return parser  # type: ignore[no-any-return]  # add_parser is untyped on `sub`

    add("notices", _notices, "customer notices: held until an order expires, due, sent") \
        .add_argument("--due", action="store_true", help="only the notices due now")
    sending = add("notice-send", _send, "render and mark sent the due customer notices")
    sending.add_argument("reference", metavar="LR-YYYY-NNNN", nargs="?", default="")
    sending.add_argument("--all-due", action="store_true",
                         help="every due notice of every request")
