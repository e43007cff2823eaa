"""The demo's legal desk: requests seeded through the desk's own services, in every state,
with the answers the services give (no records, port required, held from the purge)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.answers import Ask, answer_one
from cpniguard.demo.connectivity import DEMO_ZONE, seed_connectivity
from cpniguard.demo.legal_requests import (
    UNKNOWN_ACCOUNT,
    UNKNOWN_EMAIL,
    LegalDemo,
    seed_legal_requests,
)
from cpniguard.demo.seed import seed_demo
from cpniguard.legal.desk import list_requests
from cpniguard.legal.letters import letter_for
from cpniguard.legal.models import LegalRequest
from cpniguard.legal.notice_models import CustomerNotice
from cpniguard.legal.outcomes import Disclosure, Preservation, Production
from cpniguard.legal.production import produce
from cpniguard.subscribers.models import Email, Subscriber

pytestmark = pytest.mark.django_db
OS_USER = "demo-operator"
CUSTODIAN = Actor("custodian1", "custodian", Channel.CLI)
STATUSES = {"received", "validating", "approved", "rejected", "produced", "delivered",
            "closed", "withdrawn"}


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LegalDemo:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path / "home"))
    for name in ("CPNIGUARD_CGNAT_POOLS", "CPNIGUARD_LOGSTORE"):
        monkeypatch.delenv(name, raising=False)  # the demo's own network.toml and store
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)  # linked to admin1 by the seeder
    today = datetime.now(UTC).date()
    seed_demo(80, 7, today=today)
    logs = seed_connectivity(today, 7, subscribers=40, days=3)
    return seed_legal_requests(logs.log_dir / "truth.csv", DEMO_ZONE)


def _by_story(demo: LegalDemo, words: str) -> LegalRequest:
    [seeded] = [r for r in demo.requests if words in r.story]
    return LegalRequest.objects.get(reference=seeded.reference)


def test_every_state_is_reached_through_the_desk(demo: LegalDemo) -> None:
    assert {r.status for r in demo.requests} == STATUSES
    assert len(demo.requests) == LegalRequest.objects.count() == 10
    # Each request went through intake and every step left its audit entry and transition.
    assert AuditEntry.objects.filter(event="legal:request:import", outcome="allowed").count() \
        == 10
    for request in LegalRequest.objects.all():
        steps = list(request.transitions.values_list("to_status", flat=True))
        assert steps[0] == "received"
        assert steps[-1] == request.status
    approvals = Counter(tuple(sorted(r.approvals.values_list("who", flat=True)))
                        for r in LegalRequest.objects.filter(approvals__isnull=False)
                        .distinct())
    assert set(approvals) == {("counsel1", "custodian1"), ("custodian1",)}
    lines = "\n".join(demo.lines())
    assert all(r.reference in lines for r in demo.requests)

    # The over-broad subpoena: narrowed, its letter says why, and its IP targets (real
    # holdings from the logs) answered with records through the attribution engine.
    broad = _by_story(demo, "over-broad")
    assert broad.status == "produced"
    assert "interactions" in broad.categories
    assert "interactions" not in (broad.scope or [])
    name, letter = letter_for(CUSTODIAN, broad.reference)
    assert name.endswith("partial-compliance.pdf")
    assert b"interactions" in letter
    made = Production.objects.get(request=broad)
    assert [a["status"] for a in made.answers] == ["records", "records", "records"]
    assert made.rows > 0
    assert len(made.subscribers) >= 1

    emergency = _by_story(demo, "emergency")
    assert emergency.status == "delivered"
    assert list(emergency.attachments.values_list("name", flat=True)) == [
        "emergency-certification.pdf"]
    assert emergency.findings.filter(code="follow-up-due").exists()
    assert Disclosure.objects.get(reference=emergency.reference).outcome == "complied_fully"

    overdue = [r["reference"] for r in list_requests(CUSTODIAN) if r["overdue"]]
    assert overdue == [_by_story(demo, "OVERDUE").reference]

    # The civil subpoena: its subscriber was sent a notice, and production waits for it.
    civil = _by_story(demo, "civil subpoena")
    assert civil.status == "approved"
    [notice] = CustomerNotice.objects.filter(request=civil)
    assert notice.sent is not None
    assert notice.letter_sha256
    with pytest.raises(AccessRefused, match="notice"):
        produce(CUSTODIAN, civil.reference)
    assert LegalRequest.objects.get(pk=civil.pk).status == "approved"


def test_a_subscriber_we_do_not_have_gets_no_records_and_nothing_else(
        demo: LegalDemo) -> None:
    request = _by_story(demo, "do not have")
    assert request.status == "closed"
    made = Production.objects.get(request=request)
    assert (made.rows, made.subscribers) == (0, [])
    assert [(a["status"], a["note"]) for a in made.answers] == [("no_records", "no records")] * 2
    data = json.loads((Path(made.directory) / "data.json").read_text())
    assert data["rows"] == []
    assert (Path(made.directory) / "data.csv").read_text().splitlines() == [
        "target,subscriber,category,field,value,at,clause"]
    # Nothing of any of our customers is in any file of the package.
    ours = list(Subscriber.objects.values_list("account_number", flat=True)) + list(
        Email.objects.values_list("address", flat=True))
    for path in Path(made.directory).iterdir():
        content = path.read_bytes()
        assert not [value for value in ours if value.encode() in content], path.name
    assert UNKNOWN_ACCOUNT.encode() in (Path(made.directory) / "data.json").read_bytes()
    logged = Disclosure.objects.get(reference=request.reference)
    assert (logged.outcome, logged.subscribers, logged.rows) == ("no_data", [], 0)
    assert f"email {UNKNOWN_EMAIL}" in logged.targets


def test_a_shared_cgnat_address_without_a_port_names_nobody(demo: LegalDemo) -> None:
    request = _by_story(demo, "without a port")
    assert request.status == "rejected"
    [finding] = request.findings.filter(code="port-required")
    assert finding.severity == "error"
    name, letter = letter_for(CUSTODIAN, request.reference)
    assert name.endswith("rejection.pdf")
    assert b"source port" in letter
    assert not Production.objects.filter(request=request).exists()
    logged = Disclosure.objects.get(reference=request.reference)
    assert (logged.outcome, logged.subscribers) == ("rejected", [])
    # The attribution engine gives the same answer to the same question, naming no one.
    [target] = request.targets.all()
    assert target.instant is not None
    answer = answer_one(CUSTODIAN, Ask(target.value, target.instant.isoformat()),
                        purpose="legal_process", reference=request.reference)
    assert answer["status"] == "port_required"
    assert answer["subscriber"] is None


def test_the_preservation_holds_show_in_the_retention_dry_run(
        demo: LegalDemo, capsys: pytest.CaptureFixture[str]) -> None:
    kept = Preservation.objects.get(request__reference=demo.preservation)
    assert kept.renewals == 1
    assert len(kept.holds) == demo.holds == 2
    assert demo.dry_run_now is not None
    capsys.readouterr()
    now = demo.dry_run_now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"retention run --dry-run --now {now}" in "\n".join(demo.lines())
    assert main(["retention", "run", "--dry-run", "--now", now, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    held = [day for day in report["days"] if day["kept"]]
    assert held, "the dry run should show rows kept by the preservation's holds"
    assert {h for day in held for h in day["holds"]} <= set(kept.holds)
    assert report["totals"]["rows_removed"] > 0  # the rest of those days would go


def test_without_logs_only_the_requests_naming_addresses_are_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path / "home"))
    seed_demo(10, 3, link_os_user=False)
    demo = seed_legal_requests(tmp_path / "no-logs" / "truth.csv", DEMO_ZONE)
    assert [(r.kind, r.status) for r in demo.requests] == [("administrative_subpoena",
                                                             "closed")]
    assert len(demo.skipped) == 9
    assert all("holding to name" in why for why in demo.skipped)
    assert demo.dry_run_now is None
    assert "not seeded" in "\n".join(demo.lines())
