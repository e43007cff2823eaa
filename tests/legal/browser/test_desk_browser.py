"""End to end in headless Chromium against a live server, all on the pages: the custodian files
a subpoena through the intake form (with an attachment), starts validation and approves;
counsel, signed in in a second browser, approves too; the custodian produces, delivers and
downloads the package manifest. An over-broad request filed through the form is rejected and
its letter opened; the transparency report counts both. A support agent is refused the form.
Screenshots go to test-artifacts/screenshots/; a Content-Security-Policy violation or a
script error fails the test (the page fixture of the web tests)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal.models import Disclosure, LegalRequest
from cpniguard.subscribers.models import Subscriber
from tests.conftest import STAFF_PASSWORD
from tests.legal.desk_setup import link, session, store

pytestmark = pytest.mark.browser
__all__ = ["store"]  # a fixture, used by name
ORDER = b"%PDF-1.4\n% a fictional grand jury subpoena, signed and sealed\n%%EOF\n"


def sign_in(page: Page, server: LiveServer, username: str, secret: str = "") -> None:
    page.goto(f"{server.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if secret:
        page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("signed-in-user")).to_have_text(username)


def file_request(page: Page, categories: list[str], *, attach: bool,
                 shoot: Callable[[str], None] | None = None) -> str:
    """Fill the intake form as the custodian would from the paper; return the case number."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Legal desk").click()
    page.get_by_test_id("new-request").click()
    form = page.get_by_test_id("intake-form")
    form.get_by_label("Kind of process").select_option("grand_jury_subpoena")
    for label, value in (
            ("Issuing authority", "Example Agency, Office of Inspector General"),
            ("Case or docket number", "CR-2026-0117"),
            ("Requesting agent", "Investigator Sam Example"),
            ("Agent's contact", "sam.example@oig.example.gov"),
            ("How the contact was verified", "called back on the published number"),
            ("Addressed to", "Example Rural Broadband, Inc."),
            ("Issued (day)", "2026-11-20"),
            ("Served", "2026-11-23 10:15 America/New_York"),
            ("Response due (day)", "2026-12-14"),
            ("Targets, one per line",
             "ip 192.0.2.10 @ 2026-11-18T14:05:03-06:00\naccount A0000404"),
            ("Date range from", "2026-11-01T00:00:00Z"),
            ("Date range to", "2026-11-28T00:00:00Z")):
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_label("Signature present").select_option("yes")
    for category in categories:
        form.get_by_test_id("categories").get_by_label(category, exact=True).check()
    if attach:
        form.get_by_label("Attachments").set_input_files(
            [{"name": "subpoena.pdf", "mimeType": "application/pdf", "buffer": ORDER}])
    if shoot is not None:
        shoot("intake-form")
    page.get_by_test_id("take-in").click()
    expect(page.get_by_text("Taken in as LR-")).to_be_visible()
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def take_step(page: Page, step: str, note: str = "") -> None:
    form = page.get_by_test_id(f"step-{step}")
    if note:
        form.get_by_role("textbox").fill(note)
    form.get_by_role("button").click()


def test_a_subpoena_from_the_intake_form_to_a_delivered_package_and_a_rejection_letter(
        live_server: LiveServer, page: Page, browser: Browser, shoot: Callable[[str], None],
        make_staff: Callable[..., StaffUser], subscriber: Subscriber,
        store: EmbeddedLogStore) -> None:
    session(store, "192.0.2.10", "alice")
    link(subscriber, "alice")
    dana_secret, casey_secret = pyotp.random_base32(), pyotp.random_base32()
    make_staff("custodian", "dana", totp_secret=dana_secret, totp_confirmed=True)
    make_staff("counsel", "casey", totp_secret=casey_secret, totp_confirmed=True)

    sign_in(page, live_server, "dana", dana_secret)
    reference = file_request(page, ["Names", "Service address"], attach=True, shoot=shoot)
    expect(page.get_by_text("Understood in UTC: served 2026-11-23T15:15:00+00:00")).to_be_visible()
    expect(page.get_by_text(hashlib.sha256(ORDER).hexdigest())).to_be_visible()
    expect(page.get_by_text("2026-11-18T20:05:03+00:00").first).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("received")
    shoot("taken-in")

    take_step(page, "validate")
    expect(page.get_by_test_id("status")).to_have_text("validating")
    stale = page.context.new_page()  # a second tab still showing the approve button
    stale.goto(page.url)
    take_step(page, "approve", "checked against the signed original")
    expect(page.get_by_test_id("approvals").locator('[data-role="custodian"]')).to_contain_text(
        "dana")
    expect(page.get_by_test_id("step-approve")).to_have_count(0)
    take_step(stale, "approve")
    expect(stale.get_by_text(f"Not done: dana has already approved {reference}")).to_be_visible()
    stale.close()
    shoot("custodian-approved")

    counsel_context = browser.new_context(viewport={"width": 1280, "height": 900})
    counsel = counsel_context.new_page()
    sign_in(counsel, live_server, "casey", casey_secret)
    counsel.goto(f"{live_server.url}/legal/{reference}/")
    expect(counsel.get_by_test_id("step-validate")).to_have_count(0)
    take_step(counsel, "approve")
    expect(counsel.get_by_test_id("status")).to_have_text("approved")
    expect(counsel.get_by_test_id("approvals")).to_contain_text("casey")
    counsel_context.close()

    page.reload()
    expect(page.get_by_test_id("status")).to_have_text("approved")
    expect(page.get_by_test_id("answer-scope")).to_have_text("name, service_address")
    page.get_by_test_id("produce").click()
    expect(page.get_by_text("Produced: the package is sealed.")).to_be_visible()
    answers = page.get_by_test_id("target-answers")
    expect(answers).to_contain_text("records")
    expect(answers).to_contain_text("no_records")
    expect(page.get_by_test_id("package-rows")).to_contain_text("for 1 account(s)")
    digest = page.get_by_test_id("manifest-sha256")
    expect(digest).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    form = page.get_by_test_id("deliver-form")
    form.get_by_label("Delivered to").fill("Investigator Sam Example")
    form.get_by_label("How").fill("agency portal upload")
    page.get_by_test_id("deliver").click()
    expect(page.get_by_test_id("delivered")).to_contain_text(
        "to Investigator Sam Example by agency portal upload")
    with page.expect_download() as download:
        page.get_by_test_id("manifest").click()
    manifest = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == f"{reference}-manifest.json"
    assert hashlib.sha256(manifest).hexdigest() == digest.inner_text()
    assert {f["name"] for f in json.loads(manifest)["files"]} >= {"data.csv", "data.json"}
    shoot("delivered")
    assert Disclosure.objects.get(reference=reference).outcome == "complied_fully"

    broad = file_request(page, ["Names", "Interactions with our staff"], attach=False)
    expect(page.get_by_test_id("findings")).to_contain_text("category-not-compellable")
    take_step(page, "reject", "a subpoena cannot compel staff interactions")
    expect(page.get_by_test_id("status")).to_have_text("rejected")
    shoot("rejected")
    with page.expect_download() as download:
        page.get_by_test_id("letter").click()
    letter = download.value
    assert letter.suggested_filename == f"{broad}-rejection.pdf"
    data = Path(letter.path()).read_bytes()
    assert data.startswith(b"%PDF")
    assert b"a subpoena cannot compel staff interactions" in data
    intakes = AuditEntry.objects.filter(event="legal:request:import", outcome="allowed")
    assert sorted(e.subject for e in intakes) == sorted(
        f"legal_request:{r}" for r in (reference, broad))
    assert {e.channel for e in intakes} == {"web"}

    page.goto(f"{live_server.url}/legal/")
    page.get_by_role("link", name="Transparency report").click()
    page.get_by_role("button", name="Show").click()
    row = page.locator('tr[data-kind="grand_jury_subpoena"]')
    expect(row).to_contain_text("Grand jury subpoena")
    expect(page.get_by_test_id("total-requests")).to_have_text("2")
    # The chart is drawn by the vendored uPlot from the page's JSON, under the CSP.
    expect(page.locator('[data-chart-for="transparency-data"]')).to_have_attribute(
        "data-drawn", "true")
    expect(page.locator('[data-chart-for="transparency-data"] canvas')).to_be_visible()
    shoot("transparency")


def test_a_support_agent_gets_the_refusal_on_the_intake_form(
        live_server: LiveServer, page: Page, shoot: Callable[[str], None],
        make_staff: Callable[..., StaffUser]) -> None:
    make_staff("support", "sam")
    sign_in(page, live_server, "sam")
    page.goto(f"{live_server.url}/legal/new/")
    expect(page.get_by_test_id("refusal")).to_contain_text("take in a legal request")
    expect(page.get_by_test_id("refusal-rule")).to_have_text("deny:default")
    expect(page.get_by_test_id("intake-form")).to_have_count(0)
    shoot("refused")
    refusal = AuditEntry.objects.get(actor="sam", event="legal:request:import")
    assert (refusal.outcome, refusal.channel) == ("refused", "web")
    assert not LegalRequest.objects.exists()


@pytest.mark.django_db
def test_the_disclosure_log_is_kept_again_after_the_browser_test() -> None:
    from datetime import timedelta

    from django.db import DatabaseError, transaction
    from django.utils import timezone

    now = timezone.now()
    row = Disclosure.objects.create(reference="LR-2026-0999", kind="trial_subpoena",
                                    outcome="rejected", when=now, recorded_by="dana",
                                    keep_until=now + timedelta(days=365))
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.filter(pk=row.pk).delete()
