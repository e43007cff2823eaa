"""The decision function: deny by default, and it names the rule that decided."""

from __future__ import annotations

import pytest

from cpniguard.policy import AccessRequest, Action, Policy


def ask(policy: Policy, role: str, purpose: str, action: Action = Action.READ,
        categories: frozenset[str] | None = None, reference: str | None = None) -> str:
    request = AccessRequest(role, purpose, action,
                            categories if categories is not None else policy.cpni_categories,
                            reference)
    return policy.decide(request).rule


def test_grant_names_its_rule_and_masks_the_rest(policy: Policy) -> None:
    decision = policy.decide(AccessRequest("billing", "billing", Action.READ,
                                           policy.cpni_categories))
    assert decision.allowed
    assert decision.rule == "grant:billing-billing"
    assert "billing_info" in decision.granted
    assert decision.masked == policy.cpni_categories - decision.granted
    assert "interactions" in decision.granted


@pytest.mark.parametrize(
    ("role", "purpose", "action", "reference", "rule"),
    [
        ("support", "billing", Action.READ, None, "deny:default"),
        ("billing", "troubleshooting", Action.READ, "TKT-1234", "deny:default"),
        ("support", "sale", Action.READ, None, "deny:forbidden-purpose:sale"),
        ("support", "bogus", Action.READ, None, "deny:unknown-purpose"),
        ("janitor", "billing", Action.READ, None, "deny:unknown-role"),
        ("noc", "troubleshooting", Action.READ, None,
         "grant:noc-troubleshooting:reference-required"),
        ("noc", "troubleshooting", Action.READ, "ticket 12",
         "grant:noc-troubleshooting:reference-malformed"),
        ("custodian", "legal_process", Action.READ, "TKT-1234",
         "grant:custodian-legal-process:reference-malformed"),
        ("support", "provide_service", Action.EXPORT, None, "deny:default"),
        ("auditor", "compliance_review", Action.READ, None, "grant:auditor-review:no-category"),
    ],
)
def test_refusals(policy: Policy, role: str, purpose: str, action: Action,
                  reference: str | None, rule: str) -> None:
    assert ask(policy, role, purpose, action, reference=reference) == rule


def test_unknown_category_is_refused(policy: Policy) -> None:
    assert ask(policy, "billing", "billing",
               categories=frozenset({"dna_sample"})) == "deny:unknown-category"


def test_every_role_purpose_action_is_decided_by_some_rule(policy: Policy) -> None:
    for role in policy.roles:
        for purpose in policy.purposes:
            for action in Action:
                decision = policy.decide(AccessRequest(role, purpose, action,
                                                       policy.cpni_categories, "TKT-123456"))
                assert decision.rule
                assert decision.reason
                if decision.allowed:
                    assert decision.rule.startswith("grant:")
