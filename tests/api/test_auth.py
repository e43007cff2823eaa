"""Token authentication: no token, or a token that no longer works, is a 401 with a reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers.models import Subscriber
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

DETAIL = "/api/subscribers/{}/?purpose=billing"


@pytest.fixture
def billing_user(make_staff: Callable[..., StaffUser]) -> StaffUser:
    return make_staff("billing")


def issue(user: StaffUser, expires_in: timedelta) -> tuple[ApiToken, str]:
    return ApiToken.issue(user, "laptop", timezone.now() + expires_in)


def test_no_token_is_401_and_names_the_scheme(subscriber: Subscriber) -> None:
    response = APIClient().get(DETAIL.format(subscriber.pk))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "credentials were not provided" in response.json()["detail"]
    assert not AuditEntry.objects.exists()


def test_live_token_is_accepted_and_its_use_recorded(
    subscriber: Subscriber, billing_user: StaffUser
) -> None:
    token, secret = issue(billing_user, timedelta(hours=1))
    assert token.last_used is None
    response = bearer(secret).get(DETAIL.format(subscriber.pk))
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used is not None
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.channel) == ("billing1", "api")


def test_expired_token_is_401_with_reason(subscriber: Subscriber, billing_user: StaffUser) -> None:
    _, secret = issue(billing_user, timedelta(seconds=-1))
    response = bearer(secret).get(DETAIL.format(subscriber.pk))
    assert response.status_code == 401
    assert response.json() == {"detail": "token expired"}
    assert not AuditEntry.objects.exists()


def test_revoked_token_is_401_with_reason(subscriber: Subscriber, billing_user: StaffUser) -> None:
    token, secret = issue(billing_user, timedelta(days=30))
    assert bearer(secret).get(DETAIL.format(subscriber.pk)).status_code == 200
    token.revoked = timezone.now()
    token.save()
    response = bearer(secret).get(DETAIL.format(subscriber.pk))
    assert response.status_code == 401
    assert response.json() == {"detail": "token revoked"}


def test_unknown_token_is_401(subscriber: Subscriber, billing_user: StaffUser) -> None:
    _, secret = issue(billing_user, timedelta(days=1))
    response = bearer(secret + "x").get(DETAIL.format(subscriber.pk))
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown token"}


def test_disabled_account_is_401(subscriber: Subscriber, billing_user: StaffUser) -> None:
    _, secret = issue(billing_user, timedelta(days=1))
    billing_user.is_active = False
    billing_user.save()
    response = bearer(secret).get(DETAIL.format(subscriber.pk))
    assert response.status_code == 401
    assert response.json() == {"detail": "account disabled"}


def test_other_schemes_are_refused_with_the_expected_form(
    subscriber: Subscriber, billing_user: StaffUser
) -> None:
    _, secret = issue(billing_user, timedelta(days=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    response = client.get(DETAIL.format(subscriber.pk))
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_a_web_session_does_not_authenticate_the_api(
    subscriber: Subscriber, billing_user: StaffUser
) -> None:
    # Token auth only: a logged-in browser cannot be made to call the API (no CSRF surface).
    client = APIClient()
    client.force_login(billing_user)
    assert client.get(DETAIL.format(subscriber.pk)).status_code == 401


@pytest.mark.parametrize("path", ["/api/policy/", "/api/audit/entries/?purpose=compliance_review",
                                  "/api/subscribers/?purpose=billing&q=x"])
def test_every_endpoint_needs_a_token(path: str) -> None:
    assert APIClient().get(path).status_code == 401
