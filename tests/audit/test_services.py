"""Reading the trail: only through the gate, filtered exactly, newest first, itself audited."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.audit.services import list_entries
from cpniguard.audit.trail import record

pytestmark = pytest.mark.django_db
AUDITOR = Actor("auditor1", "auditor", Channel.WEB)


def entry(subject: str, *, actor: str = "support1", purpose: str = "troubleshooting",
          outcome: str = "allowed") -> None:
    with transaction.atomic():
        record(actor=actor, role="support", channel="web", event="subscriber:record:read",
               outcome=outcome, purpose=purpose, subject=subject)


def subjects(**filters: object) -> list[str]:
    page = list_entries(AUDITOR, purpose="compliance_review", **filters)  # type: ignore[arg-type]
    assert page["count"] == len(page["entries"])
    return [e["subject"] for e in page["entries"]]


def test_a_subscriber_filter_matches_the_record_its_parts_and_searches_exactly(db: None
                                                                              ) -> None:
    for subject in ("subscriber:4", "subscriber:42", "subscriber:14", "subscriber:4/interaction:9",
                    "subscriber:42/interaction:1", "subscribers:1,4,7", "subscribers:4",
                    "subscribers:4,5", "subscribers:3,4", "subscribers:42,44", "subscribers:14",
                    "subscribers:", "search", "audit:trail"):
        entry(subject)
    assert subjects(subscriber=4) == ["subscribers:3,4", "subscribers:4,5", "subscribers:4",
                                      "subscribers:1,4,7", "subscriber:4/interaction:9",
                                      "subscriber:4"]
    assert subjects(subscriber=42) == ["subscribers:42,44", "subscriber:42/interaction:1",
                                       "subscriber:42"]


def test_filters_combine_and_times_need_an_offset(db: None) -> None:
    entry("subscriber:1", actor="support1")
    entry("subscriber:2", actor="support1 (os:dana)", purpose="billing")
    entry("subscriber:3", actor="support10", outcome="refused")
    assert subjects(staff="support1") == ["subscriber:2", "subscriber:1"]
    assert subjects(entry_purpose="billing") == ["subscriber:2"]
    assert subjects(outcome="refused") == ["subscriber:3"]
    now = datetime.now(UTC)
    # The three listings above are entries too: reading the trail is on the record.
    window = subjects(since=now - timedelta(minutes=5), until=now + timedelta(minutes=5))
    assert window == ["audit:trail"] * 3 + ["subscriber:3", "subscriber:2", "subscriber:1"]
    assert subjects(since=now + timedelta(minutes=5)) == []
    with pytest.raises(ValueError, match="UTC offset"):
        subjects(since=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="limit"):
        subjects(limit=0)


def test_entries_are_shown_newest_first_with_utc_times_and_paged(db: None) -> None:
    for n in range(1, 6):
        entry(f"subscriber:{n}")
    page = list_entries(AUDITOR, purpose="compliance_review", limit=2, offset=1)
    assert page["count"] == 5
    assert [e["seq"] for e in page["entries"]] == [4, 3]
    first = page["entries"][0]
    assert first["time"].endswith("+00:00")
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert set(first) == {"seq", "time", "actor", "role", "channel", "event", "purpose",
                          "reference", "subject", "categories", "fields", "outcome", "rule",
                          "reason", "request_id", "entry_hash"}
    assert first["entry_hash"] == AuditEntry.objects.get(seq=4).entry_hash


def test_reading_the_trail_is_itself_audited(db: None) -> None:
    entry("subscriber:1")
    list_entries(AUDITOR, purpose="compliance_review", subscriber=1, reference="REV-1")
    read = AuditEntry.objects.order_by("-seq").first()
    assert read is not None
    assert (read.event, read.outcome, read.subject, read.actor) == (
        "audit:trail:search", "allowed", "audit:trail", "auditor1")
    assert "filter:subscriber" in read.fields
    assert "1" not in "".join(read.fields)  # the filter's value is not recorded


@pytest.mark.parametrize(("role", "purpose"), [("support", "compliance_review"),
                                               ("auditor", "troubleshooting"),
                                               ("admin", "compliance_review")])
def test_others_are_refused_and_the_refusal_is_audited(db: None, role: str,
                                                       purpose: str) -> None:
    with pytest.raises(AccessRefused):
        list_entries(Actor(f"{role}1", role, Channel.API), purpose=purpose)
    refusal = AuditEntry.objects.get()
    assert (refusal.event, refusal.outcome) == ("audit:trail:search", "refused")


def test_the_cli_lists_as_the_linked_staff_member(
        make_staff: Callable[..., StaffUser], run_cli: Callable[..., tuple[int, str]]) -> None:
    entry("subscriber:4")
    entry("subscriber:42")
    code, out = run_cli("audit", "list", "--purpose", "compliance_review", "--subscriber", "4",
                        "--json")
    assert code == 3  # no staff member is linked to this OS user yet
    assert "refused" in out
    make_staff("auditor", os_username=getpass.getuser())
    code, out = run_cli("audit", "list", "--as-purpose", "compliance_review", "--subscriber",
                        "4", "--since", "2020-01-01T00:00:00-05:00", "--json")
    assert code == 0
    page = json.loads(out)
    assert [e["subject"] for e in page["entries"]] == ["subscriber:4"]
    assert page["filters"] == {"subscriber": 4, "since": "2020-01-01T05:00:00+00:00"}
    code, out = run_cli("audit", "list", "--purpose", "compliance_review", "--staff",
                        "support1")
    assert code == 0
    assert "2 matching entries" in out
    assert "+00:00" in out
    with pytest.raises(SystemExit) as usage:
        run_cli("audit", "list", "--purpose", "compliance_review", "--since",
                "2026-01-01T00:00:00")
    assert usage.value.code == 2
