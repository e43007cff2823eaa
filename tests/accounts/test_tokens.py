"""API tokens from the account page: issued with the secret shown once, revoked, audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.policy import current_policy

pytestmark = pytest.mark.django_db
TOKENS = reverse("web:tokens")
SignedIn = Callable[..., tuple[Client, StaffUser]]


def api_status(secret: str) -> tuple[int, str]:
    response = Client().get("/api/policy/", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code, response.json().get("detail", "")


@pytest.fixture
def signed_in(make_staff: Callable[..., StaffUser]) -> SignedIn:
    def make(role: str) -> tuple[Client, StaffUser]:
        user = make_staff(role)
        client = Client()
        client.force_login(user)
        return client, user

    return make


def issue(client: Client, name: str = "ticketing bridge", days: int = 30) -> str:
    response = client.post(TOKENS, {"name": name, "days": days})
    assert response.status_code == 201
    match = re.search(r'data-testid="token-secret">(cpg_[A-Za-z0-9_\-]+)<', response.content
                      .decode())
    assert match
    return match.group(1)


def test_issue_shows_the_secret_once_and_it_works_on_the_api(signed_in: SignedIn) -> None:
    client, user = signed_in("support")
    secret = issue(client)
    token = ApiToken.objects.get(user=user)
    assert token.digest == ApiToken.digest_of(secret)
    assert secret not in token.digest
    assert token.expires - timezone.now() > timedelta(days=29, hours=23)
    assert api_status(secret)[0] == 200
    listing = client.get(TOKENS).content.decode()
    assert secret not in listing
    assert token.prefix in listing
    assert "active" in listing
    entry = AuditEntry.objects.get(event="account:token:issue")
    assert (entry.actor, entry.subject, entry.outcome) == (
        "support1", f"staff:support1/token:{token.pk}", "succeeded")
    assert secret not in str(entry.__dict__)


def test_revoking_stops_the_token_at_once(signed_in: SignedIn) -> None:
    client, user = signed_in("billing")
    secret = issue(client)
    token = ApiToken.objects.get(user=user)
    response = client.post(reverse("web:token_revoke", args=[token.pk]), follow=True)
    assert "revoked; it stops working at once" in response.content.decode()
    assert api_status(secret) == (401, "token revoked")
    assert AuditEntry.objects.filter(event="account:token:revoke",
                                     subject=f"staff:billing1/token:{token.pk}").count() == 1
    # A second revoke changes nothing and writes nothing.
    client.post(reverse("web:token_revoke", args=[token.pk]))
    assert AuditEntry.objects.filter(event="account:token:revoke").count() == 1


def test_nobody_revokes_someone_elses_token(signed_in: SignedIn) -> None:
    owner, _ = signed_in("support")
    secret = issue(owner)
    token = ApiToken.objects.get()
    other, _ = signed_in("noc")
    assert other.post(reverse("web:token_revoke", args=[token.pk])).status_code == 404
    assert token.prefix not in other.get(TOKENS).content.decode()
    assert api_status(secret)[0] == 200


def test_expired_tokens_are_refused_with_the_reason(signed_in: SignedIn) -> None:
    client, _ = signed_in("support")
    secret = issue(client, days=1)
    ApiToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert api_status(secret) == (401, "token expired")
    assert "expired" in client.get(TOKENS).content.decode()


def test_token_lifetime_and_name_are_checked(signed_in: SignedIn) -> None:
    client, _ = signed_in("support")
    for data in ({"name": "x", "days": 0}, {"name": "x", "days": 366}, {"name": "", "days": 5}):
        assert client.post(TOKENS, data).status_code == 400
    assert not ApiToken.objects.exists()
    assert not AuditEntry.objects.exists()


def test_second_factor_roles_must_pass_it_before_issuing(signed_in: SignedIn) -> None:
    assert current_policy().roles["admin"].second_factor
    client, _ = signed_in("admin")
    response = client.post(TOKENS, {"name": "sneaky", "days": 30})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:second_factor"))
    assert not ApiToken.objects.exists()
