"""Managing staff accounts and API tokens, every change on the audit trail.

The CLI and the web UI call these functions; nothing else creates, links, deactivates staff or
issues and revokes tokens. Audit entries name accounts (`staff:alice`) and tokens by id and
public prefix, never a password or a token secret.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cpniguard.access import Actor, record_event
from cpniguard.accounts import twofactor
from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.audit.models import Outcome
from cpniguard.policy import current_policy

MAX_TOKEN_DAYS = 365
# No 0/O, 1/l/I: the password is read off a terminal and typed once by a person.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105


class AccountError(ValueError):
    """A request that cannot be carried out; the message says why, for the operator."""


def generate_password(groups: int = 5, size: int = 5) -> str:
    """25 characters from a 31-symbol alphabet, about 124 bits, in dash-separated groups."""
    return "-".join(
        "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def _staff(username: str) -> StaffUser:
    user = StaffUser.objects.filter(username=username).first()
    if user is None:
        raise AccountError(f"no staff account {username!r}")
    return user


def _check_role(role: str) -> None:
    roles = current_policy().roles
    if role not in roles:
        valid = ", ".join(f"{r.id} ({r.label})" for r in roles.values())
        raise AccountError(f"unknown role {role!r}; the policy defines: {valid}")


def _check_os_user(os_user: str, username: str) -> None:
    holder = StaffUser.objects.filter(os_username=os_user).exclude(username=username).first()
    if holder is not None:
        raise AccountError(
            f"operating-system user {os_user!r} already acts as {holder.get_username()!r}"
        )


def create_staff(actor: Actor, username: str, role: str,
                 os_user: str | None = None) -> tuple[StaffUser, str]:
    """A new active account with a generated password, returned once and stored hashed."""
    _check_role(role)
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as error:
        raise AccountError(f"invalid username {username!r}: {' '.join(error.messages)}") from None
    if StaffUser.objects.filter(username=username).exists():
        raise AccountError(f"staff account {username!r} already exists")
    if os_user:
        _check_os_user(os_user, username)
    user = StaffUser(username=username, role=role, os_username=os_user or None)
    password = generate_password()
    validate_password(password, user)
    user.set_password(password)
    with transaction.atomic():
        user.save()
        record_event(actor, "account:staff:create", Outcome.SUCCEEDED,
                     subject=f"staff:{username}",
                     reason=f"role {role}" + (f", os user {os_user}" if os_user else ""))
    return user, password


def list_staff() -> list[dict[str, Any]]:
    roles = current_policy().roles
    return [
        {
            "username": user.get_username(),
            "role": user.role,
            "role_label": roles[user.role].label if user.role in roles else "(not in policy)",
            "active": user.is_active,
            "os_user": user.os_username or "",
            "second_factor": user.totp_confirmed,
            "last_login": user.last_login.isoformat() if user.last_login else None,
        }
        for user in StaffUser.objects.order_by("username")
    ]


def link_os_user(actor: Actor, username: str, os_user: str) -> StaffUser:
    """Let an operating-system account act as this staff member on the CLI."""
    user = _staff(username)
    _check_os_user(os_user, username)
    with transaction.atomic():
        user.os_username = os_user
        user.save(update_fields=["os_username"])
        record_event(actor, "account:staff:link-os-user", Outcome.SUCCEEDED,
                     subject=f"staff:{username}", reason=f"os user {os_user}")
    return user


def deactivate(actor: Actor, username: str) -> int:
    """Disable sign-in and revoke the account's live tokens; returns how many were revoked."""
    user = _staff(username)
    now = timezone.now()
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        live = ApiToken.objects.filter(user=user, revoked__isnull=True, expires__gt=now)
        revoked = live.update(revoked=now)
        record_event(actor, "account:staff:deactivate", Outcome.SUCCEEDED,
                     subject=f"staff:{username}", reason=f"{revoked} live token(s) revoked")
    return revoked


def reset_second_factor(actor: Actor, username: str) -> None:
    """Forget a lost authenticator; the owner enrols a new one at their next sign-in."""
    user = _staff(username)
    with transaction.atomic():
        twofactor.reset(user)
        record_event(actor, "account:staff:reset-second-factor", Outcome.SUCCEEDED,
                     subject=f"staff:{username}")


def _token_subject(token: ApiToken) -> str:
    return f"staff:{token.user.get_username()}/token:{token.pk}"


def issue_token(actor: Actor, user: StaffUser, name: str, days: int) -> tuple[ApiToken, str]:
    """A bearer token for `user` valid for `days`; the secret is returned once, never stored."""
    name = name.strip()
    if not name:
        raise AccountError("a token needs a name saying what it is for")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"a token lives between 1 and {MAX_TOKEN_DAYS} days")
    if not user.is_active:
        raise AccountError(f"staff account {user.get_username()!r} is deactivated")
    with transaction.atomic():
        token, secret = ApiToken.issue(user, name[:100], timezone.now() + timedelta(days=days))
        record_event(actor, "account:token:issue", Outcome.SUCCEEDED,
                     subject=_token_subject(token),
                     reason=f"prefix {token.prefix}, expires {token.expires.isoformat()}")
    return token, secret


def tokens_of(user: StaffUser) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user).order_by("-created"))


def revoke_token(actor: Actor, token: ApiToken) -> None:
    if token.revoked is not None:
        raise AccountError(f"token {token.prefix}… was already revoked")
    with transaction.atomic():
        token.revoked = timezone.now()
        token.save(update_fields=["revoked"])
        record_event(actor, "account:token:revoke", Outcome.SUCCEEDED,
                     subject=_token_subject(token), reason=f"prefix {token.prefix}")


def token_by_prefix(prefix: str) -> ApiToken:
    """The one token whose public prefix starts with `prefix` (at least 8 characters)."""
    prefix = prefix.strip()[:12]
    if len(prefix) < 8:
        raise AccountError("give at least the first 8 characters of the token (e.g. cpg_AbCd)")
    matches = list(ApiToken.objects.select_related("user").filter(prefix__startswith=prefix))
    if not matches:
        raise AccountError(f"no token starts with {prefix!r}")
    if len(matches) > 1:
        names = ", ".join(f"{t.prefix} ({t.user.get_username()})" for t in matches)
        raise AccountError(f"{prefix!r} matches several tokens: {names}; give more characters")
    return matches[0]
