"""Time-based one-time passwords (RFC 6238) as the second factor for staff sign-in.

The secret is generated here and shown to its owner once, during enrolment; it only counts once
the owner proves their authenticator produces the same codes. A code is accepted one 30-second
step early or late (clock drift), and never twice: the last accepted step is remembered.
"""

from __future__ import annotations

import hmac
import time

import pyotp
from django.db import transaction

from cpniguard.accounts.models import StaffUser
from cpniguard.policy import current_policy

# One step either side of now: phones and servers drift, people type slowly.
DRIFT_STEPS = 1
SESSION_KEY = "cpniguard_2fa"


def required_for(user: StaffUser) -> bool:
    """The policy asks it of the user's role; anyone who enrolled anyway is held to it too."""
    role = current_policy().roles.get(user.role)
    return bool(role is not None and role.second_factor) or user.totp_confirmed


def start_enrolment(user: StaffUser) -> str:
    """The pending secret for the user, creating one if they have none yet."""
    if user.totp_confirmed:
        raise ValueError("the second factor is already confirmed")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32(32)
        user.save(update_fields=["totp_secret"])
    return user.totp_secret


def provisioning_uri(user: StaffUser) -> str:
    """The otpauth:// URI authenticator apps import; the issuer is the organisation."""
    issuer = current_policy().organization.name
    uri: str = pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.get_username(), issuer_name=issuer
    )
    return uri


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, now: float) -> int | None:
    totp = pyotp.TOTP(secret)
    current = int(totp.timecode(now))
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(str(totp.generate_otp(step)), code):
            return step
    return None


def check_code(user: StaffUser, code: str, now: float | None = None) -> bool:
    """True if `code` is a fresh valid code for the user's secret; remembers its step.

    Used both to confirm a pending enrolment and to pass the second factor at sign-in.
    """
    code = "".join(code.split())
    if not user.totp_secret or not code.isdigit() or len(code) != 6:
        return False
    step = _matching_step(user.totp_secret, code, time.time() if now is None else now)
    if step is None:
        return False
    with transaction.atomic():
        # Lock the row: two requests racing with the same code must not both pass.
        fresh = StaffUser.objects.select_for_update().only("totp_last_step").get(pk=user.pk)
        if fresh.totp_last_step is not None and step <= fresh.totp_last_step:
            return False
        user.totp_last_step = step
        fields = ["totp_last_step"]
        if not user.totp_confirmed:
            user.totp_confirmed = True
            fields.append("totp_confirmed")
        user.save(update_fields=fields)
    return True


def reset(user: StaffUser) -> None:
    """Forget the secret (a lost phone); the user enrols again at their next sign-in."""
    user.totp_secret = ""
    user.totp_confirmed = False
    user.totp_last_step = None
    user.save(update_fields=["totp_secret", "totp_confirmed", "totp_last_step"])
