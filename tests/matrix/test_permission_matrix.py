"""The permission matrix, generated from the policy file: UI and API decide identically.

Every endpoint x every role in the policy x every purpose in the policy plus one it does not
know. For each combination the expected decision comes from `Policy.decide` itself (never a
hand-written table), with a valid reference of the kind the grant needs, if it needs one. The
same staff member then makes the same request through the web UI and through the API; both
must answer as the policy decided, and each must leave exactly one audit entry, identical but
for the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.audit.models import AuditEntry
from cpniguard.policy import AccessRequest, Action, Decision, current_policy
from cpniguard.subscribers.catalog import RECORD_CATEGORIES
from cpniguard.subscribers.models import Subscriber

pytestmark = pytest.mark.django_db

POLICY = current_policy()
UNKNOWN_PURPOSE = "bogus"
MALFORMED_REFERENCE = "see ticket #42"


@dataclass(frozen=True)
class Endpoint:
    """One thing staff can do, as the UI and the API spell it, and what the gate is asked."""

    name: str
    action: Action
    categories: frozenset[str]
    ui_path: str  # formatted with pk=
    api_path: str
    post: bool = False
    ui_allowed: int = 200
    api_allowed: int = 200


ENDPOINTS = (
    Endpoint("search", Action.SEARCH, RECORD_CATEGORIES, "/subscribers/", "/api/subscribers/"),
    Endpoint("read", Action.READ, RECORD_CATEGORIES, "/subscribers/{pk}/",
             "/api/subscribers/{pk}/"),
    # The plain form post answers with a redirect; the htmx variant also re-reads the record
    # (a second, separate audited access), so the matrix uses the plain form.
    Endpoint("annotate", Action.ANNOTATE, frozenset({"interactions"}),
             "/subscribers/{pk}/interactions/", "/api/subscribers/{pk}/interactions/",
             post=True, ui_allowed=302, api_allowed=201),
    Endpoint("audit", Action.SEARCH, frozenset({"audit_trail"}), "/audit/",
             "/api/audit/entries/"),
)
PURPOSES = (*POLICY.purposes, UNKNOWN_PURPOSE)


def valid_reference(role: str, purpose: str, action: Action) -> str:
    """An example reference of the kind the matching grant requires, or none."""
    for grant in POLICY.grants:
        if (grant.role, grant.purpose) == (role, purpose) and action in grant.actions \
                and grant.reference:
            return POLICY.references[grant.reference].example
    return ""


def matrix() -> list[Any]:
    return [
        pytest.param(endpoint, role, purpose, valid_reference(role, purpose, endpoint.action),
                     id=f"{endpoint.name}-{role}-{purpose}")
        for endpoint in ENDPOINTS for role in POLICY.roles for purpose in PURPOSES
    ]


def reference_cases() -> list[Any]:
    """Every grant that needs a reference, on every endpoint it covers: none, and a bad one."""
    cases = []
    for grant in POLICY.grants:
        if not grant.reference:
            continue
        for endpoint in ENDPOINTS:
            if endpoint.action not in grant.actions:
                continue
            for label, reference in (("missing", ""), ("malformed", MALFORMED_REFERENCE)):
                cases.append(pytest.param(
                    endpoint, grant.role, grant.purpose, reference,
                    id=f"{endpoint.name}-{grant.id}-{label}-reference",
                ))
    return cases


@dataclass
class Staff:
    user: StaffUser
    ui: Client
    api: APIClient


@pytest.fixture
def staff_in(db: None) -> Callable[[str], Staff]:
    """One staff member of a role, signed in to the UI (second factor passed where the role
    needs one) and holding a live API token."""

    def make(role: str) -> Staff:
        user = StaffUser(username=f"{role}-matrix", role=role)
        user.set_unusable_password()  # sessions are forced; hashing would only cost time
        user.save()
        ui = Client()
        ui.force_login(user)
        if POLICY.roles[role].second_factor:
            session = ui.session
            session[SESSION_KEY] = True
            session.save()
        _, secret = ApiToken.issue(user, "matrix", timezone.now() + timedelta(hours=1))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return Staff(user, ui, api)

    return make


def params(endpoint: Endpoint, subscriber: Subscriber, purpose: str,
           reference: str) -> dict[str, str]:
    given = {"purpose": purpose, "reference": reference}
    if endpoint.name == "search":
        given["q"] = subscriber.account_number
    if endpoint.post:
        given.update(channel="phone", summary="Customer called about an evening outage")
    return given


def audited(call: Callable[[], Any]) -> tuple[Any, list[AuditEntry]]:
    """Make one request; return its response and the audit entries it wrote."""
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = call()
    return response, list(AuditEntry.objects.filter(seq__gt=last).order_by("seq"))


def comparable(entry: AuditEntry) -> dict[str, object]:
    subject = entry.subject
    if entry.event == "subscriber:interaction:annotate":
        subject = subject.split("/interaction:")[0]  # each channel stores its own note
    return {"actor": entry.actor, "role": entry.role, "event": entry.event,
            "purpose": entry.purpose, "reference": entry.reference, "subject": subject,
            "categories": entry.categories, "fields": entry.fields, "outcome": entry.outcome,
            "rule": entry.rule, "reason": entry.reason}


def check_both_channels(endpoint: Endpoint, role: str, purpose: str, reference: str,
                        staff: Staff, subscriber: Subscriber) -> Decision:
    expected = POLICY.decide(AccessRequest(role, purpose, endpoint.action, endpoint.categories,
                                           reference or None))
    data = params(endpoint, subscriber, purpose, reference)
    ui_path = endpoint.ui_path.format(pk=subscriber.pk)
    api_path = endpoint.api_path.format(pk=subscriber.pk)
    if endpoint.post:
        ui, ui_entries = audited(lambda: staff.ui.post(ui_path, data))
        api, api_entries = audited(lambda: staff.api.post(api_path, data, format="json"))
    else:
        ui, ui_entries = audited(lambda: staff.ui.get(ui_path, data))
        api, api_entries = audited(lambda: staff.api.get(api_path, data))

    want_ui = endpoint.ui_allowed if expected.allowed else 403
    want_api = endpoint.api_allowed if expected.allowed else 403
    assert (ui.status_code, api.status_code) == (want_ui, want_api), (
        f"policy says {expected.rule}: UI gave {ui.status_code} (want {want_ui}), "
        f"API gave {api.status_code} (want {want_api})"
    )
    if not expected.allowed:
        assert api.json()["rule"] == expected.rule
    assert [e.channel for e in ui_entries] == ["web"], "UI call must write one audit entry"
    assert [e.channel for e in api_entries] == ["api"], "API call must write one audit entry"
    ui_entry, api_entry = ui_entries[0], api_entries[0]
    assert (ui_entry.rule, ui_entry.outcome) == (expected.rule, "allowed" if expected.allowed
                                                 else "refused")
    assert comparable(ui_entry) == comparable(api_entry)
    return expected


@pytest.mark.parametrize(("endpoint", "role", "purpose", "reference"), matrix())
def test_ui_and_api_decide_as_the_policy_does(
    staff_in: Callable[[str], Staff], subscriber: Subscriber,
    endpoint: Endpoint, role: str, purpose: str, reference: str,
) -> None:
    check_both_channels(endpoint, role, purpose, reference, staff_in(role), subscriber)


@pytest.mark.parametrize(("endpoint", "role", "purpose", "reference"), reference_cases())
def test_missing_or_malformed_reference_is_refused_alike(
    staff_in: Callable[[str], Staff], subscriber: Subscriber,
    endpoint: Endpoint, role: str, purpose: str, reference: str,
) -> None:
    decision = check_both_channels(endpoint, role, purpose, reference, staff_in(role),
                                   subscriber)
    suffix = "reference-required" if not reference else "reference-malformed"
    assert not decision.allowed
    assert decision.rule.endswith(suffix)


def test_the_matrix_covers_the_whole_policy() -> None:
    # Generated from the file: a role or purpose added to the policy grows the matrix.
    cases = [case.values for case in matrix()]
    assert len(cases) == len(ENDPOINTS) * len(POLICY.roles) * (len(POLICY.purposes) + 1)
    decided = [
        (endpoint, POLICY.decide(AccessRequest(role, purpose, endpoint.action,
                                               endpoint.categories, reference or None)))
        for endpoint, role, purpose, reference in cases
    ]
    # Each endpoint is both allowed and refused somewhere, so both paths are exercised...
    for endpoint in ENDPOINTS:
        outcomes = {decision.allowed for e, decision in decided if e is endpoint}
        assert outcomes == {True, False}, endpoint.name
    # ...and every kind of refusal the policy can give without a bad reference occurs.
    rules = {decision.rule for _, decision in decided}
    assert {"deny:unknown-purpose", "deny:default"} <= rules
    assert any(rule.startswith("deny:forbidden-purpose:") for rule in rules)
    assert any(rule.endswith(":no-category") for rule in rules)
    assert len(reference_cases()) >= 2 * sum(1 for g in POLICY.grants if g.reference)
