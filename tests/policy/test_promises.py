"""Each promise of the published privacy policy, mapped to the rule that enforces it.

The seed policy's sentences are quoted from tests/fixtures/privacy-policy-seed.txt; if a promise
is reworded or a rule loosened, the matching test fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cpniguard.policy import AccessRequest, Action, Policy
from cpniguard.subscribers.catalog import FIELDS

SEED = (Path(__file__).parent.parent / "fixtures" / "privacy-policy-seed.txt").read_text()
RECORD_KINDS = {
    "names": "name",
    "billing and service addresses": ("billing_address", "service_address"),
    "telephone numbers": "phone",
    "email addresses": "email",
    "billing information": "billing_info",
    "details about Softcom services used by the customer": "services",
    "details about interactions with Softcom staff": "interactions",
}
SERVICE_PURPOSES = {"provide_service", "billing", "troubleshooting"}


def promise(text: str) -> str:
    assert text in SEED, f"the seed policy no longer says: {text!r}"
    return text


def everyone(policy: Policy, purpose: str, action: Action, categories: frozenset[str]
             ) -> list[bool]:
    return [policy.decide(AccessRequest(role, purpose, action, categories,
                                        "LR-2026-0001")).allowed
            for role in policy.roles]


def test_every_kind_of_record_kept_is_a_private_cpni_category(policy: Policy) -> None:
    promise("Softcom keeps information about its customers such as names, billing and service"
            " addresses, telephone numbers, email addresses, billing information")
    for phrase, categories in RECORD_KINDS.items():
        promise(phrase)
        for category in (categories,) if isinstance(categories, str) else categories:
            assert policy.categories[category].cpni, category
            assert FIELDS[category], f"no record field carries {category}"


def test_records_are_used_only_to_provide_bill_and_troubleshoot(policy: Policy) -> None:
    promise("used for the purposes of providing the service, billing for the service, and"
            " troubleshooting the service except as provided below")
    for grant in policy.grants:
        if grant.categories & policy.cpni_categories:
            assert grant.purpose in SERVICE_PURPOSES | {"legal_process"}, grant.id


@pytest.mark.parametrize("purpose", ["marketing", "sale", "third_party_sharing"])
def test_no_role_may_use_records_for_other_purposes(policy: Policy, purpose: str) -> None:
    promise("All such information is considered private")
    for action in Action:
        assert not any(everyone(policy, purpose, action, policy.cpni_categories))
    assert policy.purposes[purpose].forbidden


def test_connectivity_logs_are_kept_for_a_declared_time(policy: Policy) -> None:
    promise("Softcom keeps logs of various technical information pertaining to customer"
            " connectivity")
    assert "connectivity_logs" in policy.categories
    for source in ("radius_accounting", "dhcp_leases", "cgnat_port_blocks"):
        assert policy.retention[source] > 0


def test_service_quality_data_stays_with_technical_staff(policy: Policy) -> None:
    promise("for internal use only by Softcom\N{RIGHT SINGLE QUOTATION MARK}s technical staff"
            " and not shared outside Softcom")
    holders = {g.role for g in policy.grants if "service_quality" in g.categories
               and g.actions != {Action.PURGE}}
    assert holders == {"noc"}
    # Deleting is not using: the only other grant is retention's, and it may only purge.
    purgers = [(g.role, g.purpose) for g in policy.grants if "service_quality" in g.categories
               and g.actions == {Action.PURGE}]
    assert purgers == [("admin", "retention")]
    for grant in policy.grants:
        if "service_quality" in grant.categories:
            assert not policy.purposes[grant.purpose].third_party
            assert Action.EXPORT not in grant.actions


def test_disclosure_only_on_legal_process_within_its_scope(policy: Policy) -> None:
    promise("Softcom will respond to that request only within the scope of that request")
    third_party = [p.id for p in policy.purposes.values() if p.third_party and not p.forbidden]
    assert third_party == ["legal_process"]
    exporters = [g for g in policy.grants if Action.EXPORT in g.actions
                 and g.categories & policy.cpni_categories]
    assert [g.id for g in exporters] == ["custodian-legal-process"]
    grant = exporters[0]
    # A case reference ties every legal-process access to one request (and so its scope).
    assert grant.reference == "legal_case"
    assert not policy.decide(AccessRequest("custodian", "legal_process", Action.EXPORT,
                                           policy.cpni_categories)).allowed
