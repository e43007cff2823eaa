"""End to end in headless Chromium against a live server: what a support agent, a custodian,
an auditor and a member of the public actually see. Every page visited is saved as a
screenshot under test-artifacts/screenshots/, and any Content-Security-Policy violation or
script error fails the test (the UI must work with no inline script or style at all).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pyotp
import pytest
from playwright.sync_api import (
    Page,
    expect,
)
from pytest_django.live_server_helper import LiveServer

from cpniguard.access import Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers import services
from cpniguard.subscribers.models import Subscriber
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_support_finds_a_subscriber_and_adds_a_note(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None],
    make_staff: Callable[..., StaffUser], subscriber: Subscriber,
) -> None:
    make_staff("support")
    page.goto(f"{live_server.url}/")
    shoot("login")
    sign_in(page, live_server, "support1")
    expect(page.get_by_role("heading", name="Welcome, support1")).to_be_visible()
    expect(page.locator(".role-badge")).to_have_text("Customer support")
    shoot("home")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Subscribers").click()
    expect(page.get_by_test_id("choose-purpose")).to_be_visible()
    shoot("search-no-purpose")
    page.get_by_label("Search").fill("Whitfield")
    page.get_by_label("Purpose").select_option("provide_service")
    page.get_by_role("button", name="Search").click()
    row = page.locator("table.results tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Dana Whitfield")
    shoot("search-results")

    # A record opened without a purpose (a pasted link) asks for one and shows nothing.
    record_url = row.get_by_role("link", name="Open record").get_attribute("href") or ""
    page.goto(live_server.url + record_url.split("?")[0])
    prompt = page.get_by_test_id("purpose-prompt")
    expect(prompt).to_contain_text("Needs a trouble ticket reference, for example TKT-104233")
    expect(page.locator("body")).not_to_contain_text("Whitfield")
    shoot("purpose-prompt")
    prompt.get_by_text("Providing the service", exact=True).click()
    page.get_by_role("button", name="Open record").click()

    expect(page.get_by_test_id("access-banner")).to_contain_text(
        "grant:support-provide-service")
    expect(page.get_by_role("heading", name="Dana Whitfield")).to_be_visible()
    expect(page.get_by_test_id("masked-billing_address")).to_have_text(
        "Masked — not needed for Providing the service")
    expect(page.get_by_test_id("masked-billing_info")).to_be_visible()
    expect(page.locator("#section-service_address")).to_contain_text("42 Orchard Hill Rd")
    expect(page.locator("body")).not_to_contain_text("PO Box 118")
    shoot("detail-masked")

    detail_url = page.url
    page.get_by_label("Channel").select_option("chat")
    page.get_by_label("Note").fill("Explained the evening maintenance window")
    page.get_by_role("button", name="Add note").click()
    listing = page.locator("#interaction-list")
    expect(listing).to_contain_text("Explained the evening maintenance window")
    expect(page.get_by_role("status")).to_have_text("Interaction note added.")
    expect(page.get_by_label("Note")).to_have_value("")  # a fresh form came back with it
    assert page.url == detail_url  # swapped in place by htmx, no page load
    shoot("note-added")
    note = subscriber.interactions.get(summary="Explained the evening maintenance window")
    assert (note.staff, note.channel) == ("support1", "chat")

    page.goto(f"{live_server.url}/subscribers/?q=Whitfield&purpose=marketing")
    expect(page.get_by_test_id("refusal-rule")).to_have_text("deny:forbidden-purpose:marketing")
    shoot("refused")
    refused = AuditEntry.objects.order_by("-seq").first()
    assert refused is not None
    assert refused.outcome == "refused"


def test_custodian_enrols_an_authenticator_and_signs_in_with_it(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None],
    make_staff: Callable[..., StaffUser], subscriber: Subscriber,
) -> None:
    make_staff("custodian")
    sign_in(page, live_server, "custodian1")
    expect(page).to_have_url(re.compile(r"/login/second-factor/"))
    expect(page.get_by_role("heading", name="Set up your authenticator")).to_be_visible()
    shoot("enrol")
    secret = (page.get_by_test_id("totp-secret").text_content() or "").replace(" ", "")
    assert page.get_by_test_id("otpauth-uri").text_content().startswith("otpauth://totp/")
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm authenticator").click()
    expect(page.get_by_role("heading", name="Welcome, custodian1")).to_be_visible()
    shoot("home")

    page.goto(f"{live_server.url}/subscribers/{subscriber.pk}/"
              "?purpose=legal_process&reference=LR-2026-0042")
    expect(page.locator("#section-billing_address")).to_contain_text("PO Box 118")
    expect(page.locator("#section-service_address")).to_contain_text("42 Orchard Hill Rd")
    shoot("detail-legal-process")

    # Signing out and in again asks for a code, not a new enrolment.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "custodian1")
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    shoot("verify")
    user = StaffUser.objects.get(username="custodian1")
    assert user.totp_confirmed
    # The enrolment code cannot be replayed; the next step's code is fresh and, one step
    # ahead, inside the accepted drift window.
    code = pyotp.TOTP(secret).at(time.time() + 30)
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Welcome, custodian1")).to_be_visible()
    events = list(AuditEntry.objects.filter(event="auth:second-factor")
                  .values_list("outcome", flat=True))
    assert events == ["succeeded", "succeeded"]


def test_auditor_filters_the_trail_by_subscriber(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None],
    make_staff: Callable[..., StaffUser], subscriber: Subscriber,
) -> None:
    make_staff("auditor")
    support = Actor("support1", "support", Channel.WEB)
    services.detail(support, subscriber.pk, purpose="provide_service")
    other = Subscriber.objects.create(account_number="A1000077", first_name="Ravi",
                                      last_name="Castellano", service_started="2022-03-01")
    services.detail(support, other.pk, purpose="provide_service")

    sign_in(page, live_server, "auditor1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    shoot("prompt")
    page.get_by_test_id("purpose-prompt").get_by_text("Compliance review").click()
    page.get_by_role("button", name="Open audit trail").click()
    rows = page.get_by_test_id("audit-entries").locator("tbody tr")
    expect(rows).to_have_count(3)  # two record reads and the auditor's sign-in
    shoot("all-entries")

    page.get_by_label("Subscriber id").fill(str(subscriber.pk))
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"subscriber:{subscriber.pk}")
    expect(rows.first).to_contain_text("+00:00")
    expect(page.get_by_test_id("audit-count")).to_contain_text("Entries 1\u20131 of 1")
    shoot("filtered")


def test_the_public_privacy_notice(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None]
) -> None:
    page.goto(f"{live_server.url}/policy/notice/")
    notice = page.get_by_test_id("privacy-notice")
    expect(notice.get_by_role("heading", name="What we never do")).to_be_visible()
    expect(notice).to_contain_text("We never sell your information.")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    shoot("notice")


# Transactional like the live-server tests, so that pytest-django runs it after them (it
# moves plain database tests to the front).
@pytest.mark.django_db(transaction=True)
def test_the_trail_is_append_only_again_after_the_browser_tests() -> None:
    """Runs after the live-server tests above: their flush must not leave the trail open."""
    from django.db import DatabaseError, connection, transaction

    from cpniguard.access import record_event
    from cpniguard.audit.models import Outcome

    record_event(Actor("support1", "support", Channel.WEB), "auth:logout", Outcome.SUCCEEDED)
    assert AuditEntry.objects.count() == 1  # and nothing left over from the tests above
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.update(reason="rewritten")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_auditentry")
    assert AuditEntry.objects.count() == 1
