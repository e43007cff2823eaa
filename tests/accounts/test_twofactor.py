"""TOTP second factor: enrolment, verification, drift window, replay and throttling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from cpniguard.accounts import throttle, twofactor
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db
SECOND = reverse("web:second_factor")


def signed_in_with_password(make_staff: Callable[..., StaffUser], role: str,
                            **extra: Any) -> tuple[Client, StaffUser]:
    user = make_staff(role, **extra)
    client = Client()
    assert client.post(reverse("web:login"),
                       {"username": user.username, "password": STAFF_PASSWORD}).status_code == 302
    return client, user


def second_factor_entries() -> list[tuple[str, str]]:
    return list(AuditEntry.objects.filter(event="auth:second-factor").order_by("seq")
                .values_list("outcome", "reason"))


def test_enrolment_shows_the_secret_and_uri_then_confirms_with_a_code(
    make_staff: Callable[..., StaffUser],
) -> None:
    client, user = signed_in_with_password(make_staff, "custodian")
    page = client.get(SECOND)
    assert page.status_code == 200
    user.refresh_from_db()
    assert user.totp_secret
    assert not user.totp_confirmed
    html = page.content.decode()
    assert twofactor.grouped(user.totp_secret) in html
    assert "otpauth://totp/" in html
    assert "Example%20Rural%20Broadband" in html
    # Reloading keeps the same pending secret (the app already scanned it).
    client.get(SECOND)
    assert StaffUser.objects.get(pk=user.pk).totp_secret == user.totp_secret

    code = pyotp.TOTP(user.totp_secret).now()
    response = client.post(SECOND, {"code": code, "next": "/audit/"})
    assert response.status_code == 302
    assert response["Location"] == "/audit/"
    user.refresh_from_db()
    assert user.totp_confirmed
    assert client.session[twofactor.SESSION_KEY] is True
    assert client.get(reverse("web:home")).status_code == 200
    assert second_factor_entries() == [("succeeded", "authenticator enrolled")]
    assert code not in str(AuditEntry.objects.order_by("-seq").first().__dict__)


def test_a_wrong_code_is_refused_clearly_and_audited(
    make_staff: Callable[..., StaffUser],
) -> None:
    client, user = signed_in_with_password(make_staff, "compliance")
    client.get(SECOND)
    user.refresh_from_db()
    right = pyotp.TOTP(user.totp_secret).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post(SECOND, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right." in response.content.decode()
    assert twofactor.SESSION_KEY not in client.session
    assert client.get(reverse("web:home"))["Location"].startswith(SECOND)
    assert second_factor_entries() == [("failed", "wrong or reused code during enrolment")]
    user.refresh_from_db()
    assert not user.totp_confirmed


def test_an_enrolled_user_verifies_at_each_sign_in(make_staff: Callable[..., StaffUser]) -> None:
    secret = pyotp.random_base32(32)
    client, _user = signed_in_with_password(make_staff, "admin", totp_secret=secret,
                                           totp_confirmed=True)
    page = client.get(SECOND).content.decode()
    assert "Enter the 6-digit code" in page
    assert secret not in page
    response = client.post(SECOND, {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert second_factor_entries() == [("succeeded", "code accepted")]


def test_codes_one_step_off_are_accepted_two_steps_off_are_not(
    make_staff: Callable[..., StaffUser],
) -> None:
    secret = pyotp.random_base32(32)
    user = make_staff("custodian", totp_secret=secret, totp_confirmed=True)
    totp, now = pyotp.TOTP(secret), time.time()
    assert not twofactor.check_code(user, totp.at(now - 60), now=now)
    assert not twofactor.check_code(user, totp.at(now + 60), now=now)
    assert twofactor.check_code(user, totp.at(now - 30), now=now)
    assert twofactor.check_code(user, totp.at(now + 30), now=now)


def test_a_code_is_never_accepted_twice(make_staff: Callable[..., StaffUser]) -> None:
    secret = pyotp.random_base32(32)
    user = make_staff("custodian", totp_secret=secret, totp_confirmed=True)
    code, now = pyotp.TOTP(secret).now(), time.time()
    assert twofactor.check_code(user, code, now=now)
    assert not twofactor.check_code(StaffUser.objects.get(pk=user.pk), code, now=now)
    # Nor an older one still inside the drift window.
    earlier = pyotp.TOTP(secret).at(now - 30)
    assert not twofactor.check_code(StaffUser.objects.get(pk=user.pk), earlier, now=now)


def test_malformed_codes_are_simply_wrong(make_staff: Callable[..., StaffUser]) -> None:
    user = make_staff("custodian", totp_secret=pyotp.random_base32(32), totp_confirmed=True)
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert not twofactor.check_code(user, code)


def test_guessing_codes_is_throttled(make_staff: Callable[..., StaffUser]) -> None:
    secret = pyotp.random_base32(32)
    client, _ = signed_in_with_password(make_staff, "admin", totp_secret=secret,
                                        totp_confirmed=True)
    right = pyotp.TOTP(secret).now()
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        assert client.post(SECOND, {"code": wrong}).status_code == 200
    locked = client.post(SECOND, {"code": right})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert twofactor.SESSION_KEY not in client.session
    assert [outcome for outcome, _ in second_factor_entries()] == ["failed"] * 5 + ["refused"]


def test_a_user_without_a_required_factor_may_enrol_and_is_then_held_to_it(
    make_staff: Callable[..., StaffUser],
) -> None:
    client, user = signed_in_with_password(make_staff, "support")
    assert not twofactor.required_for(user)
    client.get(SECOND)
    user.refresh_from_db()
    client.post(SECOND, {"code": pyotp.TOTP(user.totp_secret).now()})
    user.refresh_from_db()
    assert user.totp_confirmed
    assert twofactor.required_for(user)
    fresh = Client()
    fresh.post(reverse("web:login"), {"username": "support1", "password": STAFF_PASSWORD})
    assert fresh.get(reverse("web:home"))["Location"].startswith(SECOND)
