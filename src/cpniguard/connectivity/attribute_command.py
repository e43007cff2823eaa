"""`cpniguard attribute ADDRESS[:PORT] --at INSTANT --purpose P`: who held an address when.

`cpniguard attribute --batch FILE.csv --purpose P` answers many at once: a CSV with a header
naming `address` and `at` columns (and optionally `port` and `id`, echoed back), written as
CSV (default), JSON lines or one JSON document. Every row is checked before anything is
asked; one bad row refuses the whole batch and each bad row is named.

Every answer, and every refusal, goes through the access gate and is audited (see
connectivity/answers.py). Exit codes: 0 answered (whatever the status), 2 bad usage,
3 refused by the policy.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import IO, Any

from cpniguard.connectivity.answers import DEFAULT_SKEW, Ask
from cpniguard.connectivity.question import Usage

EXIT_USAGE, EXIT_REFUSED = 2, 3
CSV_COLUMNS = ("id", "address", "port", "instant_utc", "status", "reason", "subscriber_id",
               "account_number", "name", "holder", "interval", "evidence")


def _holder_text(candidate: dict[str, Any]) -> str:
    items = [f"{k}={v}" for k, v in candidate["holder"].items()]
    return " ".join(items) or "(no identity recorded)"


def _subscriber_text(person: dict[str, Any] | None) -> str:
    if person is None:
        return "(unknown subscriber)"
    parts = [f"#{person['id']}"]
    for key in ("account_number", "name", "service_town"):
        parts.append(person.get(key) or f"[{key.replace('_', ' ')} masked]")
    return " ".join(parts)


def print_answer(result: dict[str, Any], out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    port = f" port {result['port']}" if result["port"] is not None else ""
    print(f"instant (UTC): {result['at']}", file=out)
    print(f"address: {result['address']}{port}", file=out)
    print(f"status: {result['status']}", file=out)
    print(f"reason: {result['reason']}", file=out)
    if result["subscriber"] is not None:
        print(f"subscriber: {_subscriber_text(result['subscriber'])}", file=out)
    if result["translation"] is not None:
        print(f"via CGNAT to {result['inside_address']}:", file=out)
        _print_candidate(result["translation"], "  ", out)
    for number, candidate in enumerate(result["candidates"], start=1):
        print(f"candidate {number}: {_holder_text(candidate)}", file=out)
        _print_candidate(candidate, "  ", out)
    for link in result["static_assignments"]:
        print(f"static assignment: {_subscriber_text(link['subscriber'])} from "
              f"{link['valid_from']} to {link['valid_to'] or 'now'} ({link['origin']})",
              file=out)


def _print_candidate(candidate: dict[str, Any], indent: str, out: IO[str]) -> None:
    interval, ports = candidate["interval"], candidate["ports"]
    print(f"{indent}{candidate['source']} {candidate['address']}"
          + (f" ports {ports[0]}-{ports[1]}" if ports else "")
          + (f" via prefix {candidate['via_prefix']}" if candidate["via_prefix"] else ""),
          file=out)
    print(f"{indent}interval: {interval['start']} .. {interval['end'] or 'open'}"
          + (f" (last seen {interval['last_seen']})" if interval["last_seen"] else "")
          + (f" flags: {', '.join(interval['flags'])}" if interval["flags"] else ""), file=out)
    for link in candidate.get("subscribers", []):
        print(f"{indent}linked by {link['kind']} to {_subscriber_text(link['subscriber'])}",
              file=out)
    for evidence in candidate["evidence"]:
        print(f"{indent}evidence: {evidence['file']}:{evidence['line']} "
              f"sha256 {evidence['sha256']}", file=out)


def read_batch(path: Path) -> list[Ask]:
    """`id,address,port,at` rows; `address` may carry the port itself (192.0.2.1:443)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # Excel writes a BOM
    except OSError as error:
        raise Usage(f"cannot read {path}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        names = set(reader.fieldnames or ())
        if not {"address", "at"} <= names:
            raise Usage(f"{path}: the header must name the columns address and at "
                        f"(and optionally port and id); found {sorted(names)}")
        asks = []
        for row in reader:
            target, port = (row.get("address") or "").strip(), (row.get("port") or "").strip()
            if port:
                target = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
            label = (row.get("id") or "").strip() or f"line {reader.line_num}"
            asks.append(Ask(target, row.get("at") or "", label))
    return asks


def _csv_row(result: dict[str, Any]) -> dict[str, Any]:
    person = result["subscriber"] or {}
    first = result["candidates"][0] if result["candidates"] else None
    return {
        "id": result.get("label", ""), "address": result["address"], "port": result["port"],
        "instant_utc": result["at"], "status": result["status"], "reason": result["reason"],
        "subscriber_id": person.get("id"), "account_number": person.get("account_number"),
        "name": person.get("name"),
        "holder": _holder_text(first) if first else "",
        "interval": (f"{first['interval']['start']}..{first['interval']['end'] or 'open'}"
                     if first else ""),
        "evidence": " ".join(f"{e['file']}:{e['line']}:{e['sha256']}"
                             for e in result["evidence_chain"]),
    }


def write_batch(results: list[dict[str, Any]], fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        json.dump(results, out)
        out.write("\n")
    elif fmt == "jsonl":
        for result in results:
            out.write(json.dumps(result) + "\n")
    else:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_csv_row(result) for result in results)


def _usage(message: str) -> int:
    print(f"cpniguard attribute: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.connectivity.answers import answer_batch, answer_one
    from cpniguard.connectivity.store_config import configured_store

    if (args.target is None) == (args.batch is None):
        return _usage("give either ADDRESS[:PORT] with --at, or --batch FILE.csv")
    if args.target is not None and not args.at:
        return _usage("--at INSTANT is required for a single address")
    try:
        store = configured_store(args.store) if args.store else None
    except Usage as error:  # a URL that cannot be parsed or reached: named without password
        return _usage(str(error))
    options = {"purpose": args.purpose, "reference": args.reference,
               "skew_seconds": args.skew, "store": store}
    try:
        if args.batch is not None:
            results = answer_batch(Actor.for_os_user(), read_batch(Path(args.batch)),
                                   **options)
        else:
            result = answer_one(Actor.for_os_user(), Ask(args.target, args.at), **options)
    except Usage as error:
        return _usage(str(error))
    except AccessRefused as refused:
        decision = refused.decision
        print(f"refused: {decision.reason} (rule {decision.rule})", file=sys.stderr)
        if args.json or args.format != "csv":
            print(json.dumps({"error": "refused", "reason": decision.reason,
                              "rule": decision.rule}))
        return EXIT_REFUSED
    if args.batch is not None:
        write_batch(results, "json" if args.json else args.format, sys.stdout)
    elif args.json:
        print(json.dumps(result))
    else:
        print_answer(result)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "attribute", help="who held an IP address (and port) at an instant",
        description="Answers match only for one unambiguous holder; otherwise ambiguous with "
        "every candidate and the reason, no_match, or port_required for a shared CGNAT "
        "address given without a port. The holder is linked to a subscriber through dated "
        "identity links, masked per purpose. Exit codes: 0 answered, 2 bad usage, 3 refused.")
    parser.add_argument("target", nargs="?", metavar="ADDRESS[:PORT]",
                        help="192.0.2.10, 192.0.2.10:443, 2001:db8::1 or [2001:db8::1]:443")
    parser.add_argument("--at", metavar="INSTANT",
                        help="with an offset (2017-03-29T14:05:03-07:00) or a zone "
                        "('2017-03-29 14:05:03 America/Los_Angeles'); UTC is printed back")
    parser.add_argument("--batch", metavar="FILE.csv",
                        help="answer every row of a CSV with columns address, at "
                        "(optional: port, id); one audit entry covers the batch")
    parser.add_argument("--format", choices=("csv", "jsonl", "json"), default="csv",
                        help="batch output format (default csv)")
    parser.add_argument("--purpose", required=True)
    parser.add_argument("--reference", help="ticket or legal case reference")
    parser.add_argument("--skew", type=float, default=DEFAULT_SKEW, metavar="SECONDS",
                        help=f"clock tolerance around the instant (default {DEFAULT_SKEW:g})")
    parser.add_argument("--store", metavar="DIR|URL",
                        help="log store: a directory, or clickhouse://user@host:8123/db "
                        "(default $CPNIGUARD_LOGSTORE, else $CPNIGUARD_HOME/logstore)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(func=_run)
