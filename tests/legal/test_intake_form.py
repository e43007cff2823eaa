"""The web intake form: the same intake service as the CLI and the API, each field's error
named, semantic problems kept as findings, refusals audited like the API's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.audit.models import AuditEntry
from cpniguard.legal import attachments
from cpniguard.legal.models import LegalRequest
from cpniguard.policy import Policy

pytestmark = pytest.mark.django_db
ORDER = b"%PDF-1.4\n% a fictional grand jury subpoena, signed\n%%EOF\n"
# Everything a grand jury subpoena needs, as a custodian types it into the form.
FILLED: dict[str, Any] = {
    "kind": "grand_jury_subpoena",
    "issuing_authority": "Example Agency, Office of Inspector General",
    "court": "", "case_number": "CR-2026-0117",
    "agent_name": "Investigator Sam Example", "agent_contact": "sam.example@oig.example.gov",
    "contact_verification": "called back on the agency's published number (555) 010-0199",
    "addressed_to": "Example Rural Broadband, Inc.", "signed": "yes",
    "issued": "2026-11-20", "served": "2026-11-23T10:15:00-05:00", "response_due": "2026-12-14",
    "targets": "ip 192.0.2.10 @ 2026-11-18T14:05:03-06:00\n\n"
               "ip 198.51.100.7:40001 @ 2026-11-18 14:05:03 America/Chicago\n"
               "phone (802) 555-0142\n",
    "categories": ["name", "service_address"],
    "date_from": "2026-11-01T00:00:00Z", "date_to": "2026-11-28 00:00 America/New_York",
    "notes": "hand-delivered at the front desk",
}


def signed_in(user: StaffUser, policy: Policy) -> Client:
    client = Client()
    client.force_login(user)
    if policy.roles[user.role].second_factor:
        session = client.session
        session[SESSION_KEY] = True
        session.save()
    return client


@pytest.fixture
def desk(policy: Policy, make_staff: Callable[..., StaffUser]) -> Client:
    return signed_in(make_staff("custodian", "dana"), policy)


def test_the_form_takes_a_request_in_with_its_attachment_and_echoes_utc(desk: Client) -> None:
    page = desk.get("/legal/new/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="grand_jury_subpoena"' in html
    assert 'value="interactions"' in html
    assert 'value="emergency_certification"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "style=" not in html
    upload = SimpleUploadedFile("subpoena.pdf", ORDER, content_type="application/pdf")
    sent = desk.post("/legal/new/", {**FILLED, "attachments": [upload]}, follow=True)
    assert sent.status_code == 200
    request = LegalRequest.objects.get()
    assert sent.redirect_chain == [(f"/legal/{request.reference}/", 302)]
    assert request.created_by == "dana"
    assert request.document["agent"]["name"] == "Investigator Sam Example"
    assert request.categories == ["name", "service_address"]
    assert [t.value for t in request.targets.all()] == [
        "192.0.2.10", "198.51.100.7:40001", "+18025550142"]
    assert list(request.findings.filter(severity="error").values_list("code", flat=True)) == []
    sha = hashlib.sha256(ORDER).hexdigest()
    assert list(request.attachments.values_list("name", "sha256")) == [("subpoena.pdf", sha)]
    assert attachments.read(sha) == ORDER
    html = sent.content.decode()
    assert "Understood in UTC: served 2026-11-23T15:15:00+00:00; date range " \
           "2026-11-01T00:00:00+00:00 .. 2026-11-28T05:00:00+00:00; target 1 at " \
           "2026-11-18T20:05:03+00:00; target 2 at 2026-11-18T20:05:03+00:00." in html
    assert sha in html
    assert 'data-testid="step-validate"' in html


def _entry(event: AuditEntry) -> dict[str, Any]:
    return {"event": event.event, "outcome": event.outcome, "actor": event.actor,
            "role": event.role, "purpose": event.purpose, "reference": event.reference[:8],
            "subject": event.subject[:22], "categories": event.categories,
            "fields": event.fields, "rule": event.rule, "reason": event.reason}


def test_the_audit_entry_is_the_api_intakes_but_for_the_channel(
        desk: Client, make_staff: Callable[..., StaffUser]) -> None:
    desk.post("/legal/new/", FILLED)
    _, secret = ApiToken.issue(StaffUser.objects.get(username="dana"), "tests",
                               timezone.now() + timedelta(days=1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    made = api.post("/api/legal/requests/", {"document": LegalRequest.objects.get().document},
                    format="json")
    assert made.status_code == 201
    web, by_api = AuditEntry.objects.filter(event="legal:request:import").order_by("seq")
    assert (web.channel, by_api.channel) == ("web", "api")
    assert web.outcome == "allowed"
    assert _entry(web) == _entry(by_api)
    assert web.subject.startswith("legal_request:LR-")
    first, second = LegalRequest.objects.order_by("id")
    assert first.document == second.document
    assert list(first.findings.values_list("code", flat=True)) == \
        list(second.findings.values_list("code", flat=True))


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"kind": ""}, "kind", "This field is required"),
    ({"kind": "writ_of_mandamus"}, "kind", "Select a valid choice"),
    ({"categories": ["name", "horoscope"]}, "categories", "Select a valid choice"),
    ({"signed": "maybe"}, "signed", "Select a valid choice"),
    ({"documents": ["a_napkin"]}, "documents", "Select a valid choice"),
    ({"targets": "ip 192.0.2.10 @ 2026-11-18T14:05:03Z\nfax 555-0100"}, "targets",
     "line 2: 'fax' is not a kind of target"),
    ({"targets": "phone\n"}, "targets", "line 1: the phone target has no value"),
    ({"targets": "ip 192.0.2.10 @ "}, "targets", "line 1: nothing after"),
    ({"date_to": ""}, "date_to", "a date range needs both ends"),
    ({"date_from": ""}, "date_from", "a date range needs both ends"),
    ({"nondisclosure_until": "2027-06-01"}, "nondisclosure_until",
     "an expiry without a non-disclosure order"),
    ({"issuing_authority": "x" * 1001}, "issuing_authority", "at most 1000 characters"),
])
def test_each_form_error_names_its_field_and_stores_nothing(
        desk: Client, changes: dict[str, Any], field: str, words: str) -> None:
    page = desk.post("/legal/new/", {**FILLED, **changes})
    assert page.status_code == 400
    html = page.content.decode()
    assert f'data-testid="error-{field}"' in html
    assert words in html.replace("&#x27;", "'")
    assert "Not taken in" in html
    assert not LegalRequest.objects.exists()
    assert not AuditEntry.objects.filter(event="legal:request:import").exists()


def test_files_that_cannot_be_kept_are_form_errors(desk: Client) -> None:
    empty = SimpleUploadedFile("empty.pdf", b"")
    page = desk.post("/legal/new/", {**FILLED, "attachments": [empty]})
    assert page.status_code == 400
    assert "The submitted file is empty" in page.content.decode()
    twins = [SimpleUploadedFile("order.pdf", ORDER), SimpleUploadedFile("dir/order.pdf", b"x")]
    page = desk.post("/legal/new/", {**FILLED, "attachments": twins})
    assert page.status_code == 400
    assert "two files are named order.pdf" in page.content.decode()
    assert not LegalRequest.objects.exists()


def test_what_the_request_gets_wrong_becomes_findings_on_its_page(desk: Client) -> None:
    garbled = {**FILLED, "kind": "trial_subpoena", "served": "2026-11-23 10:15",
               "issued": "2026-13-40", "date_from": "2026-11-01 00:00",
               "targets": "ip 192.0.2.10\nphone 12\nemail nobody", "signed": "no",
               "addressed_to": "Another Carrier LLC"}
    page = desk.post("/legal/new/", garbled, follow=True)
    assert page.status_code == 200
    request = LegalRequest.objects.get()
    found = {(f.code, f.field) for f in request.findings.filter(severity="error")}
    assert {("field-malformed", "served"), ("field-malformed", "issued"),
            ("instant-no-zone", "date_range"), ("target-instant-missing", "targets"),
            ("target-malformed", "targets"), ("field-required", "court"),
            ("signature-missing", "signature"), ("not-addressed-to-us", "addressed_to")} <= found
    html = page.content.decode()
    assert "target-instant-missing" in html
    assert "not-addressed-to-us" in html
    assert "Taken in as" in html


def test_a_support_agent_is_refused_the_form_and_audited_like_the_api(
        policy: Policy, make_staff: Callable[..., StaffUser]) -> None:
    sam = make_staff("support", "sam")
    browser = signed_in(sam, policy)
    assert browser.get("/legal/new/").status_code == 403
    assert browser.post("/legal/new/", FILLED).status_code == 403
    _, secret = ApiToken.issue(sam, "tests", timezone.now() + timedelta(days=1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.post("/api/legal/requests/", {"document": {"kind": "other"}},
                    format="json").status_code == 403
    refusals = list(AuditEntry.objects.filter(actor="sam").order_by("seq"))
    assert [(e.channel, e.event, e.outcome) for e in refusals] == [
        ("web", "legal:request:import", "refused"), ("web", "legal:request:import", "refused"),
        ("api", "legal:request:import", "refused")]
    assert _entry(refusals[0]) == _entry(refusals[2])
    assert not LegalRequest.objects.exists()
    assert 'data-testid="new-request"' not in browser.get("/").content.decode()


def test_a_kept_copy_altered_on_disk_stops_the_intake_with_a_named_error(desk: Client) -> None:
    kept = attachments.attachment_dir() / attachments.store("order.pdf", ORDER).sha256
    kept.chmod(0o644)
    kept.write_bytes(ORDER + b"altered")
    upload = SimpleUploadedFile("order.pdf", ORDER, content_type="application/pdf")
    page = desk.post("/legal/new/", {**FILLED, "attachments": [upload]})
    assert page.status_code == 400
    assert 'data-testid="error-attachments"' in page.content.decode()
    assert "has been altered on disk" in page.content.decode()
    assert not LegalRequest.objects.exists()
    assert AuditEntry.objects.get(event="legal:request:import").outcome == "error"
