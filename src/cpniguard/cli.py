"""The `cpniguard` command. Each domain adds its own subcommands from its `commands` module.

Commands that read customer data take --purpose and --reference and act as the staff member
linked to the operating-system user running them (`cpniguard staff link-os-user`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

# Each module defines register(subparsers) adding its commands with a `func` default.
COMMAND_MODULES = (
    "cpniguard.policy.commands",
    "cpniguard.accounts.commands",
    "cpniguard.subscribers.commands",
    "cpniguard.connectivity.commands",
    "cpniguard.connectivity.attribute_command",
    "cpniguard.connectivity.links_command",
    "cpniguard.quality.commands",
    "cpniguard.retention.commands",
    "cpniguard.legal.commands",
    "cpniguard.audit.commands",
    "cpniguard.demo.commands",
    "cpniguard.server",
)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpniguard.settings")
    import django

    django.setup()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpniguard",
        description="Purpose-bound access to customer records, a tamper-evident audit trail "
        "and lawful disclosure for an ISP. Data lives under $CPNIGUARD_HOME (default ./var).",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _setup_django()
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
