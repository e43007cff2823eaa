"""`cpniguard attribute ADDRESS[:PORT] --at INSTANT --purpose P`: who held an address when.

The instant must say which instant it is: an offset or an IANA zone name. A bare local time
is refused, and so is a zone-named time that falls in a fall-back repeat or a spring-forward
gap, because either would make the engine answer for an instant nobody asked about.

Every answer, and every refusal, goes through the access gate and is audited. The audit entry
names the status only; the address and instant stay out of its free-text fields.

Exit codes: 0 answered (whatever the status), 2 bad usage, 3 refused by the policy.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cpniguard.connectivity.attribution import Answer, Candidate, attribute
from cpniguard.connectivity.clock import UnknownZone, local_to_utc, zone

EXIT_USAGE, EXIT_REFUSED = 2, 3
DEFAULT_SKEW = 2.0
FIELDS = ("address", "port", "instant", "status", "holder", "interval", "evidence")


class Usage(ValueError):
    pass


def parse_target(text: str) -> tuple[str, int | None]:
    """`192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]:443` → (address, port)."""
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise Usage(f"bad address {text!r}; IPv6 with a port is [2001:db8::1]:443")
        port_text = rest[1:]
        if rest and not port_text:
            raise Usage(f"empty port in {text!r}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise Usage(f"not an IP address: {host!r}") from None
    if not port_text:
        return str(address), None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise Usage(f"bad port {port_text!r}")
    return str(address), int(port_text)


def parse_instant(text: str) -> datetime:
    """An aware instant from ISO 8601 with an offset, or `DATE TIME Zone/Name`."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is not None:
        if moment.tzinfo is None:
            raise Usage(f"{text!r} has no offset or zone; write e.g. 2017-03-29T14:05:03-07:00 "
                        "or '2017-03-29 14:05:03 America/Los_Angeles'")
        return moment
    local, _, zone_name = text.rpartition(" ")
    try:
        naive = datetime.fromisoformat(local.strip())
        zone(zone_name)
    except UnknownZone as error:
        raise Usage(str(error)) from None
    except ValueError:
        raise Usage(f"cannot read the instant {text!r}") from None
    if naive.tzinfo is not None:
        raise Usage(f"{text!r} gives both an offset and a zone; give one")
    moment, flags = local_to_utc(naive, zone_name)
    if flags:
        raise Usage(f"{local.strip()} in {zone_name} is {', '.join(sorted(flags))}: "
                    "it names no single instant; give the UTC offset instead")
    return moment


def _holder_text(candidate: Candidate) -> str:
    items = [f"{k}={v}" for k, v in candidate.to_dict()["holder"].items()]
    return " ".join(items) or "(no identity recorded)"


def _print(answer: Answer) -> None:
    print(f"instant (UTC): {answer.at.isoformat()}")
    port = f" port {answer.port}" if answer.port is not None else ""
    print(f"address: {answer.address}{port}")
    print(f"status: {answer.status}")
    print(f"reason: {answer.reason}")
    if answer.translation is not None:
        print(f"via CGNAT to {answer.inside_address}:")
        _print_candidate(answer.translation, "  ")
    for number, candidate in enumerate(answer.candidates, start=1):
        print(f"candidate {number}: {_holder_text(candidate)}")
        _print_candidate(candidate, "  ")


def _print_candidate(candidate: Candidate, indent: str) -> None:
    data = candidate.to_dict()
    interval = data["interval"]
    print(f"{indent}{candidate.source} {candidate.address}"
          + (f" ports {candidate.ports[0]}-{candidate.ports[1]}" if candidate.ports else "")
          + (f" via prefix {candidate.via_prefix}" if candidate.via_prefix else ""))
    print(f"{indent}interval: {interval['start']} .. {interval['end'] or 'open'}"
          + (f" (last seen {interval['last_seen']})" if interval["last_seen"] else "")
          + (f" flags: {', '.join(candidate.flags)}" if candidate.flags else ""))
    for evidence in candidate.evidence:
        print(f"{indent}evidence: {evidence.file}:{evidence.line} sha256 {evidence.sha256}")


def _usage(message: str) -> int:
    print(f"cpniguard attribute: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.access.gate import access
    from cpniguard.connectivity.store import EmbeddedLogStore
    from cpniguard.policy import Action

    try:
        address, port = parse_target(args.target)
        at = parse_instant(args.at)
    except Usage as error:
        return _usage(str(error))
    if args.skew < 0:
        return _usage("--skew must not be negative")
    if args.store:
        root = Path(args.store)
    else:
        from cpniguard.home import home

        root = home() / "logstore"
    try:
        # The subject is named once the status is known; nothing is read before the decision.
        with access(Actor.for_os_user(), Action.READ, resource="connectivity:attribution",
                    purpose=args.purpose, reference=args.reference, subject="attribution",
                    categories={"connectivity_logs"}) as permit:
            answer = attribute(EmbeddedLogStore(root), address, at, port=port,
                               skew=timedelta(seconds=args.skew))
            permit.about(f"attribution:{answer.status}")
            permit.touched(FIELDS)
    except AccessRefused as refused:
        decision = refused.decision
        print(f"refused: {decision.reason} (rule {decision.rule})", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": "refused", "reason": decision.reason,
                              "rule": decision.rule}))
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(answer.to_dict()))
    else:
        _print(answer)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "attribute", help="who held an IP address (and port) at an instant",
        description="Answers match only for one unambiguous holder; otherwise ambiguous with "
        "every candidate and the reason, no_match, or port_required for a shared CGNAT "
        "address given without a port. Exit codes: 0 answered, 2 bad usage, 3 refused.")
    parser.add_argument("target", metavar="ADDRESS[:PORT]",
                        help="192.0.2.10, 192.0.2.10:443, 2001:db8::1 or [2001:db8::1]:443")
    parser.add_argument("--at", required=True, metavar="INSTANT",
                        help="with an offset (2017-03-29T14:05:03-07:00) or a zone "
                        "('2017-03-29 14:05:03 America/Los_Angeles'); UTC is printed back")
    parser.add_argument("--purpose", required=True)
    parser.add_argument("--reference", help="ticket or legal case reference")
    parser.add_argument("--skew", type=float, default=DEFAULT_SKEW, metavar="SECONDS",
                        help=f"clock tolerance around the instant (default {DEFAULT_SKEW:g})")
    parser.add_argument("--store", metavar="DIR",
                        help="log store directory (default $CPNIGUARD_HOME/logstore)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.set_defaults(func=_run)
