"""The demo's staff: someone in every role of the policy, with fresh credentials shown once.

Passwords and TOTP secrets come from `secrets` (through pyotp), never from the demo's seeded
random generator: a reproducible customer base must not mean reproducible passwords. Only the
Argon2 hashes are stored; the clear passwords exist in memory until they are printed.
"""

from __future__ import annotations

import getpass
import secrets
import shlex
import sys
from dataclasses import dataclass

import pyotp
from rich.console import Console
from rich.table import Table

from cpniguard.accounts.models import StaffUser
from cpniguard.policy import Policy

# How many of each shipped role a small ISP has; a role only an operator's policy defines
# gets one member.
ROSTER = {"support": 3, "billing": 2, "noc": 2, "custodian": 1, "compliance": 1,
          "auditor": 1, "admin": 1}
# Fictional staff names, so that the UI shows people rather than only usernames.
STAFF_NAMES = (("Kara", "Brennan"), ("Luis", "Ortega"), ("Mei", "Lindgren"),
               ("Owen", "Pratt"), ("Tess", "Calloway"), ("Ravi", "Nair"), ("Joan", "Hale"),
               ("Hal", "Wexler"), ("Nora", "Quist"), ("Abe", "Ferris"), ("Ida", "Marsh"),
               ("Cy", "Dunmore"), ("Vera", "Holt"))
# The role the operating-system user acts as on the CLI, so that `subscribers import` works
# straight away; relinking is one command.
OS_USER_ROLE = "admin"


@dataclass(frozen=True)
class Credential:
    username: str
    role: str
    password: str
    totp_secret: str
    os_username: str


def roster(policy: Policy) -> list[tuple[str, str]]:
    """(username, role) of every demo staff member, in the policy's role order."""
    return [(f"{role}{n}", role) for role in policy.roles
            for n in range(1, ROSTER.get(role, 1) + 1)]


def create_staff(policy: Policy, *, link_os_user: bool = True) -> list[Credential]:
    os_user = getpass.getuser() if link_os_user else ""
    if os_user and StaffUser.objects.filter(os_username=os_user).exists():
        os_user = ""  # already linked to someone the operator chose; leave that alone
    credentials, users = [], []
    for index, (username, role) in enumerate(roster(policy)):
        password = secrets.token_urlsafe(15)
        second_factor = policy.roles[role].second_factor
        totp_secret = pyotp.random_base32() if second_factor else ""
        linked = os_user if role == OS_USER_ROLE and os_user else None
        if linked:
            os_user = ""  # link one staff member only (os_username is unique)
        first, last = STAFF_NAMES[index % len(STAFF_NAMES)]
        user = StaffUser(username=username, role=role, first_name=first, last_name=last,
                         email=f"{username}@staff.example.net", os_username=linked,
                         totp_secret=totp_secret, totp_confirmed=second_factor)
        user.set_password(password)
        users.append(user)
        credentials.append(Credential(username, role, password, totp_secret, linked or ""))
    StaffUser.objects.bulk_create(users)
    return credentials


def totp_uri(credential: Credential, issuer: str) -> str:
    return pyotp.TOTP(credential.totp_secret).provisioning_uri(
        name=credential.username, issuer_name=issuer)


def code_command(secret: str) -> str:
    """A shell one-liner printing the current six-digit code for a TOTP secret."""
    program = f'import pyotp; print(pyotp.TOTP("{secret}").now())'
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(program)}"


def print_credentials(console: Console, credentials: list[Credential], issuer: str) -> None:
    """The one and only time the passwords are shown."""
    table = Table(title=f"{issuer} demo staff (shown once; copy them now)", title_justify="left")
    for column in ("username", "role", "password", "2FA", "OS user"):
        table.add_column(column, no_wrap=True)
    for credential in credentials:
        table.add_row(credential.username, credential.role, credential.password,
                      "TOTP" if credential.totp_secret else "", credential.os_username)
    console.print(table)
    for credential in (c for c in credentials if c.totp_secret):
        console.print(f"[bold]{credential.username}[/] TOTP secret {credential.totp_secret}",
                      highlight=False)
        console.print(f"  add to an authenticator app: {totp_uri(credential, issuer)}",
                      highlight=False, soft_wrap=True)
        console.print(f"  current code: {code_command(credential.totp_secret)}",
                      highlight=False, soft_wrap=True)
    linked = [c for c in credentials if c.os_username]
    if linked:
        console.print(f"OS user {linked[0].os_username!r} acts as {linked[0].username} "
                      f"({linked[0].role}) on the command line, so `cpniguard subscribers "
                      f"import` works. Relink with `cpniguard staff link-os-user`.",
                      highlight=False)
    else:
        console.print("No OS user was linked (the current one already acts as another staff "
                      "member). Link one with `cpniguard staff link-os-user`.", highlight=False)
