"""`cpniguard logs generate OUT_DIR`: synthetic connectivity logs for the demo and benchmarks.

Needs no database; it only writes files (see `connectivity.generator`). Added under the
`logs` command that `connectivity.commands` creates, so it must be registered after it.
Exit codes: 0 written, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from cpniguard.connectivity.generator import generate

EXIT_USAGE = 2


def add_generate(sub: Any) -> None:
    """Add `generate` to the `logs` command's actions (called by connectivity.commands)."""
    gen = sub.add_parser(
        "generate", help="write realistic synthetic logs of a fictional ISP, with truth.csv",
        description="FreeRADIUS detail files per NAS and day, ISC dhcpd.leases, Juniper PBA "
        "syslog and truth.csv (who held what, when) under OUT_DIR. Addresses, names and MACs "
        "are reserved for documentation. The same seed gives the same bytes. "
        "Exit codes: 0 written, 2 bad usage.")
    gen.add_argument("out_dir", metavar="OUT_DIR", help="directory to write into")
    gen.add_argument("--subscribers", type=int, default=100, metavar="N")
    gen.add_argument("--days", type=int, default=1, metavar="D")
    gen.add_argument("--start", default="2024-03-04", metavar="YYYY-MM-DD",
                     help="first local day (default 2024-03-04)")
    gen.add_argument("--cgnat-ratio", type=float, default=0.3, metavar="R",
                     help="share of subscribers behind CGNAT (default 0.3)")
    gen.add_argument("--seed", type=int, default=1, metavar="S")
    gen.add_argument("--zone", default="America/Chicago", metavar="Z",
                     help="IANA zone of the servers' local timestamps")
    gen.add_argument("--json", action="store_true", help="print the summary as JSON")
    gen.set_defaults(func=_generate)


def _usage(message: str) -> int:
    print(f"cpniguard logs generate: {message}", file=sys.stderr)
    return EXIT_USAGE


def _generate(args: argparse.Namespace) -> int:
    try:
        start = date.fromisoformat(args.start)
        ZoneInfo(args.zone)
    except (ValueError, ZoneInfoNotFoundError) as error:
        return _usage(str(error))
    if args.subscribers < 1 or args.days < 1 or not 0 <= args.cgnat_ratio <= 1:
        return _usage("--subscribers and --days must be >= 1, --cgnat-ratio within [0, 1]")
    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()):
        # Files are appended to as days roll over: mixing two runs would corrupt both.
        return _usage(f"{out} is not empty")
    console = Console(stderr=True)
    with Progress(TextColumn("generating"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=args.json or not console.is_terminal) as progress:
        task = progress.add_task("generate", total=1.0)
        done = generate(out, subscribers=args.subscribers, days=args.days, start=start,
                        cgnat_ratio=args.cgnat_ratio, seed=args.seed, zone=args.zone,
                        on_progress=lambda share: progress.update(task, completed=share))
    summary = {"out_dir": str(done.out_dir), "files": len(done.files), "lines": done.lines,
               "bytes": done.bytes, "seconds": round(done.seconds, 3),
               "truth": str(done.truth), "truth_rows": done.truth_rows,
               "sessions": done.sessions, "refused": done.refused,
               "overflow_to_cgnat": done.overflow}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['files']} files, {done.lines} lines, {done.bytes} bytes in "
              f"{summary['seconds']} s; {done.sessions} sessions ({done.overflow} moved to "
              f"CGNAT, {done.refused} DHCP grants refused: pools exhausted); "
              f"truth: {done.truth} ({done.truth_rows} rows)")
    return 0
