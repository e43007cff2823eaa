"""`GET /api/policy/` and the explain tool `POST /api/policy/decide/`."""

from __future__ import annotations

import pytest

from cpniguard.audit.models import AuditEntry
from cpniguard.policy import AccessRequest, Action, Policy, current_policy
from tests.api.conftest import TokenClient

pytestmark = pytest.mark.django_db

DECIDE = "/api/policy/decide/"


@pytest.mark.parametrize("role", sorted(current_policy().roles))
def test_every_role_can_read_the_policy_in_force(
    api_as: TokenClient, policy: Policy, role: str
) -> None:
    response = api_as(role).get("/api/policy/")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == policy.version
    assert [r["id"] for r in body["roles"]] == list(policy.roles)
    assert [p["id"] for p in body["purposes"]] == list(policy.purposes)
    assert [c["id"] for c in body["categories"]] == list(policy.categories)
    assert [g["id"] for g in body["grants"]] == [g.id for g in policy.grants]
    assert body["retention"] == policy.retention
    assert not AuditEntry.objects.exists()


def test_policy_document_carries_what_the_notice_and_the_checks_need(
    api_as: TokenClient, policy: Policy
) -> None:
    body = api_as("support").get("/api/policy/").json()
    grants = {g["id"]: g for g in body["grants"]}
    assert grants["support-troubleshooting"] == {
        "id": "support-troubleshooting", "role": "support", "purpose": "troubleshooting",
        "actions": ["annotate", "read", "search"],
        "categories": sorted(next(g.categories for g in policy.grants
                                  if g.id == "support-troubleshooting")),
        "reference": "ticket",
    }
    kinds = {k["id"]: k for k in body["references"]}
    assert kinds["ticket"]["pattern"] == policy.references["ticket"].pattern.pattern
    purposes = {p["id"]: p for p in body["purposes"]}
    assert purposes["marketing"]["forbidden"] is True
    assert purposes["legal_process"]["third_party"] is True
    roles = {r["id"]: r for r in body["roles"]}
    assert roles["custodian"]["second_factor"] is True
    assert roles["support"]["second_factor"] is False


def test_explain_answers_for_the_callers_role(api_as: TokenClient, policy: Policy) -> None:
    ask = {"purpose": "troubleshooting", "action": "read",
           "categories": ["name", "billing_info"], "reference": "TKT-104233"}
    response = api_as("support").post(DECIDE, ask, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "allowed": True, "rule": "grant:support-troubleshooting",
        "reason": "allowed by rule support-troubleshooting",
        "granted": ["name"], "masked": ["billing_info"], "role": "support",
        "policy_version": policy.version,
    }
    # Explaining reads no customer data and writes no audit entry.
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(("role", "ask"), [
    ("noc", {"purpose": "troubleshooting", "action": "read", "categories": ["account"]}),
    ("noc", {"purpose": "troubleshooting", "action": "read", "categories": ["account"],
             "reference": "ticket 5"}),
    ("billing", {"purpose": "sale", "action": "export", "categories": ["billing_info"]}),
    ("auditor", {"purpose": "compliance_review", "action": "search"}),
    ("admin", {"purpose": "provide_service", "action": "read", "categories": ["name"]}),
    ("custodian", {"purpose": "legal_process", "action": "export",
                   "categories": ["connectivity_logs", "made_up"],
                   "reference": "LR-2026-0042"}),
])
def test_explain_matches_the_policy_decision(
    api_as: TokenClient, policy: Policy, role: str, ask: dict[str, object]
) -> None:
    response = api_as(role).post(DECIDE, ask, format="json")
    assert response.status_code == 200
    categories = ask.get("categories", list(policy.categories))
    assert isinstance(categories, list)
    expected = policy.decide(AccessRequest(
        role, str(ask["purpose"]), Action(str(ask["action"])), frozenset(categories),
        str(ask.get("reference", "")) or None,
    ))
    body = response.json()
    assert (body["allowed"], body["rule"], body["reason"]) == (
        expected.allowed, expected.rule, expected.reason)
    assert body["granted"] == sorted(expected.granted)


def test_explain_names_the_missing_reference(api_as: TokenClient) -> None:
    body = api_as("noc").post(DECIDE, {"purpose": "troubleshooting", "action": "read",
                                       "categories": ["account"]}, format="json").json()
    assert body["allowed"] is False
    assert body["rule"] == "grant:noc-troubleshooting:reference-required"


def test_explain_refuses_to_answer_for_another_role(api_as: TokenClient) -> None:
    client = api_as("support")
    ask = {"purpose": "legal_process", "action": "export", "categories": ["name"],
           "reference": "LR-2026-0042"}
    response = client.post(DECIDE, {**ask, "role": "custodian"}, format="json")
    assert response.status_code == 403
    assert response.json()["rule"] == "explain:own-role-only"
    assert "'support'" in response.json()["detail"]
    own = client.post(DECIDE, {**ask, "role": "support"}, format="json")
    assert own.status_code == 200
    assert own.json()["allowed"] is False


@pytest.mark.parametrize(("ask", "field"), [
    ({"purpose": "billing"}, "action"),
    ({"purpose": "billing", "action": "peek"}, "action"),
    ({"action": "read"}, "purpose"),
    ({"purpose": "billing", "action": "read", "categories": []}, "categories"),
])
def test_explain_validates_its_input(
    api_as: TokenClient, ask: dict[str, object], field: str
) -> None:
    response = api_as("billing").post(DECIDE, ask, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
