"""End to end in headless Chromium: a NOC engineer asks who held an address, sees the
instant echoed in UTC, the status, the evidence and the masked name; a time without an
offset is refused on the page and nothing is audited. Screenshots go to
test-artifacts/screenshots/; a Content-Security-Policy violation or a script error fails the
test, as in test_browser.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers.models import Subscriber
from tests.conftest import STAFF_PASSWORD
from tests.connectivity import attribution_scene as scene

pytestmark = pytest.mark.browser
# htmx posts the form; a question the service cannot read is answered 422 on purpose, and
# htmx logs that swap (marked an error by the site's htmx-config) to the console.
EXPECTED_XHR_STATUS = {("/attribution/", 422)}
EXPECTED_CONSOLE = ("Response Status Error Code 422 from /attribution/",)


def test_noc_attributes_an_address_with_a_ticket(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None],
    make_staff: Callable[..., StaffUser], subscriber: Subscriber, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene.install(tmp_path, monkeypatch, subscriber)  # the live server shares this process
    make_staff("noc")
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("noc1")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Attribution").click()
    expect(page.get_by_role("heading", name="Who held this address?")).to_be_visible()
    shoot("form")

    form = page.get_by_test_id("attribution-form")
    form.get_by_label("Address[:port]").fill(scene.MATCH)
    form.get_by_label("Instant").fill(scene.AT_ZONED)
    form.get_by_label("Purpose").select_option("troubleshooting")
    form.get_by_label("Reference").fill("TKT-104233")
    form.get_by_role("button", name="Ask").click()
    answer = page.get_by_test_id("attribution-answer")
    expect(answer.get_by_test_id("instant-utc")).to_have_text(scene.AT_SHOWN)
    expect(answer.get_by_test_id("attribution-status")).to_have_text("match")
    expect(answer.get_by_test_id("evidence")).to_contain_text(
        f"{scene.RADIUS_LOG}:14 SHA-256 {scene.sha256_of(scene.RADIUS_LOG)}")
    expect(answer.get_by_test_id("named-subscriber")).to_contain_text(
        "name masked for this purpose")
    expect(answer.get_by_test_id("named-subscriber")).to_contain_text("A1000001")
    expect(page.locator("body")).not_to_contain_text("Whitfield")
    shoot("match")

    form.get_by_label("Address[:port]").fill(scene.AMBIGUOUS)
    form.get_by_role("button", name="Ask").click()
    expect(answer.get_by_test_id("attribution-status")).to_have_text("ambiguous")
    expect(answer.get_by_test_id("candidate")).to_have_count(2)
    shoot("ambiguous")

    form.get_by_label("Address[:port]").fill(scene.SHARED)
    form.get_by_role("button", name="Ask").click()
    expect(answer.get_by_test_id("port-required")).to_contain_text(
        "Nobody is named without the source port")
    shoot("port-required")

    form.get_by_label("Address[:port]").fill(scene.MATCH)
    form.get_by_label("Instant").fill(scene.AT_NAIVE)
    form.get_by_role("button", name="Ask").click()
    refusal = page.get_by_test_id("attribution-invalid")
    expect(refusal).to_contain_text("'2017-03-29T14:05:03' has no offset or zone")
    expect(refusal).to_contain_text("nothing was recorded")
    expect(page.get_by_test_id("attribution-answer")).to_have_count(0)
    shoot("naive-time")

    asked = AuditEntry.objects.filter(event="connectivity:attribution:read")
    assert [e.subject.split()[0] for e in asked.order_by("seq")] == [
        "attribution:match", "attribution:ambiguous", "attribution:port_required"]
    assert {(e.channel, e.rule) for e in asked} == {("web", "grant:noc-troubleshooting")}
