"""What the benchmarks share: a throwaway installation, timing, and how results are reported.

A benchmark never touches ./var: `fresh_installation()` points CPNIGUARD_HOME at a new temporary
directory (or uses the database in DATABASE_URL, which `scripts/with-postgres` provides), runs
the migrations and seeds the demo ISP. Each benchmark prints its figures for people and, with
--json, one JSON object on the last line of stdout for `bench/run` to tabulate.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fresh_installation(label: str) -> Path:
    """Configure Django on a new, empty data directory and migrate it."""
    home = Path(tempfile.mkdtemp(prefix=f"cpniguard-bench-{label}-"))
    if os.environ.get("BENCH_KEEP") != "1":  # BENCH_KEEP=1 keeps it for a post-mortem
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["CPNIGUARD_HOME"] = str(home)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cpniguard.settings"
    os.environ.pop("CPNIGUARD_POLICY", None)  # measure the shipped policy
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return home


def database_name() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW fsync")
            row = cursor.fetchone()
        return f"postgresql (fsync {row[0] if row else '?'})"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()
    return f"sqlite ({mode[0] if mode else '?'})"


def seed_subscribers(count: int) -> tuple[float, dict[str, str]]:
    """Seed the demo ISP; return the seconds it took and the staff passwords by username."""
    from cpniguard.demo.seed import seed_demo

    result = seed_demo(count, seed=2026, link_os_user=False)
    return result.seconds, {c.username: c.password for c in result.staff}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def best_of(repeats: int, work: Callable[[], int]) -> tuple[float, int]:
    """Run `work` (which returns how many operations it did) and keep the fastest run."""
    times, count = [], 0
    for _ in range(repeats):
        began = time.perf_counter()
        count = work()
        times.append(time.perf_counter() - began)
    return min(times), count


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line of results (for bench/run)")
    return parser


def report(args: argparse.Namespace, workload: str, lines: list[str],
           figures: dict[str, Any]) -> None:
    """Print the human lines (to stderr with --json, so stdout stays one JSON document)."""
    stream = sys.stderr if args.json else sys.stdout
    for line in lines:
        print(line, file=stream)
    if args.json:
        print(json.dumps({"workload": workload, **figures}))
