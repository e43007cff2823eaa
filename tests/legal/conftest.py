"""Legal desk fixtures: a valid request document per kind, staff at the desk, a CLI user."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.policy import Policy, current_policy
from cpniguard.policy.legal_process import LegalProcessKind

# A CGNAT public pool for the tests (RFC 5737); addresses outside it need no port.
CGNAT_POOL = "198.51.100.0/26"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OS_USER = "legaldesk"

FIELDS: dict[str, Any] = {
    "issuing_authority": "Example Agency, Office of Inspector General",
    "court": "United States District Court for the District of Vermont",
    "case_number": "CR-2026-0117",
    "addressed_to": "Example Rural Broadband, Inc.",
    "signed": True,
    "issued": "2026-11-20",
    "served": "2026-11-23T10:15:00-05:00",
    "response_due": "2026-12-14",
    "targets": [
        {"kind": "ip", "value": "198.51.100.7:40001", "at": "2026-11-18T14:05:03-06:00"},
        {"kind": "ip", "value": "192.0.2.10", "at": "2026-11-18 09:30:00 America/New_York"},
        {"kind": "phone", "value": "(802) 555-0142"},
    ],
    "date_range": {"from": "2026-11-24T00:00:00Z", "to": "2026-12-20T00:00:00Z"},
}
AGENT = {"name": "Investigator Sam Example", "contact": "sam.example@oig.example.gov",
         "verified_by": "called back on the agency's published number (555) 010-0199"}


def document_for(kind: LegalProcessKind, **changes: Any) -> dict[str, Any]:
    """A request of `kind` that satisfies every rule the policy has for it."""
    document: dict[str, Any] = {"format": "cpniguard-legal-request/1", "kind": kind.id}
    document.update(copy.deepcopy(FIELDS))
    document["agent"] = dict(AGENT)
    document["categories"] = sorted(kind.may_compel)
    document["documents"] = sorted(kind.required_documents)
    if "nondisclosure" in kind.required:
        document["nondisclosure"] = {"ordered": True, "until": "2027-06-01"}
    if kind.past_only:
        document["date_range"] = {"from": "2026-11-01T00:00:00Z",
                                  "to": "2026-11-20T00:00:00Z"}
    document.update(changes)
    return document


@pytest.fixture
def subpoena(policy: Policy) -> dict[str, Any]:
    return document_for(policy.legal_process["grand_jury_subpoena"])


@pytest.fixture(autouse=True)
def _cgnat_pool_and_own_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CPNIGUARD_CGNAT_POOLS", CGNAT_POOL)
    # Attachments of one test (some deliberately damaged) stay out of the others' way.
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path / "home"))


@pytest.fixture
def as_os_user(monkeypatch: pytest.MonkeyPatch,
               make_staff: Callable[..., StaffUser]) -> Callable[..., StaffUser]:
    """`as_os_user("custodian", "dana")`: the CLI now acts as staff member dana."""

    def link(role: str, username: str | None = None) -> StaffUser:
        for name in ("LOGNAME", "USER"):
            monkeypatch.setenv(name, OS_USER)
        StaffUser.objects.filter(os_username=OS_USER).update(os_username=None)
        existing = StaffUser.objects.filter(username=username or f"{role}1").first()
        if existing is not None:
            existing.os_username = OS_USER
            existing.save()
            return existing
        return make_staff(role, username, os_username=OS_USER)

    return link


def kinds() -> list[str]:
    return sorted(current_policy().legal_process)
