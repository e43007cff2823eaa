"""`cpniguard quality report` (a NOC shift handover) and `cpniguard quality subscriber`.

Both go through `quality.services`, so the audit entry and the refusal are the ones the web
pages give. Exit codes: 0 shown, 2 bad usage, 3 refused by the policy, 4 no such subscriber.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from cpniguard.connectivity.question import Usage
from cpniguard.quality.cli_errors import exit_for

INSTANT_HELP = ("with an offset (2026-11-28T06:00:00-05:00) or a zone "
                "('2026-11-28 06:00 America/New_York'); UTC is printed back")


def _n(value: Any, k: int) -> str:
    return f"< {k}" if value is None else str(value)


def print_report(report: dict[str, Any], out: IO[str]) -> None:
    k = report["k"]
    print(f"Network report {report['since']} .. {report['until']} (UTC)"
          + (f", device {report['device']}" if report["device"] else "")
          + (f", POP {report['pop']}" if report.get("pop") else ""), file=out)
    print(f"Figures covering fewer than {k} subscribers are shown as '< {k}'.", file=out)
    for title, key in (("device", "devices"), ("POP", "pops"), ("access device", "access_devices")):
        if not report.get(key):
            continue
        print(f"\nSessions per {title}:", file=out)
        for view in report[key]:
            ends = ", ".join(f"{kind} {_n(n, k)}" for kind, n in view["ends"].items())
            print(f"  {view['device']:<22} {view['source']:<14} sessions "
                  f"{_n(view['sessions'], k)}, subscribers {_n(view['subscribers'], k)}, "
                  f"peak active {_n(view['peak_active'], k)}; ended: {ends}", file=out)
    rule = report["outage_rule"]
    print(f"\nIncidents (>= {rule['min_sessions']} sessions and >= "
          f"{rule['min_share']:.0%} of a device's active sessions ending within "
          f"{rule['window_seconds']} s): {len(report['incidents'])}", file=out)
    for incident in report["incidents"]:
        share = "< k" if incident["share"] is None else f"{incident['share']:.0%}"
        where = (f"POP {incident['group']} ({', '.join(incident['devices'])})"
                 if incident["level"] == "pop" else incident["group"])
        print(f"  {incident['start']} .. {incident['end']}  {where}: "
              f"{incident['cause']}, {_n(incident['sessions'], k)} "
              f"sessions of {_n(incident['active_before'], k)} ({share}), "
              f"{_n(incident['subscribers'], k)} subscribers, "
              f"{_n(incident['reconnected'], k)} back within 15 min", file=out)
        for item in incident["evidence"][:2]:
            where = f"{item['file']}:{item['line']}" if "line" in item else item["file"]
            print(f"    evidence: {where} sha256 {item['sha256']}", file=out)
    warned = [p for p in report["pools"] if p["warning"]]
    print(f"\nPools near exhaustion: {len(warned)} of {len(report['pools'])} declared",
          file=out)
    for pool in report["pools"]:
        share = "< k" if pool["peak_share"] is None else f"{pool['peak_share']:.0%}"
        mark = "WARNING " if pool["warning"] else ""
        print(f"  {mark}{pool['pool']}: peak {_n(pool['peak_in_use'], k)} of "
              f"{pool['capacity']} addresses ({share}; warns at {pool['warn_at']:.0%})",
              file=out)
    blocks = report["port_blocks"]
    if blocks["addresses"]:
        print(f"\nCGNAT port blocks: {blocks['addresses']} public addresses, "
              f"{blocks['warnings']} at or above {blocks['warn_at']:.0%} of their blocks",
              file=out)
    for pool in blocks.get("pools", []):
        print(f"  CGNAT pool {pool['pool']}: peak {_n(pool['peak_blocks'], k)} of "
              f"{pool['capacity_blocks']} port blocks"
              + (" WARNING near exhaustion" if pool["warning"] else ""), file=out)
    print("\nTop disconnect devices:", file=out)
    for row in report["top_disconnect_devices"]:
        hidden = " (some counts suppressed)" if row["some_suppressed"] else ""
        print(f"  {row['device']:<22} {row['ends']} ends{hidden}", file=out)
    speed = report.get("speed_tests")
    if speed:
        print(f"\nSpeed tests: {_n(speed['subscribers'], k)} subscribers tested; median share "
              f"of the plan delivered: download {_share(speed['median_down_share'])}, upload "
              f"{_share(speed['median_up_share'])}", file=out)
        print("  subscribers by share (down / up): " + ", ".join(
            f"{name} {_n(d, k)}/{_n(u, k)}"
            for name, d, u in zip(speed["bins"], speed["down"], speed["up"], strict=True)),
            file=out)
    print_causes_and_usage(report, out)


def print_causes_and_usage(report: dict[str, Any], out: IO[str]) -> None:
    k = report["k"]
    print("\nDisconnects by cause, and usage (MB in / out):", file=out)
    for view in report["devices"]:
        causes = ", ".join(f"{name} {_n(n, k)}" for name, n in view.get("causes", {}).items())
        usage = view.get("usage", {})
        print(f"  {view['device']:<22} {causes or 'none ended'}; usage "
              f"{_mb(usage.get('octets_in'), k)} / {_mb(usage.get('octets_out'), k)}", file=out)


def _mb(octets: int | None, k: int) -> str:
    return f"< {k}" if octets is None else f"{octets / 1e6:,.1f}"


def print_health(view: dict[str, Any], out: IO[str]) -> None:
    person = view["subscriber"]
    print(f"Connection health of account {person['account_number']} "
          f"{view['since']} .. {view['until']} (UTC)", file=out)
    print(f"verdict: {view['verdict']}", file=out)
    for finding in view["findings"]:
        print(f"  {finding['verdict']}: [{finding['rule']}] {finding['text']} "
              f"({_behind(finding)})", file=out)
    lengths = view["lengths"]
    print(f"sessions: {len(view['sessions'])}; ended {lengths['ended']}, median length "
          f"{lengths['median_seconds']} s; ends: {view['ends']}", file=out)
    print("per day: " + ", ".join(f"{d['day']} {d['sessions']}"
                                  for d in view["sessions_per_day"]), file=out)
    for address in view["addresses"]:
        print(f"address {address['address']}: {address['first']} .. {address['last']} "
              f"({address['sessions']} sessions)", file=out)
    for number, session in enumerate(view["sessions"], start=1):
        flags = f" [{', '.join(session['flags'])}]" if session["flags"] else ""
        print(f"  {number:>3}. {session['start']} .. {session['finish']} "
              f"{session['seconds']:>7} s {session['end']:<11} {session['device']} "
              f"{' '.join(session['addresses'])}{flags}", file=out)
    print_speed_tests(view["speed_tests"], out)
    usage = view["usage"]
    print("disconnect causes: " + (", ".join(f"{name} {n}" for name, n in
                                             view["disconnect_causes"].items()) or "none"),
          file=out)
    print(f"usage: {usage['octets_in'] / 1e6:,.1f} MB in, {usage['octets_out'] / 1e6:,.1f} MB "
          f"out ({usage['sessions_with_counters']} sessions with counters)", file=out)
    for name, why in view["not_recorded"].items():
        print(f"not recorded: {name.replace('_', ' ')}: {why}", file=out)


def _behind(finding: dict[str, Any]) -> str:
    parts = []
    if finding["sessions"]:
        parts.append("sessions " + ", ".join(str(n + 1) for n in finding["sessions"][:12]))
    if finding.get("speed_tests"):
        parts.append("speed tests " + ", ".join(f"T{n + 1}"
                                                for n in finding["speed_tests"][:12]))
    return "; ".join(parts)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_speed_tests(speed: dict[str, Any], out: IO[str]) -> None:
    tests = speed["tests"]
    print(f"speed tests: {len(tests)}" + ("" if speed["plan_shown"] else
          " (plan not shown: the purpose does not cover services)")
          + (f"; median download {_share(speed['median_down_share'])}, upload "
             f"{_share(speed['median_up_share'])} of the plan" if speed["plan_shown"] else ""),
          file=out)
    for number, test in enumerate(tests, start=1):
        plan = test.get("plan")
        against = (f" vs {plan['name']} {plan['down_mbps']}/{plan['up_mbps']} Mbps: "
                   f"down {_share(test['down_share'])}, up {_share(test['up_share'])}"
                   if plan else " (no broadband plan that day)" if speed["plan_shown"] else "")
        where = test["evidence"]
        figures = {k: "-" if test[k] is None else test[k]
                   for k in ("down_mbps", "up_mbps", "latency_ms")}
        print(f"  T{number}. {test['measured_at']} down {figures['down_mbps']} up "
              f"{figures['up_mbps']} Mbps, latency {figures['latency_ms']} ms, {test['method']} "
              f"{test['server']}{against} [{where['file']}:{where['line']}]", file=out)


def _run(args: argparse.Namespace) -> int:
    from cpniguard.access import AccessRefused, Actor
    from cpniguard.access.gate import SubjectNotFound
    from cpniguard.quality.services import network_report, subscriber_health

    try:
        if args.action == "report":
            result = network_report(Actor.for_os_user(), since=args.since, until=args.until,
                                    device=args.device, pop=args.pop,
                                    resolution=args.resolution,
                                    purpose=args.purpose, reference=args.reference)
        else:
            result = subscriber_health(Actor.for_os_user(), args.account,
                                       purpose=args.purpose, reference=args.reference,
                                       since=args.since, until=args.until)
    except (Usage, SubjectNotFound, AccessRefused) as error:
        return exit_for(f"quality {args.action}", error, args.json)
    if args.json:
        print(json.dumps(result))
    elif args.action == "report":
        print_report(result, sys.stdout)
    else:
        print_health(result, sys.stdout)
    return 0


def register(commands: Any) -> None:
    quality = commands.add_parser(
        "quality", help="service-quality figures for technical staff",
        description="Network figures (sessions, outages, pool and port-block capacity) and "
        "one subscriber's connection health, from the connectivity logs. Audited; figures "
        "covering fewer than the policy's k subscribers are suppressed outside one "
        "subscriber's troubleshooting view.")
    actions = quality.add_subparsers(dest="action", metavar="ACTION", required=True)
    report = actions.add_parser("report", help="a text summary for a NOC shift handover")
    report.add_argument("--since", required=True, metavar="INSTANT", help=INSTANT_HELP)
    report.add_argument("--until", metavar="INSTANT", help="default: now")
    report.add_argument("--device", help="one NAS, DHCP server or CGNAT box")
    report.add_argument("--pop", help="one POP of network.toml (its devices together)")
    report.add_argument("--resolution", choices=("1m", "5m", "15m", "1h", "1d"),
                        help="bucket size of the series (default: from the range)")
    report.add_argument("--purpose", default="network_quality",
                        help="declared purpose (default network_quality)")
    report.add_argument("--reference", help="ticket reference, if the purpose needs one")
    health = actions.add_parser("subscriber", help="one subscriber's connection health")
    health.add_argument("account", metavar="ACCOUNT", help="account number, e.g. A1000313")
    health.add_argument("--purpose", required=True)
    health.add_argument("--reference", help="ticket reference (TKT-...)")
    health.add_argument("--since", metavar="INSTANT", help=f"{INSTANT_HELP}; default: "
                        "seven days before --until")
    health.add_argument("--until", metavar="INSTANT", help="default: now")
    for parser in (report, health):
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.set_defaults(func=_run)
    from cpniguard.quality.speedtest_commands import add_speedtest

    add_speedtest(actions)
