"""Who may see and handle legal requests: decided by the policy, refusals audited.

The expectations come from `Policy.decide` for every role in the policy, so the test follows
the file; it also pins the shipped file's answer (custodian and counsel only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.audit.models import AuditEntry
from cpniguard.legal import workflow
from cpniguard.legal.desk import CATEGORIES, PURPOSE, list_requests, show_request
from cpniguard.legal.intake import take_in
from cpniguard.policy import AccessRequest, Action, Policy, current_policy

pytestmark = pytest.mark.django_db
ROLES = sorted(current_policy().roles)
CUSTODIAN = Actor("dana", "custodian", Channel.CLI)


def allowed(policy: Policy, role: str, action: Action, reference: str | None) -> bool:
    return policy.decide(AccessRequest(role, PURPOSE, action, CATEGORIES, reference)).allowed


def test_only_the_custodian_and_counsel_see_requests(policy: Policy) -> None:
    readers = {r for r in ROLES if allowed(policy, r, Action.READ, "LR-2026-0001")}
    listers = {r for r in ROLES if allowed(policy, r, Action.SEARCH, None)}
    intake = {r for r in ROLES if allowed(policy, r, Action.IMPORT, None)}
    assert readers == listers == {"custodian", "counsel"}
    assert intake == {"custodian"}


@pytest.mark.parametrize("role", ROLES)
def test_every_read_and_refusal_is_audited(policy: Policy, role: str,
                                           subpoena: dict[str, Any]) -> None:
    reference = take_in(CUSTODIAN, subpoena)["reference"]
    actor = Actor(f"{role}-x", role, Channel.API)
    calls: list[tuple[Action, Callable[[], object]]] = [
        (Action.SEARCH, lambda: list_requests(actor)),
        (Action.READ, lambda: show_request(actor, reference)),
        (Action.IMPORT, lambda: take_in(actor, subpoena)),
        (Action.CHANGE, lambda: workflow.transition(actor, reference, "validating")),
    ]
    for action, call in calls:
        expected = allowed(policy, role, action,
                           reference if action in (Action.READ, Action.CHANGE) else None)
        before = AuditEntry.objects.count()
        if expected:
            call()
        else:
            with pytest.raises(AccessRefused):
                call()
        entry = AuditEntry.objects.order_by("-seq").first()
        assert entry is not None
        assert AuditEntry.objects.count() == before + 1, (role, action)
        assert entry.event == f"legal:request:{action}"
        assert entry.outcome == ("allowed" if expected else "refused"), (role, action)
        assert entry.actor == actor.username
        assert entry.purpose == PURPOSE


def test_a_refused_reader_learns_nothing_of_the_contents(subpoena: dict[str, Any]) -> None:
    reference = take_in(CUSTODIAN, subpoena)["reference"]
    with pytest.raises(AccessRefused) as refused:
        show_request(Actor("sam", "support", Channel.WEB), reference)
    text = str(refused.value) + refused.value.decision.rule
    assert "198.51.100.7" not in text
    assert "Investigator" not in text
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert "198.51.100.7" not in entry.reason + entry.subject


def test_a_non_desk_role_is_refused_before_any_workflow_reason(
        subpoena: dict[str, Any]) -> None:
    reference = take_in(CUSTODIAN, subpoena)["reference"]
    workflow.transition(CUSTODIAN, reference, "validating")
    workflow.approve(CUSTODIAN, reference)
    # Support must not learn that dana already approved: the policy refuses first.
    with pytest.raises(AccessRefused) as refused:
        workflow.approve(Actor("dana", "support", Channel.WEB), reference)
    assert refused.value.decision.rule == "deny:default"
    assert "dana" not in refused.value.decision.reason


def test_counsel_reads_and_approves_but_does_not_take_in_or_move(
        subpoena: dict[str, Any]) -> None:
    counsel = Actor("casey", "counsel", Channel.API)
    reference = take_in(CUSTODIAN, subpoena)["reference"]
    assert show_request(counsel, reference)["reference"] == reference
    with pytest.raises(AccessRefused):
        take_in(counsel, subpoena)
    with pytest.raises(AccessRefused):
        workflow.transition(counsel, reference, "validating")


def test_a_malformed_case_number_is_refused_by_the_policy() -> None:
    with pytest.raises(AccessRefused) as refused:
        show_request(CUSTODIAN, "see case 42")
    assert refused.value.decision.rule.endswith("reference-malformed")
