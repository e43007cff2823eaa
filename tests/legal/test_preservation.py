"""Preservation letters: holds on their identifiers and dates, placed at intake (the policy's
preserve_on_intake), expiring after 90 days, renewable once; held rows survive a real
retention run while unheld ones go; the dry run lists what the holds keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal import preservation, workflow
from cpniguard.legal.intake import take_in
from cpniguard.legal.models import Preservation
from cpniguard.policy import Policy, current_policy
from cpniguard.policy.loader import default_policy_text
from cpniguard.retention.models import LegalHold
from cpniguard.retention.purge import run_retention
from cpniguard.subscribers.models import Subscriber
from tests.legal.conftest import document_for
from tests.legal.desk_setup import COUNSEL, CUSTODIAN, link, session, store
from tests.retention.conftest import content

pytestmark = pytest.mark.django_db
__all__ = ["store"]

ADMIN = Actor("admin1", "admin", Channel.CLI)
# Months old by the clock of the test run: past the 180 days RADIUS logs are kept.
OLD = datetime(2026, 3, 2, 8, tzinfo=UTC)


def letter(policy: Policy, **changes: Any) -> dict[str, Any]:
    return document_for(policy.legal_process["preservation_letter"], **{
        "date_range": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z"},
        "targets": [{"kind": "ip", "value": "192.0.2.50", "at": "2026-03-02T09:00:00Z"},
                    {"kind": "account", "value": "A1000001"},
                    {"kind": "email", "value": "nobody@example.org"}], **changes})


def test_a_letter_is_preserved_at_intake_and_held_rows_survive_retention(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy) -> None:
    session(store, "192.0.2.50", "stranger", start=OLD)          # target 1's address
    session(store, "192.0.2.60", "alice", start=OLD, line=2)     # target 2's identity
    session(store, "192.0.2.70", "bob", start=OLD, line=3)       # named by nobody
    link(subscriber, "alice", since=datetime(2026, 1, 1, tzinfo=UTC))
    view = take_in(CUSTODIAN, letter(policy))
    assert view["status"] == "received"  # no approval needed: the policy says so
    kept = view["preservation"]
    holds = LegalHold.objects.filter(pk__in=kept["holds"]).order_by("pk")
    assert [(h.kind, h.identifier, h.reference) for h in holds] == [
        ("address", "192.0.2.50/32", view["reference"]),
        ("username", "alice", view["reference"])]
    expires = datetime.fromisoformat(kept["expires"])
    assert timedelta(days=89, hours=23) < expires - timezone.now() <= timedelta(days=90)
    assert kept["unheld"] == [{"target": 3, "why": "no records"}]

    dry = run_retention(ADMIN, store, dry_run=True)
    assert sorted({h for day in dry.days for h in day.holds}) == sorted(kept["holds"])
    run_retention(ADMIN, store)
    assert {who for _, who in content(store)} == {"stranger", "alice"}


def test_renewed_once_for_ninety_more_days_then_refused(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy) -> None:
    view = take_in(CUSTODIAN, letter(policy))
    reference = view["reference"]
    first = datetime.fromisoformat(view["preservation"]["expires"])
    renewed = preservation.renew(CUSTODIAN, reference)["preservation"]
    assert datetime.fromisoformat(renewed["expires"]) - first == timedelta(days=90)
    assert renewed["renewals"] == 1
    assert {h.expires for h in LegalHold.objects.filter(pk__in=renewed["holds"])} == {
        datetime.fromisoformat(renewed["expires"])}
    with pytest.raises(AccessRefused, match="already renewed 1 time"):
        preservation.renew(CUSTODIAN, reference)
    with pytest.raises(AccessRefused, match="already preserved"):
        preservation.preserve(CUSTODIAN, reference)


def test_a_letter_with_errors_holds_nothing_and_other_kinds_never_preserve(
        store: EmbeddedLogStore, policy: Policy, subpoena: dict[str, Any]) -> None:
    broken = take_in(CUSTODIAN, letter(policy, addressed_to="Another Provider, LLC"))
    assert broken["preservation"] is None
    with pytest.raises(AccessRefused, match="error findings"):
        preservation.preserve(CUSTODIAN, broken["reference"])
    other = take_in(CUSTODIAN, subpoena)["reference"]
    with pytest.raises(AccessRefused, match="not a kind of process that preserves"):
        preservation.preserve(CUSTODIAN, other)
    assert not Preservation.objects.exists()
    assert not LegalHold.objects.exists()


def test_without_preserve_on_intake_the_holds_wait_for_approval(
        store: EmbeddedLogStore, policy: Policy, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = default_policy_text().replace("preserve_on_intake = true\n", "")
    (tmp_path / "policy.toml").write_text(text)
    monkeypatch.setenv("CPNIGUARD_POLICY", str(tmp_path / "policy.toml"))
    current_policy.cache_clear()
    try:
        reference = take_in(CUSTODIAN, letter(policy))["reference"]
        assert not Preservation.objects.exists()
        with pytest.raises(AccessRefused, match="preserved once approved"):
            preservation.preserve(CUSTODIAN, reference)
        workflow.transition(CUSTODIAN, reference, "validating")
        workflow.approve(CUSTODIAN, reference)
        workflow.approve(COUNSEL, reference)
        kept = preservation.preserve(CUSTODIAN, reference)["preservation"]
        assert len(kept["holds"]) == 1  # the address; the account has no record here
    finally:
        current_policy.cache_clear()
