"""Password sign-in and sign-out: audited every time, passwords never recorded, throttled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpniguard.accounts import throttle
from cpniguard.accounts.models import LoginAttempt, StaffUser
from cpniguard.audit.models import AuditEntry
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = reverse("web:login")


def sign_in(client: Client, username: str, password: str, **extra: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def login_entries() -> list[tuple[str, str, str, str, str]]:
    return list(AuditEntry.objects.filter(event="auth:login").order_by("seq").values_list(
        "actor", "role", "subject", "outcome", "reason"))


def test_successful_sign_in_is_audited_and_lands_home(
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff("support")
    client = Client()
    response = sign_in(client, "support1", STAFF_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    assert login_entries() == [("support1", "support", "staff:support1", "succeeded",
                                "password accepted")]
    entry = AuditEntry.objects.get()
    assert entry.channel == "web"
    assert entry.request_id
    assert STAFF_PASSWORD not in str(entry.__dict__)
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert client.get(reverse("web:home")).status_code == 200


def test_next_is_followed_only_within_the_site(make_staff: Callable[..., StaffUser]) -> None:
    make_staff("support")
    inside = sign_in(Client(), "support1", STAFF_PASSWORD, next="/subscribers/?q=x")
    assert inside["Location"] == "/subscribers/?q=x"
    outside = sign_in(Client(), "support1", STAFF_PASSWORD, next="https://example.com/")
    assert outside["Location"] == reverse("web:home")


def test_wrong_password_is_refused_and_audited_without_the_password(
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff("billing")
    response = sign_in(Client(), "billing1", "hunter2-not-it")
    assert response.status_code == 200
    assert "Wrong username or password." in response.content.decode()
    assert login_entries() == [("billing1", "billing", "staff:billing1", "failed",
                                "wrong password")]
    assert "hunter2" not in str(AuditEntry.objects.get().__dict__)


def test_unknown_username_is_audited_as_anonymous(db: None) -> None:
    response = sign_in(Client(), "nobody", "whatever-it-is")
    assert "Wrong username or password." in response.content.decode()
    assert login_entries() == [("anonymous", "", "staff:nobody", "failed", "unknown username")]


def test_deactivated_account_cannot_sign_in(make_staff: Callable[..., StaffUser]) -> None:
    make_staff("noc", is_active=False)
    response = sign_in(Client(), "noc1", STAFF_PASSWORD)
    assert "Wrong username or password." in response.content.decode()
    assert login_entries()[-1][3:] == ("failed", "account deactivated")


def test_second_factor_roles_go_to_the_code_page_after_the_password(
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff("compliance")
    response = sign_in(Client(), "compliance1", STAFF_PASSWORD, next="/audit/")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:second_factor") + "?next=%2Faudit%2F"
    assert login_entries()[-1][3:] == ("succeeded",
                                       "password accepted; second factor required")


def test_sixth_attempt_within_the_window_is_refused_even_with_the_right_password(
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff("support")
    client = Client()
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        assert sign_in(client, "support1", "wrong password!").status_code == 200
    locked = sign_in(client, "support1", STAFF_PASSWORD)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 14 * 60
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    outcomes = [entry[3] for entry in login_entries()]
    assert outcomes == ["failed"] * 5 + ["refused"]
    # Another username from the same client is not locked out by these five.
    make_staff("billing")
    assert sign_in(Client(), "billing1", STAFF_PASSWORD).status_code == 302


def test_the_lock_lifts_once_the_failures_leave_the_window(
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff("support")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        sign_in(Client(), "support1", "wrong password!")
    assert sign_in(Client(), "support1", STAFF_PASSWORD).status_code == 429
    # Sixteen minutes later (the failures' own timestamps moved back, not the clock faked).
    LoginAttempt.objects.update(time=timezone.now() - throttle.WINDOW - timedelta(minutes=1))
    assert sign_in(Client(), "support1", STAFF_PASSWORD).status_code == 302


def test_many_failures_from_one_client_lock_that_client(
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff("support")
    here, elsewhere = Client(REMOTE_ADDR="198.51.100.7"), Client(REMOTE_ADDR="203.0.113.9")
    for n in range(throttle.MAX_FAILURES_PER_CLIENT):
        # Spread over many usernames, each under its own limit.
        assert sign_in(here, f"guess{n % 10}", "not the password").status_code == 200
    locked = sign_in(here, "support1", STAFF_PASSWORD)
    assert locked.status_code == 429
    assert "this computer" in locked.content.decode()
    assert sign_in(elsewhere, "support1", STAFF_PASSWORD).status_code == 302
    refused = AuditEntry.objects.filter(event="auth:login", outcome="refused").get()
    assert refused.reason == "throttled: too many failed attempts for this client"


def test_a_success_clears_earlier_typos(make_staff: Callable[..., StaffUser]) -> None:
    make_staff("support")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME - 1):
        sign_in(Client(), "support1", "typo typo typo")
    assert sign_in(Client(), "support1", STAFF_PASSWORD).status_code == 302
    assert not LoginAttempt.objects.filter(username="support1").exists()


def test_logout_is_post_only_and_audited(make_staff: Callable[..., StaffUser]) -> None:
    make_staff("support")
    client = Client()
    sign_in(client, "support1", STAFF_PASSWORD)
    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get(reverse("web:home")).status_code == 302
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert (entry.event, entry.actor, entry.outcome) == ("auth:logout", "support1", "succeeded")
