"""Validation, kind by kind, from the rules of the shipped policy file (no database).

Every expectation is derived from `policy.legal_process[kind]`, so the tests follow the file:
a request built to satisfy a kind's rules has no error, and taking away any one thing the
kind requires produces the finding that names it.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpniguard.legal.findings import Finding, Severity
from cpniguard.legal.rules import Context, check
from cpniguard.policy import Policy, current_policy

from .conftest import CGNAT_POOL, NOW, document_for, kinds

CONTEXT = Context(now=NOW, pools=(ipaddress.ip_network(CGNAT_POOL),))


def run(policy: Policy, document: Any, context: Context = CONTEXT) -> list[Finding]:
    return check(policy, document, context)[1]


def codes(findings: list[Finding], severity: Severity = Severity.ERROR) -> list[str]:
    return [f.code for f in findings if f.severity is severity]


@pytest.mark.parametrize("kind", kinds())
def test_a_request_meeting_its_kinds_rules_has_no_error(policy: Policy, kind: str) -> None:
    findings = run(policy, document_for(policy.legal_process[kind]))
    assert codes(findings) == [], [f.message for f in findings]


@pytest.mark.parametrize("kind", kinds())
def test_each_required_field_is_named_when_missing(policy: Policy, kind: str) -> None:
    rules = policy.legal_process[kind]
    names = {"agent_name": ("agent", "name"), "agent_contact": ("agent", "contact"),
             "contact_verification": ("agent", "verified_by"), "signature": ("signed",)}
    for field in sorted(rules.required):
        document = document_for(rules)
        path = names.get(field, (field,))
        holder = document if len(path) == 1 else document[path[0]]
        del holder[path[-1]]
        errors = [f for f in run(policy, document) if f.severity is Severity.ERROR]
        assert [f.field for f in errors] == [field], (kind, field, errors)
        expected = "signature-missing" if field == "signature" else "field-required"
        assert errors[0].code == expected


@pytest.mark.parametrize("kind", kinds())
def test_required_documents_are_named_when_missing(policy: Policy, kind: str) -> None:
    rules = policy.legal_process[kind]
    for document_kind in sorted(rules.required_documents):
        document = document_for(rules, documents=sorted(rules.required_documents
                                                        - {document_kind}))
        errors = [f for f in run(policy, document) if f.severity is Severity.ERROR]
        assert [(f.code, f.items) for f in errors] == [("document-missing", (document_kind,))]
        assert policy.legal_documents[document_kind] in errors[0].message


def test_a_subpoena_reaches_only_basic_subscriber_information(policy: Policy) -> None:
    rules = policy.legal_process["grand_jury_subpoena"]
    asked = [*sorted(rules.may_compel), "interactions", "service_quality"]
    findings = run(policy, document_for(rules, categories=asked))
    [finding] = [f for f in findings if f.code == "category-not-compellable"]
    assert finding.items == ("interactions", "service_quality")
    assert "2703(c)(2)" in finding.message
    assert "narrow to " + ", ".join(sorted(rules.may_compel)) in finding.message
    # The same records are within a 2703(d) order, except service-quality data (never).
    order = run(policy, document_for(policy.legal_process["order_2703d"], categories=asked))
    [finding] = [f for f in order if f.code == "category-not-compellable"]
    assert finding.items == ("service_quality",)


def test_narrowing_clears_the_category_error_and_says_so(policy: Policy) -> None:
    rules = policy.legal_process["administrative_subpoena"]
    document = document_for(rules, categories=["name", "interactions"])
    scoped = Context(now=NOW, pools=CONTEXT.pools, scope=frozenset({"name"}))
    findings = run(policy, document, scoped)
    assert codes(findings) == []
    [note] = [f for f in findings if f.code == "narrowed"]
    assert note.items == ("interactions",)
    assert "partial compliance" in note.message


def test_nothing_within_the_kind_means_reject(policy: Policy) -> None:
    rules = policy.legal_process["dmca_subpoena"]
    findings = run(policy, document_for(rules, categories=["connectivity_logs"]))
    [finding] = [f for f in findings if f.code == "category-not-compellable"]
    assert "reject: nothing asked is within it" in finding.message


def test_unknown_categories_are_named(policy: Policy) -> None:
    rules = policy.legal_process["search_warrant"]
    findings = run(policy, document_for(rules, categories=["name", "dna_sample"]))
    assert [(f.code, f.items) for f in findings if f.severity is Severity.ERROR] == [
        ("category-unknown", ("dna_sample",))]


def test_emergency_without_certification_has_its_follow_up_deadline(policy: Policy) -> None:
    rules = policy.legal_process["emergency_request"]
    findings = run(policy, document_for(rules, documents=[]))
    assert codes(findings) == ["document-missing"]
    [due] = [f for f in findings if f.code == "follow-up-due"]
    # Served 2026-11-23 (its own zone's date), plus the policy's follow-up days.
    expected = (NOW.replace(day=23) + timedelta(days=rules.follow_up_days or 0)).date()
    assert due.items == (expected.isoformat(),)


def test_dmca_subpoena_is_flagged_for_counsel(policy: Policy) -> None:
    findings = run(policy, document_for(policy.legal_process["dmca_subpoena"]))
    [review] = [f for f in findings if f.code == "counsel-review"]
    assert review.severity is Severity.WARNING
    assert review.message.startswith(
        "counsel review: 512(h) may not reach an access-only provider")


def test_a_due_date_in_the_past_is_a_warning(policy: Policy) -> None:
    rules = policy.legal_process["trial_subpoena"]
    findings = run(policy, document_for(rules, response_due="2026-11-28"))
    assert "response-due-passed" in codes(findings, Severity.WARNING)
    assert codes(findings) == []


def test_missing_signature_and_wrong_addressee_are_errors(policy: Policy) -> None:
    rules = policy.legal_process["order_2703d"]
    findings = run(policy, document_for(rules, signed=False,
                                        addressed_to="Another Carrier, LLC"))
    assert sorted(codes(findings)) == ["not-addressed-to-us", "signature-missing"]
    # Punctuation, case and a corporate suffix do not make it someone else.
    same = run(policy, document_for(rules, addressed_to="example rural broadband"))
    assert codes(same) == []


def test_cgnat_address_without_port_and_instants_without_zone(policy: Policy) -> None:
    rules = policy.legal_process["administrative_subpoena"]
    targets = [{"kind": "ip", "value": "198.51.100.7", "at": "2026-11-18T14:05:03Z"},
               {"kind": "ip", "value": "192.0.2.10", "at": "2026-11-18 14:05:03"},
               {"kind": "ip", "value": "192.0.2.11"},
               {"kind": "ip", "value": "not-an-address", "at": "2026-11-18T14:05:03Z"},
               {"kind": "fax", "value": "555-0100"}]
    findings = [f for f in run(policy, document_for(rules, targets=targets))
                if f.severity is Severity.ERROR]
    assert [(f.code, f.target) for f in findings] == [
        ("target-instant-no-zone", 1), ("target-instant-missing", 2),
        ("target-malformed", 3), ("target-kind-unknown", 4), ("port-required", 0)]
    assert CGNAT_POOL in findings[-1].message


def test_pen_trap_order_is_prospective_sealed_and_limited(policy: Policy) -> None:
    rules = policy.legal_process["pen_trap_order"]
    long = {"from": "2026-11-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"}
    findings = run(policy, document_for(rules, date_range=long))
    assert codes(findings) == ["date-range-too-long"]
    assert "range-before-service" in codes(findings, Severity.WARNING)
    assert "sealed" in codes(findings, Severity.INFO)


def test_civil_subpoena_notice_wait_comes_from_the_policy(policy: Policy) -> None:
    rules = policy.legal_process["civil_subpoena"]
    [notice] = [f for f in run(policy, document_for(rules)) if f.code == "customer-notice"]
    assert f"production waits {rules.notice_wait_days} days" in notice.message
    assert rules.notice_wait_days == 14


@pytest.mark.parametrize("document", [None, [], "subpoena", 7, {"kind": 7},
                                      {"targets": "everyone", "categories": "all",
                                       "signed": "yes", "issued": "yesterday",
                                       "date_range": ["a", "b"], "agent": "Sam",
                                       "nondisclosure": True, "documents": {}}])
def test_malformed_documents_become_findings(policy: Policy, document: Any) -> None:
    findings = run(policy, document)
    assert any(f.severity is Severity.ERROR for f in findings)


# ---------------------------------------------------------------- property
TEXT = st.text(max_size=12)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
POLICY = current_policy()
CATEGORY_NAMES = [*sorted(POLICY.categories), "dna_sample", ""]
INSTANTS = st.sampled_from(["2026-11-18T14:05:03Z", "2026-11-18 14:05:03",
                            "2026-11-18 09:30:00 America/New_York", "2026-13-40", "", "noon"])
TARGETS = st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(["ip", "phone", "email", "account", "name", "address", "fax"]),
    "value": st.sampled_from(["198.51.100.7", "198.51.100.7:40001", "[2001:db8::1]:443",
                              "(802) 555-0142", "a@example.net", "A100", "x", ""]),
    "at": INSTANTS}) | JSONISH, max_size=4)
KINDS = st.sampled_from([*sorted(POLICY.legal_process), "writ"])
ASKED = st.lists(st.sampled_from(CATEGORY_NAMES), max_size=8)
OTHER_FIELDS = {
    "targets": TARGETS, "signed": st.booleans() | JSONISH,
    "issued": st.sampled_from(["2026-11-20", "2026-11-20T10:00:00-05:00", "soon"]) | JSONISH,
    "served": INSTANTS | JSONISH, "response_due": INSTANTS | JSONISH,
    "date_range": st.fixed_dictionaries({"from": INSTANTS, "to": INSTANTS}) | JSONISH,
    "addressed_to": TEXT | JSONISH, "agent": JSONISH,
    "nondisclosure": st.fixed_dictionaries({"ordered": st.booleans(),
                                            "until": INSTANTS}) | JSONISH,
    "documents": st.lists(st.sampled_from(sorted(POLICY.legal_documents)), max_size=3)
    | JSONISH,
}
# Half the documents name a kind and ask for categories (the scope rule is exercised); the
# others may lack or garble anything.
DOCUMENTS = st.fixed_dictionaries({"kind": KINDS, "categories": ASKED}, optional=OTHER_FIELDS) \
    | st.fixed_dictionaries({}, optional={"kind": KINDS | JSONISH, "categories": ASKED | JSONISH,
                                          **OTHER_FIELDS})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS | JSONISH)
def test_random_requests_never_crash_and_name_exactly_what_is_out_of_scope(
        document: Any) -> None:
    findings = run(POLICY, document)
    assert all(isinstance(f, Finding) for f in findings)
    beyond = [f for f in findings if f.code == "category-not-compellable"]
    kind = POLICY.legal_process.get(document.get("kind")) \
        if isinstance(document, dict) and isinstance(document.get("kind"), str) else None
    asked = document.get("categories") if isinstance(document, dict) else None
    if kind is None or not isinstance(asked, list) \
            or not all(isinstance(c, str) for c in asked):
        assert beyond == []
        return
    outside = sorted({c.strip() for c in asked if c.strip() in POLICY.categories}
                     - kind.may_compel)
    if outside:
        [finding] = beyond
        assert sorted(finding.items) == outside
        assert finding.severity is Severity.ERROR
    else:
        assert beyond == []
