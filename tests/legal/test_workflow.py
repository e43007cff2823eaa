"""The workflow: intake, transitions with their audit entries, two-person approval, narrowing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.access.gate import SubjectNotFound
from cpniguard.audit.models import AuditEntry
from cpniguard.legal import workflow
from cpniguard.legal.desk import show_request
from cpniguard.legal.intake import take_in
from cpniguard.legal.models import Approval, LegalRequest, Transition
from cpniguard.policy import Policy

pytestmark = pytest.mark.django_db

CUSTODIAN = Actor("dana", "custodian", Channel.CLI)
CUSTODIAN_2 = Actor("eli", "custodian", Channel.WEB)
COUNSEL = Actor("casey", "counsel", Channel.API)


def entries(event: str | None = None) -> list[AuditEntry]:
    rows = AuditEntry.objects.order_by("seq")
    return list(rows.filter(event=event) if event else rows)


def received(document: dict[str, Any]) -> str:
    return str(take_in(CUSTODIAN, document)["reference"])


def test_intake_numbers_stores_validates_and_audits(policy: Policy,
                                                    subpoena: dict[str, Any]) -> None:
    view = take_in(CUSTODIAN, subpoena)
    pattern = policy.references["legal_case"].pattern
    assert pattern.fullmatch(view["reference"])
    assert re.fullmatch(r"LR-\d{4}-0001", view["reference"])
    assert view["status"] == "received"
    assert [f["severity"] for f in view["findings"]].count("error") == 0
    # Given and understood, side by side; instants in UTC.
    first = view["targets"][1]
    assert first["at_given"] == "2026-11-18 09:30:00 America/New_York"
    assert first["instant_utc"] == "2026-11-18T14:30:00+00:00"
    assert view["served_at"] == "2026-11-23T15:15:00+00:00"
    [intake] = view["transitions"]
    assert (intake["from"], intake["to"], intake["who"]) == (None, "received", "dana")
    [entry] = entries("legal:request:import")
    assert (entry.outcome, entry.subject) == ("allowed", f"legal_request:{view['reference']}")
    assert entry.purpose == "legal_desk"
    assert entry.actor == "dana"
    assert take_in(CUSTODIAN, subpoena)["reference"].endswith("-0002")


def test_a_request_walks_to_closed_with_an_audit_entry_per_transition(
        subpoena: dict[str, Any]) -> None:
    reference = received(subpoena)
    workflow.transition(CUSTODIAN, reference, "validating", "checked the seal")
    workflow.approve(CUSTODIAN, reference)
    assert LegalRequest.objects.get(reference=reference).status == "validating"
    view = workflow.approve(COUNSEL, reference, "within 2703(c)(2)")
    assert view["status"] == "approved"
    assert "dana (custodian), casey (counsel)" in view["transitions"][-1]["note"]
    # Production and delivery have operations of their own (tests/legal/test_production.py).
    with pytest.raises(AccessRefused, match="producing is reached only by production"):
        workflow.transition(CUSTODIAN, reference, "producing")
    for status in ("withdrawn", "closed"):
        workflow.transition(CUSTODIAN, reference, status)
    steps = Transition.objects.filter(request__reference=reference)
    assert [t.to_status for t in steps] == ["received", "validating", "approved", "withdrawn",
                                            "closed"]
    changes = [e for e in entries("legal:request:change") if e.outcome == "allowed"]
    approvals = entries("legal:request:approve")
    assert len(changes) == 3
    assert len(approvals) == 2
    assert all(e.outcome == "allowed" and e.reference == reference
               for e in changes + approvals)
    # Each status change committed with its own entry: one entry per transition after intake.
    assert len(changes) + 1 == steps.count() - 1


def test_nobody_approves_twice_and_two_people_are_needed(subpoena: dict[str, Any]) -> None:
    reference = received(subpoena)
    workflow.transition(CUSTODIAN, reference, "validating")
    workflow.approve(CUSTODIAN, reference)
    with pytest.raises(AccessRefused, match="dana has already approved"):
        workflow.approve(CUSTODIAN, reference)
    with pytest.raises(AccessRefused, match="custodian approval was already given by dana"):
        workflow.approve(CUSTODIAN_2, reference)
    refused = entries("legal:request:approve")[1:]
    assert [e.outcome for e in refused] == ["refused", "refused"]
    assert "already approved" in refused[0].reason
    assert Approval.objects.filter(request__reference=reference).count() == 1
    assert workflow.approve(COUNSEL, reference)["status"] == "approved"


def test_whoever_took_it_in_cannot_also_give_the_counsel_approval(
        subpoena: dict[str, Any]) -> None:
    reference = received(subpoena)
    workflow.transition(CUSTODIAN, reference, "validating")
    # The same person, later given the counsel role, still may not be the second approver.
    with pytest.raises(AccessRefused, match="took this request in"):
        workflow.approve(Actor("dana", "counsel", Channel.API), reference)
    assert not Approval.objects.exists()


def test_the_cli_and_web_actor_of_one_person_is_one_approver(
        subpoena: dict[str, Any]) -> None:
    reference = received(subpoena)
    workflow.transition(CUSTODIAN, reference, "validating")
    workflow.approve(Actor("dana (os:dana)", "custodian", Channel.CLI), reference)
    with pytest.raises(AccessRefused, match="already approved"):
        workflow.approve(Actor("dana", "custodian", Channel.WEB), reference)


def test_over_broad_request_is_narrowed_then_approved(policy: Policy,
                                                      subpoena: dict[str, Any]) -> None:
    reference = received({**subpoena, "categories": ["name", "service_address",
                                                     "interactions"]})
    workflow.transition(CUSTODIAN, reference, "validating")
    with pytest.raises(AccessRefused, match="error finding"):
        workflow.approve(CUSTODIAN, reference)
    with pytest.raises(AccessRefused, match="does not ask for billing_info"):
        workflow.narrow(CUSTODIAN, reference, ["name", "billing_info"])
    view = workflow.narrow(CUSTODIAN, reference, ["name", "service_address"], "per counsel")
    assert view["answer_scope"] == ["name", "service_address"]
    assert not [f for f in view["findings"] if f["severity"] == "error"]
    note = view["transitions"][-1]
    assert (note["from"], note["to"]) == ("validating", "validating")
    assert "not answering interactions (partial compliance). per counsel" in note["note"]
    workflow.approve(CUSTODIAN, reference)
    assert workflow.approve(COUNSEL, reference)["status"] == "approved"


def test_rejection_needs_reasons_and_approval_is_not_a_plain_transition(
        subpoena: dict[str, Any]) -> None:
    reference = received({**subpoena, "signed": False})
    workflow.transition(CUSTODIAN, reference, "validating")
    with pytest.raises(AccessRefused, match="approved is reached only by approvals"):
        workflow.transition(CUSTODIAN, reference, "approved")
    with pytest.raises(AccessRefused, match="needs its reasons"):
        workflow.transition(CUSTODIAN, reference, "rejected")
    view = workflow.transition(CUSTODIAN, reference, "rejected", "not signed")
    assert view["status"] == "rejected"
    with pytest.raises(AccessRefused, match="can go to: closed"):
        workflow.transition(CUSTODIAN, reference, "producing")


@pytest.mark.parametrize("steps", [[], ["validating"]])
def test_withdrawn_at_any_open_point(subpoena: dict[str, Any], steps: list[str]) -> None:
    reference = received(subpoena)
    for step in steps:
        workflow.transition(CUSTODIAN, reference, step)
    view = workflow.withdraw(CUSTODIAN, reference)
    assert view["status"] == "withdrawn"
    assert view["transitions"][-1]["note"] == "withdrawn by the requester"
    workflow.transition(CUSTODIAN, reference, "closed")
    with pytest.raises(AccessRefused, match="nothing \\(closed\\)"):
        workflow.withdraw(CUSTODIAN, reference)


def test_a_request_we_do_not_have_is_not_found_and_audited() -> None:
    with pytest.raises(SubjectNotFound):
        show_request(CUSTODIAN, "LR-2026-0999")
    with pytest.raises(SubjectNotFound):
        workflow.transition(CUSTODIAN, "LR-2026-0999", "validating")
    assert [e.outcome for e in entries()] == ["not_found", "not_found"]
