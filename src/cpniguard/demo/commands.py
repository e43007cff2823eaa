"""`cpniguard demo`: a working installation with a fictional ISP's customers, in one command.

It creates or upgrades the database, seeds it once (staff in every role and a few thousand
subscribers of "Example Rural Broadband", all invented) and serves the web UI on loopback.
Running it again serves the same data: it never reseeds by itself and never shows the
passwords again.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from django.db import transaction
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cpniguard.access import Actor, record_event
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry, Outcome
from cpniguard.connectivity.models import IdentityLink
from cpniguard.demo.seed import seed_demo
from cpniguard.demo.staff import print_credentials, roster
from cpniguard.policy import current_policy
from cpniguard.subscribers.models import Subscriber

SEED_EVENT = "demo:seed"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action.choices, dict):
            return action.choices
    return {}


def _has_command(group: str, action: str) -> bool:
    """Whether `cpniguard GROUP ACTION` exists: other domains add commands independently."""
    from cpniguard.cli import build_parser

    parser = _subcommands(build_parser()).get(group)
    return parser is not None and action in _subcommands(parser)


def _password_hint() -> str:
    if _has_command("staff", "reset-password"):
        return "set a new one with `cpniguard staff reset-password USERNAME`"
    return "they cannot be shown again; start over with `cpniguard demo --reseed`"


def _wipe_demo() -> bool:
    """Delete every subscriber and the demo's staff, only if the demo seeded this database.

    The audit trail is append-only and stays: it records the wipe and both seeds.
    """
    if not AuditEntry.objects.filter(event=SEED_EVENT).exists():
        return False
    actor = Actor.for_os_user()
    with transaction.atomic():
        subscribers = Subscriber.objects.count()
        # Links protect their subscriber from deletion (they are evidence); the demo's own
        # go with the demo's subscribers. The logs stay in the store until retention.
        IdentityLink.objects.all().delete()
        Subscriber.objects.all().delete()
        staff, _ = StaffUser.objects.filter(
            username__in=[username for username, _ in roster(current_policy())]).delete()
        record_event(actor, "demo:wipe", Outcome.SUCCEEDED,
                     subject=f"demo:wipe/subscribers:{subscribers}/staff:{staff}",
                     reason="demo data deleted before reseeding")
    return True


def _seed(args: argparse.Namespace, console: Console) -> None:
    organization = current_policy().organization.name
    console.print(f"Seeding {organization}: {args.subscribers} fictional subscribers "
                  f"(seed {args.seed})", highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("subscribers", total=args.subscribers)
        result = seed_demo(args.subscribers, args.seed,
                           progress=lambda n: bar.advance(task, n))
    counts = ", ".join(f"{n} {name}" for name, n in sorted(result.rows.items()))
    console.print(f"Seeded in {result.seconds:.1f} s: {counts}", highlight=False)
    if args.log_subscribers > 0:
        _seed_logs(args, console)
    print_credentials(console, result.staff, organization)


def _seed_logs(args: argparse.Namespace, console: Console) -> None:
    from datetime import UTC, datetime

    from cpniguard.demo.connectivity import seed_connectivity
    from cpniguard.demo.samples import sample_questions

    with Progress(TextColumn("{task.description}"), console=console,
                  transient=True) as bar:
        task = bar.add_task("generating connectivity logs")
        logs = seed_connectivity(
            datetime.now(UTC).date(), args.seed, subscribers=args.log_subscribers,
            days=args.log_days,
            progress=lambda name: bar.update(task, description=f"ingesting {name}"))
    console.print(f"Connectivity logs: {logs.files} files, {logs.lines} lines, "
                  f"{logs.intervals} intervals, {logs.quarantined} quarantined, for "
                  f"{logs.subscribers} subscribers ({logs.links} identity links); files in "
                  f"{logs.log_dir}", highlight=False)
    for line in sample_questions(logs.log_dir / "truth.csv"):
        print(line)  # unwrapped, so the commands can be copied as they are
    _seed_quality(args, console, logs.log_dir)
    from cpniguard.demo.connectivity import DEMO_ZONE
    from cpniguard.demo.legal_requests import seed_legal_requests

    for line in seed_legal_requests(logs.log_dir / "truth.csv", DEMO_ZONE).lines():
        print(line)


def _seed_quality(args: argparse.Namespace, console: Console, log_dir: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cpniguard.demo.connectivity import _picks
    from cpniguard.demo.quality_demo import declare_network, seed_speed_tests

    declare_network()
    first_day = datetime.now(UTC).date() - timedelta(days=args.log_days)
    tests = seed_speed_tests(_picks(args.log_subscribers), first_day, args.log_days,
                             args.seed, log_dir / "speedtests")
    console.print(f"Network: pools and POPs declared in network.toml; speed tests: "
                  f"{tests.imported} results for {tests.subscribers} subscribers", highlight=False)
    if tests.slow:
        print("  lines delivering well under their plan (see their health view): "
              + ", ".join(tests.slow))


def _demo(args: argparse.Namespace) -> int:
    from cpniguard.server import _migrate, _serve

    console = Console()
    if args.subscribers < 1:
        console.print("--subscribers must be at least 1")
        return 2
    _migrate(argparse.Namespace(verbose=False))
    if args.reseed and not _wipe_demo():
        console.print("refusing to reseed: this database was not seeded by `cpniguard demo` "
                      "(no demo:seed audit entry), so its records may be real", style="red")
        return 1
    existing = Subscriber.objects.count()
    if existing and not args.reseed:
        console.print(f"The database already holds {existing} subscribers; not seeding again. "
                      f"Staff passwords were printed when the demo was first seeded; "
                      f"{_password_hint()}.", highlight=False)
        linked = StaffUser.objects.filter(os_username=getpass.getuser()).first()
        if linked is not None:
            console.print(f"OS user {getpass.getuser()!r} acts as {linked.username} "
                          f"({linked.role}) on the command line.", highlight=False)
    else:
        _seed(args, console)
    if args.no_serve:
        return 0
    host = args.bind.rpartition(":")[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        console.print(f"Serving on {args.bind} without TLS: put a TLS proxy in front before "
                      "anyone else connects.", style="yellow")
    console.print(f"Open http://{args.bind}/ and sign in as a demo staff member "
                  f"(Ctrl-C stops the server).", highlight=False)
    return _serve(argparse.Namespace(bind=args.bind, workers=2, threads=4))


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="run a demo with a fictional ISP's customers",
        description="Create the database, seed it once with fictional subscribers and staff "
        "in every role (passwords and TOTP secrets are printed once), then serve the web UI. "
        "A second run serves the existing data without reseeding.")
    demo.add_argument("--subscribers", type=int, default=5000, metavar="N",
                      help="subscribers to create (default %(default)s)")
    demo.add_argument("--seed", type=int, default=2026, metavar="S",
                      help="random seed; the same seed gives the same customers "
                      "(default %(default)s)")
    demo.add_argument("--bind", default="127.0.0.1:8000",
                      help="address:port to serve on (default %(default)s)")
    demo.add_argument("--log-subscribers", type=int, default=400, metavar="N",
                      help="subscribers given generated RADIUS, DHCP and CGNAT logs, ingested "
                      "through the real parsers (0: none; default %(default)s)")
    demo.add_argument("--log-days", type=int, default=3, metavar="D",
                      help="days of logs, ending yesterday (default %(default)s)")
    demo.add_argument("--no-serve", action="store_true", help="seed, then exit")
    demo.add_argument("--reseed", action="store_true",
                      help="delete all subscribers and the demo's staff, then seed afresh (only "
                      "on a database the demo seeded; the audit trail is kept)")
    demo.set_defaults(func=_demo)
