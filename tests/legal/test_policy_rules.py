"""The `[legal_process.<kind>]` tables of the policy file: loaded, checked line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpniguard.cli import main
from cpniguard.policy import InvalidPolicy, Policy, parse_policy
from cpniguard.policy.loader import default_policy_text

ISSUE_KINDS = {"grand_jury_subpoena", "administrative_subpoena", "trial_subpoena",
               "civil_subpoena", "dmca_subpoena", "order_2703d", "search_warrant",
               "pen_trap_order", "preservation_letter", "emergency_request",
               "nondisclosure_order", "other",
               "national_security_letter"}  # reported only in bands (transparency)
BASIC_SUBSCRIBER_INFORMATION = {"account", "name", "billing_address", "service_address",
                                "phone", "email", "billing_info", "services",
                                "connectivity_logs"}


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def errors_of(text: str) -> dict[int, str]:
    with pytest.raises(InvalidPolicy) as raised:
        parse_policy(text, "ops.toml")
    return {e.line: e.message for e in raised.value.errors}


def test_every_kind_of_process_is_described(policy: Policy) -> None:
    assert set(policy.legal_process) == ISSUE_KINDS
    assert policy.legal_desk.approvals == ("custodian", "counsel")
    assert policy.roles["counsel"].second_factor


def test_what_each_kind_may_compel_follows_the_statutes(policy: Policy) -> None:
    kinds = policy.legal_process
    for subpoena in ("grand_jury_subpoena", "administrative_subpoena", "trial_subpoena"):
        assert kinds[subpoena].may_compel == BASIC_SUBSCRIBER_INFORMATION
    assert kinds["order_2703d"].may_compel == BASIC_SUBSCRIBER_INFORMATION | {"interactions"}
    assert kinds["order_2703d"].needs_court_order
    assert kinds["search_warrant"].needs_court_order
    pen_trap = kinds["pen_trap_order"]
    assert pen_trap.prospective
    assert pen_trap.sealed
    assert not pen_trap.customer_notice
    assert pen_trap.max_days == 60
    preservation = kinds["preservation_letter"]
    assert not preservation.discloses
    assert preservation.past_only
    assert (preservation.preserve_days, preservation.renewals) == (90, 1)
    assert "emergency_certification" in kinds["emergency_request"].required_documents
    assert kinds["emergency_request"].follow_up_days
    assert "access-only" in kinds["dmca_subpoena"].counsel_review
    assert kinds["civil_subpoena"].notice_wait_days == 14
    # Service-quality data stays inside the company, whatever the process.
    assert all("service_quality" not in k.may_compel for k in kinds.values())


def test_a_kind_naming_an_unknown_category_is_an_error_on_its_line() -> None:
    text = default_policy_text().replace(
        'may_compel = ["connectivity_logs"]', 'may_compel = ["connectivity_logs", "dna"]')
    errors = errors_of(text)
    line = line_of(text, '"connectivity_logs", "dna"]')
    assert "legal_process.pen_trap_order.may_compel names unknown categories ['dna']" \
        in errors[line]


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ('required_documents = ["emergency_certification"]',
     'required_documents = ["affidavit"]', '["affidavit"]',
     "documents not declared in [legal_documents]: ['affidavit']"),
    ('approvals = ["custodian", "counsel"]', 'approvals = ["custodian", "custodian"]',
     'approvals = ["custodian", "custodian"]', "at least two different roles"),
    ('approvals = ["custodian", "counsel"]', 'approvals = ["custodian", "judge"]',
     'approvals = ["custodian", "judge"]', "unknown roles ['judge']"),
    ("max_days = 60", "max_days = -1", "max_days = -1", "whole number of days"),
    ("sealed = true", "sealed = true\ncustomer_notice = true  # here", "# here",
     "sealed kind cannot allow customer notice"),
    ('label = "Grand jury subpoena"', 'label = "Grand jury subpoena"\nwrit = true',
     "writ = true", "unknown key 'writ'"),
])
def test_incoherent_rules_are_errors_on_their_lines(old: str, new: str, needle: str,
                                                     message: str) -> None:
    text = default_policy_text()
    assert old in text
    text = text.replace(old, new, 1)
    errors = errors_of(text)
    assert message in errors[line_of(text, needle)], errors


def test_a_required_field_the_format_does_not_have_is_an_error() -> None:
    text = default_policy_text().replace(
        'required = ["issuing_authority", "court", "case_number", "addressed_to", "signature"',
        'required = ["issuing_authority", "court", "case_number", "addressed_to", "seal"')
    errors = errors_of(text)
    assert "unknown request fields ['seal']" in errors[line_of(text, '"seal"')]
    assert "required" in errors[line_of(text, '"seal"')]


def test_policy_check_reports_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    text = default_policy_text().replace('may_compel = ["connectivity_logs"]',
                                         'may_compel = ["dna"]')
    bad.write_text(text)
    assert main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    line = line_of(text, 'may_compel = ["dna"]')
    assert f"{bad}:{line}: legal_process.pen_trap_order.may_compel" in err
