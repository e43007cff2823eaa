"""The attribution page: the form offers the role's purposes, the answer shows the instant in
UTC, the status and why, every candidate with its interval and evidence, the CGNAT step, and
the linked subscriber with masked fields saying so; bad input is refused unaudited, a policy
refusal is the 403 page, and a CSV batch comes back as the CLI writes it."""

from __future__ import annotations

import csv
import html
import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.attribute_command import CSV_COLUMNS
from cpniguard.subscribers.models import Subscriber
from tests.connectivity import attribution_scene as scene

pytestmark = pytest.mark.django_db
StaffClient = Callable[..., tuple[Client, StaffUser]]
URL, BATCH_URL = "/attribution/", "/attribution/batch/"
NOC = {"purpose": "troubleshooting", "reference": "TKT-104233"}
CUSTODIAN = {"purpose": "legal_process", "reference": "LR-2026-0042"}


@pytest.fixture(autouse=True)
def _scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscriber: Subscriber) -> None:
    scene.install(tmp_path, monkeypatch, subscriber)


def ask(client: Client, address: str, at: str = scene.AT_TEXT, htmx: bool = False,
        **more: str) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(URL, {"address": address, "at": at, "skew": "2", **more},
                       headers=headers)


def text(response: Any) -> str:
    """The page as a reader sees it: tags and runs of spaces gone."""
    return html.unescape(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.mark.parametrize(("role", "shown"), [
    ("noc", True), ("custodian", True), ("support", False), ("billing", False),
    ("compliance", False), ("auditor", False), ("admin", False)])
def test_the_menu_offers_attribution_to_roles_that_may_read_logs(
        staff_client: StaffClient, role: str, shown: bool) -> None:
    client, _ = staff_client(role)
    home = client.get("/").content.decode()
    assert (f'href="{URL}"' in home) is shown


def test_the_form_offers_only_the_purposes_the_role_may_use(
        staff_client: StaffClient) -> None:
    client, _ = staff_client("noc")
    page = client.get(URL)
    assert page.status_code == 200
    options = re.findall(r'<option value="([^"]*)"', page.content.decode())
    assert options == ["", "troubleshooting"] * 2  # the single and the batch form
    assert AuditEntry.objects.count() == 0  # showing the form reads nothing


def test_a_match_for_troubleshooting_masks_the_name(
        staff_client: StaffClient, subscriber: Subscriber) -> None:
    client, _ = staff_client("noc")
    response = ask(client, scene.MATCH, **NOC)
    assert response.status_code == 200
    page = text(response)
    assert f"Instant understood, in UTC {scene.AT_SHOWN}" in page
    assert "match one holder, interval contains the instant" in page
    assert f"Subscriber #{subscriber.pk} account A1000001 name masked for this purpose " \
           "service town Millbrook, VT" in page
    assert "Whitfield" not in page
    assert "username=dana@example.net" in page
    assert "from 2017-03-29 21:00:00 +00:00 to 2017-03-29 22:00:00 +00:00" in page
    assert f"{scene.RADIUS_LOG}:14 SHA-256 {scene.sha256_of(scene.RADIUS_LOG)}" in page
    assert response.context["result"]["status"] == "match"
    [entry] = AuditEntry.objects.all()
    assert (entry.channel, entry.outcome, entry.subject) == (
        "web", "allowed", f"attribution:match subscriber:{subscriber.pk}")


def test_legal_process_sees_the_name_and_the_cgnat_step(staff_client: StaffClient) -> None:
    client, _ = staff_client("custodian")
    page = text(ask(client, scene.CGNAT, at=scene.AT_ZONED, **CUSTODIAN))
    assert "name Dana Whitfield" in page
    assert "Public 203.0.113.7 port 2050 was translated by this port block to inside " \
           "address 100.64.0.6" in page
    assert "ports 2048\u20133071 · cgnat · session inside=100.64.0.6" in page
    assert f"{scene.NAT_LOG}:4" in page
    assert "Candidate (1) for inside address 100.64.0.6" in page


def test_a_shared_address_without_a_port_explains_why_nobody_is_named(
        staff_client: StaffClient) -> None:
    client, _ = staff_client("custodian")
    page = text(ask(client, scene.SHARED, **CUSTODIAN))
    assert "port_required" in page
    assert "Nobody is named without the source port" in page
    assert "Whitfield" not in page
    assert "Candidate" not in page


def test_an_ambiguous_handover_shows_both_holders(staff_client: StaffClient) -> None:
    client, _ = staff_client("noc")
    response = ask(client, scene.AMBIGUOUS, **NOC)
    page = text(response)
    assert "ambiguous 2 holders within 0:00:02 of the instant" in page
    assert "username=alice" in page
    assert "username=bob" in page
    assert "no record ends it" in page  # bob's session is still open
    assert "Last seen 2017-03-29 21:10:04 +00:00" in page  # bob's last keep-alive
    assert page.count("no subscriber is linked to this identity at that instant") == 2
    assert 'data-testid="named-subscriber"' not in response.content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_a_naive_time_is_refused_with_the_service_message_and_not_audited(
        staff_client: StaffClient, htmx: bool) -> None:
    client, _ = staff_client("noc")
    response = ask(client, scene.MATCH, at=scene.AT_NAIVE, htmx=htmx, **NOC)
    assert response.status_code == (422 if htmx else 400)
    page = text(response)
    assert "Not asked: nothing was looked up and nothing was recorded." in page
    assert "'2017-03-29T14:05:03' has no offset or zone" in page
    assert ("<html" in response.content.decode()) is not htmx
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize("htmx", [False, True])
def test_a_refusal_is_the_403_page_with_the_rule(staff_client: StaffClient,
                                                 htmx: bool) -> None:
    client, _ = staff_client("support")
    response = ask(client, scene.MATCH, htmx=htmx, purpose="troubleshooting",
                   reference="TKT-104233")
    assert response.status_code == 403
    assert "grant:support-troubleshooting:missing-category" in text(response)
    if htmx:
        assert response["HX-Retarget"] == "#attribution-answer"
    [entry] = AuditEntry.objects.all()
    assert (entry.channel, entry.outcome) == ("web", "refused")


def test_the_page_has_no_inline_script_or_style(staff_client: StaffClient) -> None:
    client, _ = staff_client("custodian")
    page = ask(client, scene.CGNAT, **CUSTODIAN).content.decode()
    assert " style=" not in page
    assert "<style" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)


# ---------------------------------------------------------------- batch

def upload(client: Client, content: str, name: str = "questions.csv", **declared: str) -> Any:
    questions = SimpleUploadedFile(name, content.encode(), content_type="text/csv")
    return client.post(BATCH_URL, {"questions": questions, **declared})


QUESTIONS_CSV = "id,address,port,at\n" + "".join(
    f"q{n},{address},,{scene.AT_TEXT}\n" for n, address in enumerate(scene.QUESTIONS))


def test_a_batch_comes_back_as_the_cli_csv(staff_client: StaffClient,
                                           subscriber: Subscriber) -> None:
    client, _ = staff_client("noc")
    response = upload(client, QUESTIONS_CSV, **NOC)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="attribution-\d{8}T\d{6}Z\.csv"',
                        response["Content-Disposition"])
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["id"], r["status"]) for r in rows] == [
        (f"q{n}", status) for n, status in enumerate(scene.QUESTIONS.values())]
    assert (rows[0]["subscriber_id"], rows[0]["account_number"], rows[0]["name"]) == (
        str(subscriber.pk), "A1000001", "")
    assert {r["instant_utc"] for r in rows} == {scene.AT_UTC}
    [entry] = AuditEntry.objects.all()
    assert entry.event == "connectivity:attribution-batch:read"
    assert entry.subject.startswith("attribution-batch rows=5 ")


@pytest.mark.parametrize(("content", "words"), [
    ("address,when\n192.0.2.10,x\n", "questions.csv: the header must name the columns"),
    ("address,at\n192.0.2.10,2017-03-29T14:05:03\n",
     "row 1 (line 2): '2017-03-29T14:05:03' has no offset or zone"),
    ("address,at\n", "the batch has no rows"),
])
def test_an_unreadable_file_is_refused_unaudited(staff_client: StaffClient, content: str,
                                                 words: str) -> None:
    client, _ = staff_client("noc")
    response = upload(client, content, **NOC)
    assert response.status_code == 400
    page = text(response)
    assert words in page
    assert tempfile.gettempdir() not in page  # the server's copy is never named
    assert AuditEntry.objects.count() == 0


def test_a_file_that_is_not_utf8_is_refused(staff_client: StaffClient) -> None:
    client, _ = staff_client("noc")
    questions = SimpleUploadedFile("q.csv", "address,at\n192.0.2.10,\xe9\n".encode("latin-1"))
    response = client.post(BATCH_URL, {"questions": questions, **NOC})
    assert response.status_code == 400
    assert "the file is not UTF-8 text" in text(response)


def test_too_many_rows_are_refused(staff_client: StaffClient,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cpniguard.web.attribution_views.MAX_BATCH_ROWS", 3)
    client, _ = staff_client("noc")
    response = upload(client, QUESTIONS_CSV, **NOC)
    assert response.status_code == 400
    assert "at most 3 rows per batch (got 5); split the file" in text(response)
    assert AuditEntry.objects.count() == 0


def test_a_refused_batch_is_the_403_page(staff_client: StaffClient) -> None:
    client, _ = staff_client("billing")
    response = upload(client, QUESTIONS_CSV, purpose="billing")
    assert response.status_code == 403
    assert "grant:billing-billing:missing-category" in text(response)
    assert AuditEntry.objects.get().outcome == "refused"
