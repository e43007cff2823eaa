"""End to end in headless Chromium against a live server: a subpoena taken in and approved
over the API (custodian and counsel), then produced, checked and delivered by the custodian
on the pages; an over-broad request rejected, and its letter downloaded; the transparency
report counting both. Screenshots go to test-artifacts/screenshots/; a Content-Security-
Policy violation or a script error fails the test (the page fixture of the web tests)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal.models import Disclosure
from cpniguard.subscribers.models import Subscriber
from tests.conftest import STAFF_PASSWORD
from tests.legal.desk_setup import ASKED_AT, RANGE, link, session, store

pytestmark = pytest.mark.browser
__all__ = ["store"]  # a fixture, used by name


def token(user: StaffUser) -> dict[str, str]:
    from datetime import timedelta

    from django.utils import timezone

    _, secret = ApiToken.issue(user, "browser test", timezone.now() + timedelta(hours=1))
    return {"Authorization": f"Bearer {secret}"}


def api(page: Page, server: LiveServer, headers: dict[str, str], path: str,
        body: dict[str, Any]) -> dict[str, Any]:
    response = page.request.post(f"{server.url}/api/legal/{path}", data=body,
                                 headers=headers)
    assert response.ok, response.text()
    answer: dict[str, Any] = response.json()
    return answer


def test_a_subpoena_from_intake_to_a_delivered_package_and_a_rejection_letter(
        live_server: LiveServer, page: Page, shoot: Callable[[str], None],
        make_staff: Callable[..., StaffUser], subscriber: Subscriber,
        store: EmbeddedLogStore, subpoena: dict[str, Any]) -> None:
    session(store, "192.0.2.10", "alice")
    link(subscriber, "alice")
    secret = pyotp.random_base32()
    dana = make_staff("custodian", "dana", totp_secret=secret, totp_confirmed=True)
    casey = make_staff("counsel", "casey")
    as_dana, as_casey = token(dana), token(casey)
    document = {**subpoena, "date_range": RANGE, "categories": ["name", "service_address"],
                "targets": [{"kind": "ip", "value": "192.0.2.10", "at": ASKED_AT},
                            {"kind": "account", "value": "A0000404"}]}
    reference = api(page, live_server, as_dana, "requests/", {"document": document})[
        "reference"]
    api(page, live_server, as_dana, f"requests/{reference}/transition/", {"to": "validating"})
    api(page, live_server, as_dana, f"requests/{reference}/approve/", {})
    assert api(page, live_server, as_casey, f"requests/{reference}/approve/", {})[
        "status"] == "approved"
    broad = api(page, live_server, as_dana, "requests/", {"document": {
        **document, "categories": ["name", "interactions"]}})["reference"]
    api(page, live_server, as_dana, f"requests/{broad}/transition/",
        {"to": "rejected", "note": "a subpoena cannot compel staff interactions"})

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Legal desk").click()
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_test_id("answer-scope")).to_have_text("name, service_address")
    shoot("approved")

    page.get_by_test_id("produce").click()
    expect(page.get_by_text("Produced: the package is sealed.")).to_be_visible()
    answers = page.get_by_test_id("target-answers")
    expect(answers).to_contain_text("records")
    expect(answers).to_contain_text("no_records")
    expect(page.get_by_test_id("package-rows")).to_contain_text("for 1 account(s)")
    expect(page.get_by_test_id("manifest-sha256")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    shoot("produced")

    form = page.get_by_test_id("deliver-form")
    form.get_by_label("Delivered to").fill("Investigator Sam Example")
    form.get_by_label("How").fill("agency portal upload")
    page.get_by_test_id("deliver").click()
    expect(page.get_by_test_id("delivered")).to_contain_text(
        "to Investigator Sam Example by agency portal upload")
    shoot("delivered")
    assert Disclosure.objects.get(reference=reference).outcome == "complied_fully"

    page.goto(f"{live_server.url}/legal/{broad}/")
    with page.expect_download() as download:
        page.get_by_test_id("letter").click()
    letter = download.value
    assert letter.suggested_filename == f"{broad}-rejection.pdf"
    data = Path(letter.path()).read_bytes()
    assert data.startswith(b"%PDF")
    assert b"a subpoena cannot compel staff interactions" in data

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
