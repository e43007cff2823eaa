"""`cpniguard migrate` and `cpniguard serve`: set up the database and run the web server."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any


def _migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run gunicorn on loopback by default; put TLS in front for anything else."""
    command = [
        sys.executable, "-m", "gunicorn", "cpniguard.wsgi:application",
        "--bind", args.bind, "--workers", str(args.workers), "--threads", str(args.threads),
        "--access-logfile", "-", "--graceful-timeout", "5",
    ]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpniguard.settings"}
    return subprocess.call(command, env=env)  # noqa: S603 (fixed argument list)


def register(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("-v", "--verbose", action="store_true")
    migrate.set_defaults(func=_migrate)
    serve = commands.add_parser("serve", help="serve the web UI and API (gunicorn)")
    serve.add_argument("--bind", default="127.0.0.1:8000",
                       help="address:port (default %(default)s)")
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--threads", type=int, default=4)
    serve.set_defaults(func=_serve)
