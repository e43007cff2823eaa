"""Scoped production end to end on real records, a real log store and the real gate: only the
named targets, only the categories asked and allowed, each row with its clause; ambiguous and
port_required answers reported, never resolved; the package sealed, delivered, logged."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cpniguard.access import AccessRefused
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal import workflow
from cpniguard.legal.models import Disclosure, LegalRequest, Production, Transition
from cpniguard.legal.package import MANIFEST, sha256
from cpniguard.legal.production import ScopeViolation, deliver, produce
from cpniguard.legal.status import BadTransition
from cpniguard.subscribers.models import Subscriber
from tests.legal.desk_setup import (
    ASKED_AT,
    COUNSEL,
    CUSTODIAN,
    RANGE,
    SESSION_START,
    approved,
    interval,
    link,
    session,
    store,
)

pytestmark = pytest.mark.django_db
__all__ = ["store"]  # the fixture, used by name

CLAUSE_1 = ("target 1: IP 192.0.2.10 at 2026-11-18T20:05:03Z; category name; allowed by "
            "18 U.S.C. 2703(c)(2) for a grand jury subpoena")
# Values of the subscriber fixture outside the narrowed scope: none may be in the package.
OUT_OF_SCOPE = ("dana.whitfield@example.net", "tok_8f3b2a", "4242", "PO Box 118",
                "Intermittent drops", "EX-AX1800", "Fiber 300", "A1000001")


def logs(store: EmbeddedLogStore) -> None:
    session(store, "192.0.2.10", "alice")
    # A CGNAT port block on 203.0.113.5: without a port nobody may be named.
    store.add("cgnat", [interval("203.0.113.5/32", SESSION_START,
                                 SESSION_START + timedelta(hours=4), ports=(1024, 2047),
                                 session_id="inside=100.64.0.5", source="cgnat")])
    # 192.0.2.20 changes hands one second after the instant asked: within the clock skew.
    handover = SESSION_START + timedelta(hours=1, minutes=5, seconds=4)
    store.add("radius-detail", [
        interval("192.0.2.20/32", SESSION_START, handover, username="alice", line=2),
        interval("192.0.2.20/32", handover, handover + timedelta(hours=1), username="bob",
                 line=3)])


def request(subpoena: dict[str, Any]) -> dict[str, Any]:
    return {**subpoena, "date_range": RANGE,
            "categories": ["name", "service_address", "connectivity_logs", "interactions"],
            "targets": [{"kind": "ip", "value": "192.0.2.10", "at": ASKED_AT},
                        {"kind": "phone", "value": "(802) 555-0142"},
                        {"kind": "account", "value": "a9999999"},
                        {"kind": "ip", "value": "203.0.113.5", "at": ASKED_AT},
                        {"kind": "ip", "value": "192.0.2.20", "at": ASKED_AT}]}


def narrowed_and_approved(document: dict[str, Any]) -> str:
    from cpniguard.legal.intake import take_in

    reference = str(take_in(CUSTODIAN, document)["reference"])
    workflow.transition(CUSTODIAN, reference, "validating")
    workflow.narrow(CUSTODIAN, reference, ["name", "service_address", "connectivity_logs"],
                    "a subpoena does not reach staff interactions")
    workflow.approve(CUSTODIAN, reference)
    workflow.approve(COUNSEL, reference)
    return reference


def test_production_answers_each_target_within_scope_and_seals_the_package(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    logs(store)
    link(subscriber, "alice")
    reference = narrowed_and_approved(request(subpoena))
    view = produce(CUSTODIAN, reference)
    assert view["status"] == "produced"
    made = view["production"]
    assert [(a["target"], a["status"]) for a in made["answers"]] == [
        (1, "records"), (2, "records"), (3, "no_records"), (4, "port_required"),
        (5, "ambiguous")]
    assert made["accounts"] == 1
    assert made["categories"] == ["connectivity_logs", "name", "service_address"]

    folder = Path(made["directory"])
    assert folder.name == reference
    names = {"data.csv", "data.json", "cover-letter.pdf", "certification.pdf"}
    assert set(made["files"]) == names
    assert {p.name for p in folder.iterdir()} == names | {MANIFEST}
    assert sha256((folder / MANIFEST).read_bytes()) == made["manifest_sha256"]
    for name, digest in made["files"].items():
        path = folder / name
        assert sha256(path.read_bytes()) == digest
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert (folder / "cover-letter.pdf").read_bytes().startswith(b"%PDF")

    data = json.loads((folder / "data.json").read_text())
    rows = data["rows"]
    assert {r["category"] for r in rows} == {"name", "service_address", "connectivity_logs"}
    assert {r["target"] for r in rows} == {1, 2}
    assert {r["subscriber"] for r in rows} == {subscriber.pk}
    first_name = next(r for r in rows if r["target"] == 1 and r["field"] == "first_name")
    assert (first_name["value"], first_name["clause"]) == ("Dana", CLAUSE_1)
    session_rows = {r["field"]: r for r in rows
                    if r["category"] == "connectivity_logs" and r["target"] == 1}
    assert session_rows["identity"]["value"] == "username=alice"
    assert session_rows["session_start"]["at"] == "2026-11-18T20:05:03Z"
    # The phone target names the subscriber: the addresses they had within the range.
    by_phone = [r for r in rows if r["category"] == "connectivity_logs" and r["target"] == 2]
    assert sorted(r["value"] for r in by_phone if r["field"] == "assigned_address") == [
        "192.0.2.10", "192.0.2.20"]
    assert {r["value"] for r in by_phone if r["field"] == "identity"} == {"username=alice"}
    text = (folder / "data.json").read_text() + (folder / "data.csv").read_text()
    assert not [value for value in OUT_OF_SCOPE if value in text]
    assert "bob" not in text  # the ambiguous answer names no candidate

    entries = AuditEntry.objects.filter(reference=reference, purpose="legal_process")
    events = [e.event for e in entries.order_by("seq")]
    assert events.count("subscriber:record:search") == 2       # targets 2 and 3, exactly
    assert events.count("connectivity:attribution-batch:read") == 1
    assert events.count("subscriber:record:read") == 2         # one per answering target
    assert events.count("legal:subscriber-logs:read") == 1     # the phone target's logs
    export = entries.get(event="legal:package:export")
    assert export.outcome == "allowed"
    assert export.subject.endswith(made["manifest_sha256"])
    assert [t.to_status for t in Transition.objects.filter(request__reference=reference)][-2:] \
        == ["producing", "produced"]
    with pytest.raises(AccessRefused, match="only an approved request is produced"):
        produce(CUSTODIAN, reference)


def test_delivery_records_how_and_to_whom_and_writes_the_disclosure_log(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    logs(store)
    link(subscriber, "alice")
    reference = narrowed_and_approved(request(subpoena))
    made = produce(CUSTODIAN, reference)["production"]
    with pytest.raises(AccessRefused, match="to whom"):
        deliver(CUSTODIAN, reference, to="", how="encrypted email")
    view = deliver(CUSTODIAN, reference, to="Investigator Sam Example",
                   how="encrypted email to sam.example@oig.example.gov")
    assert view["status"] == "delivered"
    assert view["production"]["delivered_to"] == "Investigator Sam Example"
    [logged] = Disclosure.objects.all()
    assert (logged.reference, logged.kind, logged.outcome, logged.rows) == (
        reference, "grand_jury_subpoena", "complied_partially", made["rows"])
    assert logged.package_sha256 == made["manifest_sha256"]
    assert logged.subscribers == [subscriber.pk]
    assert logged.categories == ["connectivity_logs", "name", "service_address"]
    assert logged.targets[0] == "ip 192.0.2.10 at 2026-11-18T20:05:03+00:00"
    assert (logged.keep_until - logged.when) == timedelta(days=1825)
    assert AuditEntry.objects.filter(event="legal:package:deliver", outcome="allowed").exists()
    with pytest.raises(AccessRefused, match=r"reached only by delivery|can go to"):
        workflow.transition(CUSTODIAN, reference, "delivered")


def test_a_changed_package_file_stops_the_delivery(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    logs(store)
    link(subscriber, "alice")
    reference = narrowed_and_approved(request(subpoena))
    made = produce(CUSTODIAN, reference)["production"]
    data = Path(made["directory"]) / "data.csv"
    data.chmod(0o600)
    data.write_text(data.read_text() + "2,1,billing_info,last4,4242,,forged\r\n")
    with pytest.raises(AccessRefused, match=r"data.csv has changed since it was sealed"):
        deliver(CUSTODIAN, reference, to="agent", how="portal")
    assert LegalRequest.objects.get(reference=reference).status == "produced"
    assert not Disclosure.objects.exists()


def test_a_subscriber_we_do_not_have_is_no_records_and_nothing_else(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    reference = approved({**subpoena, "date_range": RANGE, "categories": ["name"],
                          "targets": [{"kind": "email", "value": "nobody@example.org"},
                                      {"kind": "name", "value": "Dana Whitfiel"}]})
    made = produce(CUSTODIAN, reference)["production"]
    assert [(a["status"], a["note"]) for a in made["answers"]] == [
        ("no_records", "no records"), ("no_records", "no records")]
    assert made["rows"] == 0
    text = (Path(made["directory"]) / "data.json").read_text()
    assert "Whitfield" not in text
    assert [a["subscribers"] for a in json.loads(text)["answers"]] == [[], []]
    deliver(CUSTODIAN, reference, to="agent", how="portal")
    assert Disclosure.objects.get(reference=reference).outcome == "no_data"


def test_only_the_custodian_produces_and_only_an_approved_request(
        store: EmbeddedLogStore, subpoena: dict[str, Any]) -> None:
    from cpniguard.legal.intake import take_in

    reference = str(take_in(CUSTODIAN, {**subpoena, "date_range": RANGE})["reference"])
    with pytest.raises(AccessRefused, match="only an approved request"):
        produce(CUSTODIAN, reference)
    with pytest.raises(AccessRefused) as refused:
        produce(COUNSEL, reference)
    assert not refused.value.decision.rule.startswith("deny:legal-workflow")
    assert not Production.objects.exists()


def test_a_widened_package_is_refused_before_anything_is_sealed(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault in the queries (here: a section out of scope slipped in) is caught by the
    checker: release refused, audited, nothing sealed, the request left `producing`."""
    from cpniguard.legal import production
    from cpniguard.legal.scope import ProducedRow

    reference = approved({**subpoena, "date_range": RANGE, "categories": ["name"],
                          "targets": [{"kind": "phone", "value": "(802) 555-0142"}]})
    real = production.collect

    def widened(*args: Any, **kwargs: Any) -> Any:
        scope, answers, rows = real(*args, **kwargs)
        leak = ProducedRow(1, subscriber.pk, "billing_info", "last4", "4242", None,
                           scope.clause(1, "billing_info"))
        return scope, answers, [*rows, leak]

    monkeypatch.setattr(production, "collect", widened)
    with pytest.raises(ScopeViolation, match="category billing_info is not in scope"):
        produce(CUSTODIAN, reference)
    assert LegalRequest.objects.get(reference=reference).status == "producing"
    assert not Production.objects.exists()
    refusal = AuditEntry.objects.get(event="legal:package:export")
    assert refusal.outcome == "refused"
    assert "billing_info" in refusal.reason
    monkeypatch.setattr(production, "collect", real)
    assert produce(CUSTODIAN, reference)["status"] == "produced"  # re-run once fixed


def test_no_plain_transition_reaches_production_states(subpoena: dict[str, Any]) -> None:
    reference = approved({**subpoena, "date_range": RANGE})
    for status in ("producing", "produced", "delivered"):
        with pytest.raises((AccessRefused, BadTransition), match=r"reached only by|can go to"):
            workflow.transition(CUSTODIAN, reference, status)
