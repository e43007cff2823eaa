"""`cpniguard policy check [FILE]` and `cpniguard policy notice --format md|html`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from cpniguard.policy import InvalidPolicy, current_policy, load_policy
from cpniguard.policy.notice import render_html, render_markdown


def _check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file or os.environ.get("CPNIGUARD_POLICY") or None)
    except InvalidPolicy as invalid:
        for error in invalid.errors:
            print(f"{invalid.source}:{error.line}: {error.message}", file=sys.stderr)
        print(f"{len(invalid.errors)} error(s); policy not valid", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot read policy: {error}", file=sys.stderr)
        return 2
    summary = {"source": policy.source, "version": policy.version, "valid": True,
               "roles": len(policy.roles), "purposes": len(policy.purposes),
               "grants": len(policy.grants), "categories": len(policy.categories)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{policy.source}: valid (version {policy.version}, {len(policy.roles)} roles, "
              f"{len(policy.purposes)} purposes, {len(policy.grants)} grants)")
    return 0


def _notice(args: argparse.Namespace) -> int:
    policy = load_policy(args.file) if args.file else current_policy()
    sys.stdout.write(render_html(policy) if args.format == "html" else render_markdown(policy))
    return 0


def register(commands: Any) -> None:
    policy = commands.add_parser("policy", help="check the policy file; render the privacy notice")
    sub = policy.add_subparsers(metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a policy file (default: the one in force)",
                           description="Exit 0 if valid; otherwise print FILE:LINE: error for "
                           "every problem and exit 1.")
    check.add_argument("file", nargs="?", help="policy TOML file (default: the policy in force)")
    check.add_argument("--json", action="store_true", help="print a JSON summary")
    check.set_defaults(func=_check)
    notice = sub.add_parser("notice", help="render the customer-facing privacy notice")
    notice.add_argument("--format", choices=["md", "html"], default="md")
    notice.add_argument("--file", help="policy file to render (default: the policy in force)")
    notice.set_defaults(func=_notice)
