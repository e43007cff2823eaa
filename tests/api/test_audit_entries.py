"""`GET /api/audit/entries/`: compliance reads the trail, times carry an offset, reads are
audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers.models import Subscriber
from tests.api.conftest import TokenClient

pytestmark = pytest.mark.django_db

ENTRIES = "/api/audit/entries/"


@pytest.fixture
def history(api_as: TokenClient, subscriber: Subscriber) -> Subscriber:
    """Three accesses by two staff members: an allowed read, a refused read, a search."""
    support = api_as("support")
    support.get(f"/api/subscribers/{subscriber.pk}/", {"purpose": "provide_service"})
    support.get(f"/api/subscribers/{subscriber.pk}/", {"purpose": "marketing"})
    api_as("billing").get("/api/subscribers/", {"q": "A1000001", "purpose": "billing"})
    assert AuditEntry.objects.count() == 3
    return subscriber


@pytest.fixture
def compliance(api_as: TokenClient) -> APIClient:
    return api_as("compliance")


def test_compliance_lists_entries_newest_first_and_the_read_is_audited(
    history: Subscriber, compliance: APIClient
) -> None:
    response = compliance.get(ENTRIES, {"purpose": "compliance_review"})
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 3
    assert [e["seq"] for e in page["entries"]] == [3, 2, 1]
    assert [e["outcome"] for e in page["entries"]] == ["allowed", "refused", "allowed"]
    assert page["entries"][1]["rule"] == "deny:forbidden-purpose:marketing"
    assert page["filters"] == {"subscriber": None, "staff": None, "entry_purpose": None,
                               "outcome": None, "since": None, "until": None}
    own = AuditEntry.objects.order_by("-seq").first()
    assert own is not None
    assert (own.event, own.channel, own.actor) == ("audit:trail:search", "api", "compliance-api")


def test_filters_narrow_the_listing(history: Subscriber, compliance: APIClient) -> None:
    def count(**filters: str | int) -> int:
        response = compliance.get(ENTRIES, {"purpose": "compliance_review", **filters})
        assert response.status_code == 200, response.json()
        return int(response.json()["count"])

    assert count(staff="support-api") == 2
    assert count(staff="support-api", outcome="refused") == 1
    assert count(entry_purpose="billing") == 1
    assert count(subscriber=history.pk) == 3  # the search listed it too
    assert count(subscriber=history.pk + 1) == 0


def test_paging(history: Subscriber, compliance: APIClient) -> None:
    page = compliance.get(ENTRIES, {"purpose": "compliance_review", "limit": "2",
                                    "offset": "1"}).json()
    assert (page["count"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [e["seq"] for e in page["entries"]] == [2, 1]


def test_times_with_an_offset_are_understood_and_echoed_in_utc(
    history: Subscriber, compliance: APIClient
) -> None:
    first = AuditEntry.objects.order_by("seq").first()
    assert first is not None
    # The first entry's instant, written in Tokyo time: an offset, not a zone guess.
    tokyo = first.time.astimezone(UTC) + timedelta(hours=9)
    since = tokyo.replace(tzinfo=None).isoformat() + "+09:00"
    response = compliance.get(ENTRIES, {"purpose": "compliance_review", "since": since,
                                        "until": "2999-01-01T00:00:00Z"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 3
    assert datetime.fromisoformat(body["filters"]["since"]) == first.time
    assert body["filters"]["since"].endswith("+00:00")
    assert body["filters"]["until"] == "2999-01-01T00:00:00+00:00"

    later = (first.time + timedelta(days=1)).isoformat()
    assert compliance.get(ENTRIES, {"purpose": "compliance_review",
                                    "since": later}).json()["count"] == 0


@pytest.mark.parametrize("name", ["since", "until"])
def test_naive_time_is_400_with_reason_and_nothing_is_read(
    history: Subscriber, compliance: APIClient, name: str
) -> None:
    response = compliance.get(ENTRIES, {"purpose": "compliance_review",
                                        name: "2026-01-31T00:00:00"})
    assert response.status_code == 400
    reason = response.json()["errors"][name][0]
    assert "UTC offset" in reason
    assert "ambiguous" in reason
    assert AuditEntry.objects.count() == 3  # refused before the trail was read


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"offset": -1}, "offset"),
    ({"outcome": "maybe"}, "outcome"),
    ({"subscriber": "forty-two"}, "subscriber"),
])
def test_invalid_filters_are_400(compliance: APIClient, params: dict[str, str | int],
                                 field: str) -> None:
    response = compliance.get(ENTRIES, {"purpose": "compliance_review", **params})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not AuditEntry.objects.exists()


def test_missing_purpose_is_400_naming_the_callers_option(
    compliance: APIClient, api_as: TokenClient
) -> None:
    response = compliance.get(ENTRIES)
    assert response.status_code == 400
    # Support may search customer records, but has no purpose that covers the trail.
    support = api_as("support").get(ENTRIES).json()["detail"]
    assert "your role may" not in support
    assert "your role may search this data for: compliance_review" in response.json()["detail"]


@pytest.mark.parametrize("role", ["support", "billing", "noc", "custodian", "admin"])
def test_other_roles_are_refused_and_the_attempt_is_audited(
    api_as: TokenClient, role: str
) -> None:
    response = api_as(role).get(ENTRIES, {"purpose": "compliance_review"})
    assert response.status_code == 403
    assert response.json()["rule"] == "deny:default"
    entry = AuditEntry.objects.get()
    assert (entry.event, entry.outcome, entry.role) == ("audit:trail:search", "refused", role)
