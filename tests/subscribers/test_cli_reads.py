"""`cpniguard subscribers search|show`: the CLI gives the same decision and the same record as
the services it calls, masks what the purpose does not need, and exits 3 on refusal."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cpniguard.access import AccessRefused, Actor
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.subscribers import services
from cpniguard.subscribers.models import Subscriber

pytestmark = pytest.mark.django_db
OS_USER = "deskclerk"
# (role, purpose, reference): allowed, masked, refused for each reason the policy has.
CASES = [
    ("support", "provide_service", None),
    ("support", "troubleshooting", None),
    ("support", "troubleshooting", "TKT-100042"),
    ("support", "troubleshooting", "ticket 42"),
    ("noc", "troubleshooting", "TKT-100042"),
    ("noc", "provide_service", None),
    ("billing", "billing", None),
    ("billing", "marketing", None),
    ("custodian", "legal_process", "LR-2026-0042"),
    ("compliance", "compliance_review", None),
    ("admin", "provide_service", None),
    ("auditor", "sale", None),
]


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch,
         make_staff: Callable[..., StaffUser]) -> Callable[[str], None]:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)

    def as_role(role: str) -> None:
        StaffUser.objects.update(os_username=None)
        staff = StaffUser.objects.filter(role=role).first() or make_staff(role)
        staff.os_username = OS_USER
        staff.save(update_fields=["os_username"])

    return as_role


def cli(*argv: str) -> int:
    return main(["subscribers", *argv])


def with_reference(reference: str | None) -> list[str]:
    return ["--reference", reference] if reference else []


@pytest.mark.parametrize(("role", "purpose", "reference"), CASES)
def test_show_decides_like_the_service(
    subscriber: Subscriber, link: Callable[[str], None], capsys: pytest.CaptureFixture[str],
    role: str, purpose: str, reference: str | None,
) -> None:
    link(role)
    try:
        expected: dict[str, object] | AccessRefused = services.detail(
            Actor.for_os_user(), subscriber.pk, purpose=purpose, reference=reference)
    except AccessRefused as refused:
        expected = refused
    code = cli("show", str(subscriber.pk), "--purpose", purpose, *with_reference(reference),
               "--json")
    out, err = capsys.readouterr()
    if isinstance(expected, AccessRefused):
        assert code == 3
        assert f"(rule {expected.decision.rule})" in err
        assert json.loads(out) == {"error": "refused", "reason": expected.decision.reason,
                                   "rule": expected.decision.rule}
    else:
        assert code == 0
        assert json.loads(out) == json.loads(json.dumps(expected, default=str))
    first, second = AuditEntry.objects.order_by("seq")
    assert (first.outcome, first.rule) == (second.outcome, second.rule)
    assert second.channel == "cli"
    assert second.actor == f"{role}1 (os:{OS_USER})"


@pytest.mark.parametrize(("role", "purpose", "reference"), CASES)
@pytest.mark.parametrize("query", ["Whitfield", "A1000001", "+18025550142"])
def test_search_decides_like_the_service(
    subscriber: Subscriber, link: Callable[[str], None], capsys: pytest.CaptureFixture[str],
    role: str, purpose: str, reference: str | None, query: str,
) -> None:
    link(role)
    try:
        expected: list[dict[str, object]] | AccessRefused = services.search(
            Actor.for_os_user(), query, purpose=purpose, reference=reference)
    except AccessRefused as refused:
        expected = refused
    code = cli("search", query, "--purpose", purpose, *with_reference(reference), "--json")
    out, err = capsys.readouterr()
    if isinstance(expected, AccessRefused):
        assert (code, json.loads(out)["rule"]) == (3, expected.decision.rule)
        assert expected.decision.reason in err
    else:
        assert code == 0
        assert json.loads(out) == {"purpose": purpose, "results": expected}


def test_show_masks_what_the_purpose_does_not_need(
    subscriber: Subscriber, link: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    link("support")
    assert cli("show", str(subscriber.pk), "--purpose", "provide_service") == 0
    out = capsys.readouterr().out
    assert "Billing information: masked (not needed for provide_service)" in out
    assert "Billing address: masked (not needed for provide_service)" in out
    assert "last_name: Whitfield" in out
    assert "tok_8f3b2a" not in out
    assert "PO Box 118" not in out
    assert "rule grant:support-provide-service" in out


def test_search_prints_masked_columns(
    subscriber: Subscriber, link: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    link("noc")
    assert cli("search", "Whitfield", "--purpose", "provide_service") == 0
    assert capsys.readouterr().out.strip() == "no match"  # NOC may not search by name
    assert cli("search", "A1000001", "--purpose", "provide_service") == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:2] == ["ID", "ACCOUNT"]
    assert row.split() == [str(subscriber.pk), "A1000001", "masked", "Millbrook,", "VT"]


def test_missing_subscriber_exits_4_and_is_audited(
    db: None, link: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    link("billing")
    assert cli("show", "424242", "--purpose", "billing", "--json") == 4
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": "not_found", "id": 424242}
    assert "no subscriber 424242" in err
    assert AuditEntry.objects.get().outcome == "not_found"
