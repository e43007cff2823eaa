"""`cpniguard staff ...` and `cpniguard token ...`: staff accounts and API tokens.

Every change is audited with the operating-system user running the command as the actor.
Generated passwords and token secrets are printed once, to standard output, and never again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from cpniguard.access import Actor
from cpniguard.accounts import services
from cpniguard.accounts.services import AccountError


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Print an AccountError as one line on stderr and exit 1 instead of a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except AccountError as error:
            print(f"cpniguard: {error}", file=sys.stderr)
            return 1

    return run


@_guarded
def _create(args: argparse.Namespace) -> int:
    user, password = services.create_staff(Actor.for_os_user(), args.username, args.role,
                                           args.os_user)
    print(f"Created staff account {user.get_username()!r} with role {user.role!r}.")
    print(f"Password (shown once; hand it over privately): {password}")
    return 0


def _list(args: argparse.Namespace) -> int:
    staff = services.list_staff()
    if args.json:
        print(json.dumps(staff, indent=2))
        return 0
    if not staff:
        print("No staff accounts yet: cpniguard staff create USERNAME --role ROLE")
        return 0
    header = ("USERNAME", "ROLE", "ACTIVE", "2FA", "OS USER", "LAST LOGIN")
    rows = [(s["username"], s["role"], "yes" if s["active"] else "no",
             "yes" if s["second_factor"] else "no", s["os_user"] or "-",
             s["last_login"] or "never") for s in staff]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


@_guarded
def _link(args: argparse.Namespace) -> int:
    services.link_os_user(Actor.for_os_user(), args.username, args.os_user)
    print(f"Operating-system user {args.os_user!r} now acts as {args.username!r} on the CLI.")
    return 0


@_guarded
def _deactivate(args: argparse.Namespace) -> int:
    revoked = services.deactivate(Actor.for_os_user(), args.username)
    print(f"Deactivated {args.username!r}; revoked {revoked} live API token(s).")
    return 0


@_guarded
def _reset_second_factor(args: argparse.Namespace) -> int:
    services.reset_second_factor(Actor.for_os_user(), args.username)
    print(f"{args.username!r} will enrol a new authenticator at their next sign-in.")
    return 0


@_guarded
def _issue(args: argparse.Namespace) -> int:
    from cpniguard.accounts.models import StaffUser

    user = StaffUser.objects.filter(username=args.username).first()
    if user is None:
        raise AccountError(f"no staff account {args.username!r}")
    token, secret = services.issue_token(Actor.for_os_user(), user, args.name, args.days)
    print(f"Issued token {token.prefix}… for {args.username!r}, "
          f"expires {token.expires.isoformat(timespec='seconds')}.")
    print(f"Secret (shown once; use as 'Authorization: Bearer ...'): {secret}")
    return 0


@_guarded
def _revoke(args: argparse.Namespace) -> int:
    token = services.token_by_prefix(args.prefix)
    services.revoke_token(Actor.for_os_user(), token)
    print(f"Revoked token {token.prefix}… of {token.user.get_username()!r}.")
    return 0


def register(commands: Any) -> None:
    staff = commands.add_parser("staff", help="create, list, link and deactivate staff accounts")
    sub = staff.add_subparsers(metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an account; prints a generated password once")
    create.add_argument("username")
    create.add_argument("--role", required=True, help="a role defined in the policy file")
    create.add_argument("--os-user", help="operating-system user that acts as this account")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list staff accounts")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)
    link = sub.add_parser("link-os-user",
                          help="let an operating-system user act as this account on the CLI")
    link.add_argument("username")
    link.add_argument("os_user", metavar="OSUSER")
    link.set_defaults(func=_link)
    deactivate = sub.add_parser("deactivate", help="disable sign-in and revoke API tokens")
    deactivate.add_argument("username")
    deactivate.set_defaults(func=_deactivate)
    reset = sub.add_parser("reset-second-factor",
                           help="forget a lost authenticator; the user enrols again")
    reset.add_argument("username")
    reset.set_defaults(func=_reset_second_factor)

    token = commands.add_parser("token", help="issue and revoke API tokens")
    tsub = token.add_subparsers(metavar="ACTION", required=True)
    issue = tsub.add_parser("issue", help="issue a token; prints its secret once")
    issue.add_argument("username")
    issue.add_argument("--days", type=int, required=True,
                       help=f"validity in days (1-{services.MAX_TOKEN_DAYS})")
    issue.add_argument("--name", default="cli", help="what the token is for")
    issue.set_defaults(func=_issue)
    revoke = tsub.add_parser("revoke", help="revoke a token by its prefix (cpg_...)")
    revoke.add_argument("prefix")
    revoke.set_defaults(func=_revoke)
