"""The audit viewer (itself an audited, purpose-bound read) and the public privacy notice."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from cpniguard.access import Actor, Channel, record_event
from cpniguard.access.gate import AccessRefused
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry, Outcome
from cpniguard.policy import Policy
from cpniguard.policy.notice import render_html_fragment
from cpniguard.subscribers import services
from cpniguard.subscribers.models import Subscriber

pytestmark = pytest.mark.django_db
SignedIn = Callable[..., tuple[Client, StaffUser]]
AUDIT = reverse("web:audit")


def some_history(subscriber: Subscriber) -> None:
    """Real accesses: support reads the record, marketing is refused, another record read."""
    support = Actor("support1", "support", Channel.WEB)
    services.detail(support, subscriber.pk, purpose="provide_service")
    with pytest.raises(AccessRefused):
        services.detail(support, subscriber.pk, purpose="marketing")
    other = Subscriber.objects.create(account_number="A1000042", first_name="Lee",
                                      last_name="Okafor", service_started="2021-06-01")
    services.detail(Actor("billing1", "billing", Channel.API), other.pk, purpose="billing")


def test_audit_without_purpose_prompts_and_reads_nothing(staff_client: SignedIn) -> None:
    client, _ = staff_client("auditor")
    response = client.get(AUDIT)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="compliance_review"' in html
    assert 'data-testid="audit-entries"' not in html
    assert not AuditEntry.objects.exists()


def test_auditor_lists_entries_newest_first_with_utc_offsets(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    some_history(subscriber)
    client, _ = staff_client("auditor")
    response = client.get(AUDIT, {"purpose": "compliance_review"})
    assert response.status_code == 200
    entries = response.context["entries"]
    assert [(e["actor"], e["outcome"]) for e in entries] == [
        ("billing1", "allowed"), ("support1", "refused"), ("support1", "allowed")]
    # Reading the trail is on the trail too, as the newest entry.
    latest = AuditEntry.objects.order_by("-seq").first()
    assert latest is not None
    assert (latest.event, latest.purpose) == ("audit:trail:search", "compliance_review")
    html = response.content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00", html)
    assert "deny:forbidden-purpose:marketing" in html
    assert "Whitfield" not in html  # the trail never holds customer data


def test_filters_by_subscriber_and_outcome(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    some_history(subscriber)
    client, _ = staff_client("compliance")
    response = client.get(AUDIT, {"purpose": "compliance_review",
                                  "subscriber": subscriber.pk})
    subjects = {e["subject"] for e in response.context["entries"]}
    assert subjects == {f"subscriber:{subscriber.pk}"}
    assert len(response.context["entries"]) == 2
    refused = client.get(AUDIT, {"purpose": "compliance_review", "outcome": "refused"})
    assert [e["purpose"] for e in refused.context["entries"]] == ["marketing"]
    by_staff = client.get(AUDIT, {"purpose": "compliance_review", "staff": "billing1"})
    assert [e["actor"] for e in by_staff.context["entries"]] == ["billing1"]
    # The filters stay in the form and in the paging links.
    assert f'value="{subscriber.pk}"' in response.content.decode()


def test_time_filters_take_utc_or_an_offset_and_reject_nonsense(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    some_history(subscriber)
    client, _ = staff_client("auditor")
    future = client.get(AUDIT, {"purpose": "compliance_review", "since": "2999-01-01T00:00"})
    assert future.status_code == 200
    assert future.context["entries"] == []
    assert "No entries match." in future.content.decode()
    offset = client.get(AUDIT, {"purpose": "compliance_review",
                                "until": "2000-01-01T09:00-05:00"})
    assert offset.context["entries"] == []
    bad = client.get(AUDIT, {"purpose": "compliance_review", "since": "yesterday-ish"})
    assert bad.status_code == 400
    assert "Use a date and time such as" in bad.content.decode()


def test_pages_through_long_trails(staff_client: SignedIn) -> None:
    actor = Actor("noc1", "noc", Channel.WEB)
    for n in range(60):
        record_event(actor, "auth:login", Outcome.FAILED, subject=f"staff:probe{n}")
    client, _ = staff_client("auditor")
    first = client.get(AUDIT, {"purpose": "compliance_review"})
    paging = first.context["paging"]
    assert (paging["count"], paging["pages"], paging["first"], paging["last"]) == (60, 2, 1, 50)
    assert len(first.context["entries"]) == 50
    assert "page=2" in paging["next_url"]
    assert not paging["previous_url"]
    second = client.get(paging["next_url"])
    assert second.status_code == 200
    # 60 logins and the first viewing: 61, so 11 on the second page.
    assert second.context["paging"]["count"] == 61
    assert len(second.context["entries"]) == 11
    assert second.context["entries"][-1]["subject"] == "staff:probe0"


@pytest.mark.parametrize(("role", "purpose", "rule"), [
    ("support", "compliance_review", "deny:default"),
    ("auditor", "marketing", "deny:forbidden-purpose:marketing"),
    ("auditor", "nonsense", "deny:unknown-purpose"),
])
def test_audit_refusals_are_403_with_the_rule(
    staff_client: SignedIn, role: str, purpose: str, rule: str
) -> None:
    client, _ = staff_client(role)
    response = client.get(AUDIT, {"purpose": purpose})
    assert response.status_code == 403
    assert rule in response.content.decode()
    entry = AuditEntry.objects.get()
    assert (entry.event, entry.outcome, entry.rule) == ("audit:trail:search", "refused", rule)


def test_the_notice_is_public_and_is_the_policy_rendering(policy: Policy) -> None:
    response = Client().get(reverse("web:policy_notice"))
    assert response.status_code == 200
    html = response.content.decode()
    assert render_html_fragment(policy) in html
    assert "We never sell your information." in html
    assert policy.organization.name in html
    assert 'aria-label="Main"' not in html  # no staff menu for the public
