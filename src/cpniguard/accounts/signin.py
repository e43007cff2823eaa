"""Signing staff in and out of the web UI: password, then (where required) a TOTP code.

Every step is on the audit trail, whatever its outcome: `auth:login`, `auth:second-factor` and
`auth:logout`, with subject `staff:<username>`. Passwords and codes are never recorded. A
throttled attempt is refused before the password or code is even checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest

from cpniguard.access import Actor, Channel, record_event
from cpniguard.accounts import throttle, twofactor
from cpniguard.accounts.models import LoginAttempt, StaffUser
from cpniguard.accounts.throttle import Lockout
from cpniguard.audit.models import Outcome

LOGIN = "auth:login"
SECOND_FACTOR = "auth:second-factor"
LOGOUT = "auth:logout"
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What happened to one sign-in step: passed, failed (with a message) or locked out."""

    passed: bool
    error: str = ""
    lockout: Lockout | None = None


def _request_id(request: HttpRequest) -> str:
    return str(getattr(request, "request_id", ""))


def actor_for(request: HttpRequest, user: StaffUser | None) -> Actor:
    if user is None:
        return Actor(ANONYMOUS, "", Channel.WEB, _request_id(request))
    return Actor.for_staff(user, Channel.WEB, _request_id(request))


def sign_in(request: HttpRequest, username: str, password: str) -> StepResult:
    """Check the password and start a session; the second factor, if required, comes next."""
    step = LoginAttempt.Step.PASSWORD
    client = throttle.client_address(request)
    known = StaffUser.objects.filter(username=username).first()
    actor = actor_for(request, known)
    subject = f"staff:{username}"
    locked = throttle.lockout(step, username, client)
    if locked is not None:
        record_event(actor, LOGIN, Outcome.REFUSED, subject=subject,
                     reason=f"throttled: too many failed attempts for this {locked.scope}")
        return StepResult(False, locked.message, locked)
    user = authenticate(request, username=username, password=password)
    if not isinstance(user, StaffUser):
        throttle.note_failure(step, username, client)
        if known is None:
            reason = "unknown username"
        elif not known.is_active:
            reason = "account deactivated"
        else:
            reason = "wrong password"
        record_event(actor, LOGIN, Outcome.FAILED, subject=subject, reason=reason)
        # One message for all three, so the form does not tell which usernames exist.
        return StepResult(False, "Wrong username or password.")
    login(request, user)
    throttle.clear(step, username)
    needs = twofactor.required_for(user)
    record_event(actor_for(request, user), LOGIN, Outcome.SUCCEEDED, subject=subject,
                 reason="password accepted; second factor required" if needs
                 else "password accepted")
    return StepResult(True)


def second_factor_passed(request: HttpRequest) -> bool:
    return request.session.get(twofactor.SESSION_KEY) is True


def needs_second_factor(request: HttpRequest, user: StaffUser) -> bool:
    return twofactor.required_for(user) and not second_factor_passed(request)


def verify_second_factor(request: HttpRequest, user: StaffUser, code: str) -> StepResult:
    """Check a TOTP code: confirms a pending enrolment, or completes the sign-in."""
    step = LoginAttempt.Step.SECOND_FACTOR
    client = throttle.client_address(request)
    username = user.get_username()
    actor = actor_for(request, user)
    subject = f"staff:{username}"
    locked = throttle.lockout(step, username, client)
    if locked is not None:
        record_event(actor, SECOND_FACTOR, Outcome.REFUSED, subject=subject,
                     reason=f"throttled: too many failed codes for this {locked.scope}")
        return StepResult(False, locked.message, locked)
    enrolling = not user.totp_confirmed
    if not twofactor.check_code(user, code):
        throttle.note_failure(step, username, client)
        record_event(actor, SECOND_FACTOR, Outcome.FAILED, subject=subject,
                     reason="wrong or reused code" + (" during enrolment" if enrolling else ""))
        return StepResult(
            False,
            "That code is not right. Enter the 6-digit code your authenticator shows now; "
            "each code works only once. If it keeps failing, check the phone's clock.",
        )
    # A new session key once the session is fully authenticated (fixation defence).
    request.session.cycle_key()
    request.session[twofactor.SESSION_KEY] = True
    throttle.clear(step, username)
    record_event(actor, SECOND_FACTOR, Outcome.SUCCEEDED, subject=subject,
                 reason="authenticator enrolled" if enrolling else "code accepted")
    return StepResult(True)


def sign_out(request: HttpRequest) -> None:
    user = request.user
    if isinstance(user, StaffUser):
        record_event(actor_for(request, user), LOGOUT, Outcome.SUCCEEDED,
                     subject=f"staff:{user.get_username()}")
    logout(request)
