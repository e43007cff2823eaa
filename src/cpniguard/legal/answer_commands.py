"""`cpniguard legal ...`: answering requests, for the custodian's scripts.

    cpniguard legal produce LR-2026-0001 [--json]
    cpniguard legal deliver LR-2026-0001 --to "Investigator Sam Example" --how "portal upload"
    cpniguard legal letter LR-2026-0001 [--out FILE.pdf]
    cpniguard legal preserve LR-2026-0007 [--renew] [--json]
    cpniguard legal disclosures --from 2026-01-01 --to 2026-12-31 [--json]
    cpniguard legal transparency --from 2026-01-01 --to 2026-06-30 [--csv | --json]

Same services, policy decisions and audit entries as the API and the pages; exit codes as
the other `legal` commands (0 done, 1 not possible now, 2 unreadable input, 3 refused by the
policy, 4 no such request). Dates are calendar days, whole UTC days, both ends included.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from cpniguard.legal.commands import _guarded


def _actor() -> Any:
    from cpniguard.access import Actor

    return Actor.for_os_user()


def _print_production(view: dict[str, Any]) -> None:
    made = view["production"]
    print(f"{view['reference']}  [{view['status']}]")
    if made is None:
        return
    for answer in made["answers"]:
        note = f": {answer['note']}" if answer["note"] else ""
        print(f"  target {answer['target']}: {answer['status']}{note}")
    print(f"  {made['rows']} rows for {made['accounts']} account(s); categories "
          f"{', '.join(made['categories']) or 'none'}")
    print(f"  package {made['directory']}")
    for name, digest in sorted(made["files"].items()):
        print(f"    {name}  sha256 {digest}")
    print(f"  manifest sha256 {made['manifest_sha256']}")
    if made["delivered"]:
        print(f"  delivered {made['delivered']} to {made['delivered_to']} by "
              f"{made['delivered_how']}")


def _produce(args: argparse.Namespace) -> int:
    from cpniguard.legal.production import produce

    return _guarded(args, lambda: produce(_actor(), args.reference), _print_production)


def _deliver(args: argparse.Namespace) -> int:
    from cpniguard.legal.production import deliver

    return _guarded(args, lambda: deliver(_actor(), args.reference, to=args.to, how=args.how,
                                          note=args.note), _print_production)


def _letter(args: argparse.Namespace) -> int:
    from cpniguard.legal.letters import letter_for

    def work() -> dict[str, Any]:
        name, pdf = letter_for(_actor(), args.reference)
        out = Path(args.out or name)
        out.write_bytes(pdf)
        return {"letter": str(out), "bytes": len(pdf)}

    return _guarded(args, work, lambda r: print(f"wrote {r['letter']} ({r['bytes']} bytes)"))


def _preserve(args: argparse.Namespace) -> int:
    from cpniguard.legal.preservation import preserve, renew

    def show(view: dict[str, Any]) -> None:
        kept = view["preservation"]
        print(f"{view['reference']}: {len(kept['holds'])} legal hold(s) until "
              f"{kept['expires']}, renewed {kept['renewals']} time(s)")
        for item in kept["unheld"]:
            print(f"  target {item['target']}: nothing held ({item['why']})")

    step = renew if args.renew else preserve
    return _guarded(args, lambda: step(_actor(), args.reference), show)


def _days(args: argparse.Namespace) -> tuple[date, date]:
    return date.fromisoformat(args.start), date.fromisoformat(args.end)


def _disclosures(args: argparse.Namespace) -> int:
    from cpniguard.legal.disclosures import disclosure_log

    def show(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            print(f"{row['when']}  {row['reference']}  {row['kind']}  {row['outcome']}  "
                  f"{row['rows']} rows, {row['accounts']} account(s)"
                  + (f"  to {row['delivered_to']}" if row["delivered_to"] else "")
                  + (f"  package {row['package_sha256']}" if row["package_sha256"] else ""))
        print(f"{len(rows)} entries")

    return _guarded(args, lambda: disclosure_log(_actor(), *_days(args)), show)


def _transparency(args: argparse.Namespace) -> int:
    from cpniguard.legal.transparency import OUTCOMES, as_csv, report

    def show(result: dict[str, Any]) -> None:
        if args.csv:
            sys.stdout.write(as_csv(result))
            return
        labels = result["outcome_labels"]
        print(f"Legal process answered {result['period']['from']} .. {result['period']['to']}")
        for kind in result["kinds"]:
            counts = ", ".join(f"{labels[o]} {kind['outcomes'][o]}" for o in OUTCOMES)
            print(f"  {kind['label']}: {kind['requests']} ({counts}); "
                  f"{kind['accounts']} account(s)")
        for kind in result["banded"]:
            print(f"  {kind['label']}: {kind['requests']} (accounts {kind['accounts']})")
        totals = result["totals"]
        print(f"  total: {totals['requests']}; {totals['accounts']} account(s)")

    return _guarded(args, lambda: report(_actor(), *_days(args)), show)


def register_answers(sub: Any) -> None:
    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            reference: bool = True) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        if reference:
            parser.add_argument("reference", metavar="LR-YYYY-NNNN")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.set_defaults(func=func)
        return parser  # type: ignore[no-any-return]  # add_parser is untyped on `sub`

    add("produce", _produce, "run the scoped queries and seal the package (approved only)")
    delivery = add("deliver", _deliver, "record the delivery of a sealed package")
    delivery.add_argument("--to", required=True, help="to whom")
    delivery.add_argument("--how", required=True, help="how (portal, encrypted email, ...)")
    delivery.add_argument("--note", default="")
    add("letter", _letter, "write the rejection or partial-compliance letter (PDF)") \
        .add_argument("--out", metavar="FILE.pdf")
    add("preserve", _preserve, "place the legal holds of a preservation letter") \
        .add_argument("--renew", action="store_true", help="renew them (as the policy allows)")
    for name, func, text in (("disclosures", _disclosures, "the disclosure log of a period"),
                             ("transparency", _transparency, "the transparency report")):
        parser = add(name, func, text, reference=False)
        parser.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD")
        if name == "transparency":
            parser.add_argument("--csv", action="store_true", help="write CSV")
