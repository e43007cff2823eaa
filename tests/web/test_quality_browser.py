"""End to end in headless Chromium: a NOC engineer opens the Network page and sees the
devices, the injected NAS restart as an incident and the plots drawn by the vendored chart
library, then one subscriber's connection health; support and billing are refused both views
and the refusals are audited. Screenshots go to test-artifacts/screenshots/; a
Content-Security-Policy violation or a script error fails the test (see
test_attribution_browser.py for the fixtures' shape).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from tests.conftest import STAFF_PASSWORD
from tests.quality.conftest import network  # noqa: F401  (the fixture: a real log store)
from tests.quality.radius_scene import NASES, Scene

pytestmark = pytest.mark.browser
QUERY = "since=2024-03-05T00:00:00Z&until=2024-03-06T00:00:00Z&purpose=network_quality"


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_noc_sees_the_network_page_with_plots_and_a_subscriber_health(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None],
    make_staff: Callable[..., StaffUser], network: Scene,  # noqa: F811
) -> None:
    make_staff("noc")
    sign_in(page, live_server.url, "noc1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Network").click()
    expect(page.get_by_role("heading", name="Network", exact=True)).to_be_visible()
    page.goto(f"{live_server.url}/network/?{QUERY}")
    report = page.get_by_test_id("network-report")
    expect(report.get_by_test_id("devices")).to_contain_text(NASES[0])
    expect(report.get_by_test_id("incident")).to_have_count(1)
    expect(report.get_by_test_id("incident")).to_contain_text("nas-restart")
    expect(page.locator("[data-drawn=true] canvas").first).to_be_visible()
    assert page.locator("[data-drawn=true]").count() == page.get_by_test_id("plot").count()
    shoot("network")
    with page.expect_download() as download:
        page.get_by_test_id("plot").first.get_by_role("button", name="Download PNG").click()
    assert download.value.suggested_filename.endswith(".png")

    page.goto(f"{live_server.url}/network/subscriber/?account=A1000001"
              "&since=2024-03-05T00:00:00Z&until=2024-03-06T00:00:00Z"
              "&purpose=troubleshooting&reference=TKT-104233")
    expect(page.get_by_test_id("verdict")).to_contain_text("poor")
    expect(page.get_by_test_id("findings")).to_contain_text("reconnect-storm")
    expect(page.get_by_test_id("disconnect-causes")).to_be_visible()
    expect(page.get_by_test_id("usage-total")).to_be_visible()
    expect(page.get_by_test_id("not-recorded")).to_have_count(0)
    shoot("health")
    events = set(AuditEntry.objects.filter(role="noc").values_list("event", flat=True))
    assert {"quality:network:read", "quality:subscriber-health:read"} <= events


@pytest.mark.parametrize("role", ["support", "billing"])
def test_support_and_billing_are_refused_both_quality_views(
    live_server: LiveServer, page: Page, shoot: Callable[[str], None],
    make_staff: Callable[..., StaffUser], network: Scene, role: str,  # noqa: F811
) -> None:
    make_staff(role)
    sign_in(page, live_server.url, f"{role}1")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Network")
           ).to_have_count(0)
    page.goto(f"{live_server.url}/network/?{QUERY}")
    expect(page.get_by_test_id("refusal")).to_be_visible()
    expect(page.get_by_test_id("refusal-rule")).to_have_text("deny:default")
    shoot(f"{role}-refused-network")
    page.goto(f"{live_server.url}/network/subscriber/?account=A1000001"
              "&since=2024-03-05T00:00:00Z&until=2024-03-06T00:00:00Z"
              "&purpose=troubleshooting&reference=TKT-104233")
    expect(page.get_by_test_id("refusal")).to_be_visible()
    expect(page.get_by_test_id("verdict")).to_have_count(0)
    shoot(f"{role}-refused-health")
    entries = {e.event: e for e in AuditEntry.objects.filter(role=role)
               .exclude(event__startswith="auth:")}
    assert entries["quality:network:read"].outcome == "refused"
    assert entries["quality:subscriber-health:read"].outcome == "refused"
