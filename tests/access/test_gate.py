"""The choke point: decision and audit entry together, refusals audited, masks applied."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cpniguard.access import AccessRefused, Actor
from cpniguard.access.gate import SubjectNotFound
from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers import services
from cpniguard.subscribers.models import Interaction, Subscriber

pytestmark = pytest.mark.django_db


def test_allowed_read_masks_what_the_purpose_does_not_need(
    subscriber: Subscriber, actor_for: Callable[[str], Actor]
) -> None:
    view = services.detail(actor_for("support"), subscriber.pk, purpose="troubleshooting",
                           reference="TKT-100042")
    assert view["name"]["last_name"] == "Whitfield"
    assert view["billing_info"] is None
    assert view["billing_address"] is None
    assert "billing_info" in view["masked"]
    entry = AuditEntry.objects.get()
    assert entry.outcome == "allowed"
    assert entry.rule == "grant:support-troubleshooting"
    assert "billing_info" not in entry.categories
    assert "name.last_name" in entry.fields
    assert "Whitfield" not in str(entry.__dict__)


def test_refusal_is_audited_and_raised(
    subscriber: Subscriber, actor_for: Callable[[str], Actor]
) -> None:
    with pytest.raises(AccessRefused, match="forbidden purpose"):
        services.detail(actor_for("support"), subscriber.pk, purpose="marketing")
    entry = AuditEntry.objects.get()
    assert (entry.outcome, entry.rule) == ("refused", "deny:forbidden-purpose:marketing")


def test_missing_reference_is_refused(
    subscriber: Subscriber, actor_for: Callable[[str], Actor]
) -> None:
    with pytest.raises(AccessRefused, match="requires a trouble ticket reference"):
        services.detail(actor_for("noc"), subscriber.pk, purpose="troubleshooting")


def test_not_found_is_audited(db: None, actor_for: Callable[[str], Actor]) -> None:
    with pytest.raises(SubjectNotFound):
        services.detail(actor_for("billing"), 999999, purpose="billing")
    assert AuditEntry.objects.get().outcome == "not_found"


def test_search_only_matches_visible_categories(
    subscriber: Subscriber, actor_for: Callable[[str], Actor]
) -> None:
    # NOC may not see names, so a name search must not confirm the name exists.
    assert services.search(actor_for("noc"), "Whitfield", purpose="provide_service") == []
    rows = services.search(actor_for("support"), "whitfield", purpose="provide_service")
    assert [r["account_number"] for r in rows] == ["A1000001"]


def test_note_and_audit_commit_together(
    subscriber: Subscriber, actor_for: Callable[[str], Actor]
) -> None:
    services.add_interaction(actor_for("support"), subscriber.pk, purpose="troubleshooting",
                             reference="TKT-100043", channel="phone", summary="Replaced router")
    assert Interaction.objects.filter(ticket="TKT-100043").count() == 1
    assert AuditEntry.objects.get().event == "subscriber:interaction:annotate"
