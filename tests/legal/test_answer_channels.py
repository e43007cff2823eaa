"""Producing, delivering, letters and the report on the CLI, the API and the pages: the same
services, the same refusals (exit 1/3/4, HTTP 409/403/404), every step audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal import workflow
from cpniguard.legal.intake import take_in
from cpniguard.policy import Policy
from cpniguard.subscribers.models import Subscriber
from tests.legal.desk_setup import CUSTODIAN, RANGE, approved, store
from tests.legal.test_intake_channels import api_for, cli_json
from tests.legal.test_pages import browser_for

pytestmark = pytest.mark.django_db
__all__ = ["store"]

PHONE = {"kind": "phone", "value": "(802) 555-0142"}


def simple(subpoena: dict[str, Any]) -> dict[str, Any]:
    return {**subpoena, "date_range": RANGE, "categories": ["name"], "targets": [PHONE]}


def test_cli_produces_delivers_and_refuses_with_its_exit_codes(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any],
        as_os_user: Callable[..., StaffUser], capsys: pytest.CaptureFixture[str]) -> None:
    reference = approved(simple(subpoena))
    as_os_user("counsel", "casey")
    code, refused = cli_json(capsys, "produce", reference)
    assert code == 3
    assert "rule" in refused
    as_os_user("custodian", "dana")
    assert cli_json(capsys, "produce", "LR-2026-9999")[0] == 4
    code, made = cli_json(capsys, "produce", reference)
    assert code == 0
    assert made["production"]["rows"] == 3  # first, last and business name
    assert cli_json(capsys, "produce", reference)[0] == 1
    code, done = cli_json(capsys, "deliver", reference, "--to", "Investigator Sam Example",
                          "--how", "portal upload")
    assert code == 0
    assert done["production"]["delivered_how"] == "portal upload"
    assert main(["legal", "deliver", reference, "--to", "x", "--how", "y"]) == 1
    capsys.readouterr()
    assert main(["legal", "show", reference]) == 0
    assert "delivered" in capsys.readouterr().out


def test_api_produce_deliver_letter_and_report(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any],
        make_staff: Callable[..., StaffUser]) -> None:
    custodian = api_for(make_staff("custodian", "dana"))
    counsel = api_for(make_staff("counsel", "casey"))
    reference = approved(simple(subpoena))
    assert counsel.post(f"/api/legal/requests/{reference}/produce/").status_code == 403
    made = custodian.post(f"/api/legal/requests/{reference}/produce/")
    assert made.status_code == 200
    assert made.json()["status"] == "produced"
    again = custodian.post(f"/api/legal/requests/{reference}/produce/")
    assert again.status_code == 409
    assert custodian.post(f"/api/legal/requests/{reference}/deliver/", {"to": "agent"},
                          format="json").status_code == 400
    delivered = custodian.post(f"/api/legal/requests/{reference}/deliver/",
                               {"to": "agent", "how": "portal"}, format="json")
    assert delivered.json()["production"]["delivered_to"] == "agent"
    assert custodian.get(f"/api/legal/requests/{reference}/letter/").status_code == 409

    rejected = take_in(CUSTODIAN, {**simple(subpoena), "signed": False})["reference"]
    workflow.transition(CUSTODIAN, rejected, "rejected", "the subpoena is not signed")
    letter = custodian.get(f"/api/legal/requests/{rejected}/letter/")
    assert letter.status_code == 200
    assert letter["Content-Type"] == "application/pdf"
    body = b"".join(letter.streaming_content) if letter.streaming else letter.content
    assert body.startswith(b"%PDF")
    assert b"the subpoena is not signed" in body
    assert b"must be signed" in body  # the error finding, as a reason

    from datetime import date

    today = date.today().isoformat()
    report = custodian.get(f"/api/legal/transparency/?start=2026-01-01&end={today}")
    assert report.status_code == 200
    outcomes = report.json()["kinds"][0]["outcomes"]
    assert (outcomes["complied_fully"], outcomes["rejected"]) == (1, 1)
    log = custodian.get(f"/api/legal/disclosures/?start=2026-01-01&end={today}").json()
    assert {r["outcome"] for r in log["results"]} == {"complied_fully", "rejected"}
    assert counsel.get("/api/legal/transparency/?start=2026-02-01&end=2026-01-01"
                       ).status_code == 400
    support = api_for(make_staff("support", "sam"))
    assert support.get(f"/api/legal/transparency/?start=2026-01-01&end={today}"
                       ).status_code == 403


def test_pages_produce_deliver_and_show_the_report(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any],
        policy: Policy, make_staff: Callable[..., StaffUser]) -> None:
    browser = browser_for(make_staff("custodian", "dana"), policy)
    reference = approved(simple(subpoena))
    page = browser.get(f"/legal/{reference}/").content.decode()
    assert 'data-testid="produce"' in page
    answer = browser.post(f"/legal/{reference}/produce/", follow=True)
    html = answer.content.decode()
    assert "Produced: the package is sealed." in html
    assert 'data-testid="manifest-sha256"' in html
    assert 'data-testid="deliver-form"' in html
    done = browser.post(f"/legal/{reference}/deliver/", {"to": "agent", "how": "portal"},
                        follow=True).content.decode()
    assert "Delivery recorded in the disclosure log." in done
    assert 'data-testid="delivered"' in done
    again = browser.post(f"/legal/{reference}/produce/", follow=True).content.decode()
    assert "Not done: only an approved request is produced" in again
    report = browser.get("/legal/transparency/?start=2026-01-01&end=2030-12-31")
    text = report.content.decode()
    assert report.status_code == 200
    assert 'data-kind="grand_jury_subpoena"' in text
    assert '<script id="transparency-data" type="application/json">' in text
    assert '"values": [1]' in text  # one complied_fully for the subpoena kind
    assert "style=" not in text
    csv = browser.get("/legal/transparency/?start=2026-01-01&end=2030-12-31&format=csv")
    assert csv["Content-Type"] == "text/csv"
    assert csv.content.decode().splitlines()[1].startswith("grand_jury_subpoena,")
    assert browser.get("/legal/transparency/?start=2026-02-01&end=2026-01-01"
                       ).status_code == 400
    web_exports = AuditEntry.objects.filter(event="legal:package:export", channel="web")
    assert [e.outcome for e in web_exports] == ["allowed"]


def test_a_role_without_the_desk_gets_the_refusal_page(
        policy: Policy, make_staff: Callable[..., StaffUser]) -> None:
    browser: Client = browser_for(make_staff("support", "sam"), policy)
    assert browser.get("/legal/transparency/").status_code == 403
    assert browser.post("/legal/LR-2026-0001/produce/").status_code == 403
    assert list(AuditEntry.objects.values_list("outcome", flat=True)) == ["refused",
                                                                           "refused"]
