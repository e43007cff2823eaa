"""`cpniguard legal ...`: the legal desk for the custodian's scripts.

    cpniguard legal import FILE.json [--attach FILE ...] [--json]
    cpniguard legal list [--status S] [--json]
    cpniguard legal show LR-2026-0001 [--json]
    cpniguard legal transition LR-2026-0001 --to validating [--note TEXT]
    cpniguard legal approve LR-2026-0001 [--note TEXT]
    cpniguard legal narrow LR-2026-0001 --categories name,service_address [--note TEXT]
    cpniguard legal withdraw LR-2026-0001 [--note TEXT]
    cpniguard legal validate LR-2026-0001
    cpniguard legal produce | deliver | letter | preserve | disclosures | transparency
      (see `cpniguard legal produce --help`)
    cpniguard legal notices [--due] | notice-send LR-... | --all-due  (customer notices)

Each acts as the staff member linked to the operating-system user, through the same services
(and so the same policy decisions and audit entries) as the API. Exit codes: 0 done, 1 the
step is not possible now (the reason is printed), 2 unreadable input, 3 refused by the
policy, 4 no such request.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cpniguard.legal.status import Status

EXIT_NOT_NOW, EXIT_UNREADABLE, EXIT_REFUSED, EXIT_NOT_FOUND = 1, 2, 3, 4


def _fail(message: str, code: int, as_json: bool, **extra: Any) -> int:
    print(f"cpniguard legal: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, **extra}))
    return code


def _guarded(args: argparse.Namespace, work: Callable[[], Any],
             show: Callable[[Any], None]) -> int:
    from cpniguard.access import AccessRefused
    from cpniguard.access.gate import SubjectNotFound
    from cpniguard.legal.attachments import AttachmentDamaged
    from cpniguard.legal.intake import BadRequestFile
    from cpniguard.legal.status import BadTransition

    as_json = bool(getattr(args, "json", False))
    try:
        result = work()
    except AccessRefused as refused:
        decision = refused.decision
        code = EXIT_NOT_NOW if decision.rule.startswith("deny:legal-workflow") else EXIT_REFUSED
        return _fail(f"refused: {decision.reason} (rule {decision.rule})", code, as_json,
                     rule=decision.rule)
    except SubjectNotFound as missing:
        return _fail(str(missing), EXIT_NOT_FOUND, as_json)
    except BadTransition as trouble:
        return _fail(str(trouble), EXIT_NOT_NOW, as_json)
    except (BadRequestFile, OSError, ValueError) as trouble:
        return _fail(str(trouble), EXIT_UNREADABLE, as_json)
    except AttachmentDamaged as damaged:  # a kept file was altered: stop and say so
        return _fail(str(damaged), EXIT_UNREADABLE, as_json)
    if as_json:
        print(json.dumps(result))
    else:
        show(result)
    return 0


def _import(args: argparse.Namespace) -> int:
    from cpniguard.access import Actor
    from cpniguard.legal.intake import BadRequestFile, Incoming, take_in

    def work() -> dict[str, Any]:
        path = Path(args.file)
        raw = path.read_bytes()
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as trouble:
            raise BadRequestFile(f"{path}: not a JSON document: {trouble}") from None
        # The request file itself is kept too, byte for byte, as the first attachment.
        files = [Incoming(path.name, raw, "application/json")]
        files += [Incoming(Path(name).name, Path(name).read_bytes()) for name in args.attach]
        return take_in(Actor.for_os_user(), document, files)

    return _guarded(args, work, print_request)


def _list(args: argparse.Namespace) -> int:
    from cpniguard.access import Actor
    from cpniguard.legal.desk import list_requests

    return _guarded(args, lambda: list_requests(Actor.for_os_user(), status=args.status),
                    print_list)


def _show(args: argparse.Namespace) -> int:
    from cpniguard.access import Actor
    from cpniguard.legal.desk import show_request

    return _guarded(args, lambda: show_request(Actor.for_os_user(), args.reference),
                    print_request)


def _workflow(operation: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from cpniguard.access import Actor
        from cpniguard.legal import workflow

        actor = Actor.for_os_user()
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "transition": lambda: workflow.transition(actor, args.reference, args.to,
                                                      args.note),
            "approve": lambda: workflow.approve(actor, args.reference, args.note),
            "narrow": lambda: workflow.narrow(actor, args.reference,
                                              args.categories.split(","), args.note),
            "withdraw": lambda: workflow.withdraw(actor, args.reference, args.note),
            "validate": lambda: workflow.validate_again(actor, args.reference),
        }
        return _guarded(args, steps[operation], print_request)

    return run


def print_list(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no legal requests")
        return
    print(f"{'reference':<14} {'status':<11} {'due':<11} {'left':>5}  {'findings':<9} kind")
    for row in rows:
        left = "" if row["days_left"] is None else str(row["days_left"])
        flag = "  OVERDUE" if row["overdue"] else ""
        found = f"{row['errors']}E {row['warnings']}W"
        print(f"{row['reference']:<14} {row['status']:<11} {row['response_due'] or '-':<11} "
              f"{left:>5}  {found:<9} {row['kind_label']}{flag}")


def print_request(view: dict[str, Any]) -> None:
    due = view["response_due"] or "no due date"
    left = "" if view["days_left"] is None else f", {view['days_left']} days left"
    print(f"{view['reference']}  {view['kind_label'] or view['kind']}  [{view['status']}]  "
          f"due {due}{left}{'  OVERDUE' if view['overdue'] else ''}")
    agent = view["agent"]
    for label, value in (("statute", view["statute"]), ("authority", view["issuing_authority"]),
                         ("court", view["court"]), ("case", view["case_number"]),
                         ("agent", f"{agent['name']} <{agent['contact']}>"
                          + (f" (verified: {agent['verified_by']})" if agent["verified_by"]
                             else "")),
                         ("addressed to", view["addressed_to"]), ("signed", view["signed"]),
                         ("issued", view["issued"]),
                         ("served", view["served_at"] or view["served_on"]),
                         ("categories asked", ", ".join(view["categories"])),
                         ("answer scope", ", ".join(view["answer_scope"]) or "nothing"),
                         ("date range (UTC)", f"{view['date_range']['from']} .. "
                          f"{view['date_range']['to']}")):
        print(f"  {label}: {value if value not in (None, '') else '-'}")
    for number, target in enumerate(view["targets"], start=1):
        at = f" at {target['at_given']} = {target['instant_utc'] or '?'} UTC" \
            if target["at_given"] else ""
        print(f"  target {number}: {target['kind']} {target['given']!r} -> "
              f"{target['value'] or '(unreadable)'}{at}")
    for attachment in view["attachments"]:
        print(f"  attachment: {attachment['name']} ({attachment['size']} bytes, "
              f"{attachment['content_type']}) sha256 {attachment['sha256']}")
    for finding in view["findings"]:
        print(f"  {finding['severity'].upper():<7} {finding['code']}: {finding['message']}")
    for approval in view["approvals"]:
        print(f"  approved by {approval['who']} ({approval['role']}) at {approval['when']}")
    for step in view["transitions"]:
        print(f"  {step['when']} {step['from'] or 'new'} -> {step['to']} by {step['who']}"
              + (f": {step['note']}" if step["note"] else ""))


def register(commands: Any) -> None:
    legal = commands.add_parser("legal", help="the legal process desk: intake, validation, "
                                "workflow of legal requests")
    sub = legal.add_subparsers(metavar="ACTION", required=True)
    statuses = [str(s) for s in Status]

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            reference: bool = True) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        if reference:
            parser.add_argument("reference", metavar="LR-YYYY-NNNN")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.set_defaults(func=func)
        return parser  # type: ignore[no-any-return]  # add_parser is untyped on `commands`

    take = add("import", _import, "take in a request file (JSON, see docs/legal-desk.md)",
               reference=False)
    take.add_argument("file", metavar="FILE.json")
    take.add_argument("--attach", action="append", default=[], metavar="FILE",
                      help="a file that came with it (kept by SHA-256, never altered)")
    listing = add("list", _list, "list requests with due dates; overdue first",
                  reference=False)
    listing.add_argument("--status", choices=statuses)
    add("show", _show, "one request: what was given, understood, found, done")
    move = add("transition", _workflow("transition"), "move a request to another status")
    move.add_argument("--to", required=True, choices=statuses)
    move.add_argument("--note", default="", help="why (required for a rejection)")
    for name, text in (("approve", "approve (custodian and counsel, two people)"),
                       ("withdraw", "the requester withdrew it")):
        add(name, _workflow(name), text).add_argument("--note", default="")
    narrowing = add("narrow", _workflow("narrow"), "answer only some of the categories asked")
    narrowing.add_argument("--categories", required=True, metavar="A,B,...")
    narrowing.add_argument("--note", default="")
    add("validate", _workflow("validate"), "run the validation again")
    from cpniguard.legal.answer_commands import register_answers
    from cpniguard.legal.notice_commands import register_notices

    register_answers(sub)
    register_notices(sub)
