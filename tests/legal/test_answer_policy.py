"""The policy keys the answering desk reads are checked like the others, each problem on its
own line: preservation at intake needs a preservation period, banded kinds must exist."""

from __future__ import annotations

import pytest

from cpniguard.policy import InvalidPolicy, Policy, parse_policy
from cpniguard.policy.loader import default_policy_text


def errors_of(text: str) -> list[str]:
    with pytest.raises(InvalidPolicy) as raised:
        parse_policy(text, "ops.toml")
    return [e.message for e in raised.value.errors]


def test_the_shipped_rules(policy: Policy) -> None:
    kind = policy.legal_process["preservation_letter"]
    assert (kind.preserve_on_intake, kind.preserve_days, kind.renewals) == (True, 90, 1)
    assert policy.legal_desk.banded_kinds == ("national_security_letter",)
    assert policy.legal_desk.band_width == 500
    assert policy.legal_process["national_security_letter"].sealed
    assert policy.retention["disclosure_log"] == 1825


def test_preserve_on_intake_needs_preserve_days() -> None:
    text = default_policy_text().replace(
        '[legal_process.search_warrant]\n', '[legal_process.search_warrant]\n'
        'preserve_on_intake = true\n')
    assert "legal_process.search_warrant: preserve_on_intake needs preserve_days" in \
        errors_of(text)


@pytest.mark.parametrize(("setting", "message"), [
    ('banded_kinds = ["secret_letter"]', "legal_desk.banded_kinds names unknown kind "
                                         "'secret_letter'"),
    ("band_width = 0", "legal_desk.band_width must be a whole number, at least 1"),
    ('banded_kinds = "national_security_letter"', "legal_desk.banded_kinds must be a list "
                                                  "of kinds"),
])
def test_bad_band_settings_are_named(setting: str, message: str) -> None:
    text = default_policy_text()
    key = setting.split(" =")[0]
    lines = [setting if line.startswith(f"{key} =") else line for line in text.splitlines()]
    assert message in errors_of("\n".join(lines))
