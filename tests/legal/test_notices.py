"""Customer notices on real records, the real gate and the real policy: held by a
non-disclosure order until it expires, civil subpoenas produced only after the notice and the
wait, letters that name their subscriber and nobody else, the custodian alone at the queue."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal import attachments
from cpniguard.legal.models import CustomerNotice, LegalRequest
from cpniguard.legal.notice_desk import notices_of, queue, send, send_all_due
from cpniguard.legal.notices import identify
from cpniguard.legal.production import produce
from cpniguard.legal.status import BadTransition
from cpniguard.policy import Policy, parse_policy
from cpniguard.policy.loader import default_policy_text
from cpniguard.subscribers.models import Address, Phone, Subscriber
from tests.legal.conftest import NOW, document_for
from tests.legal.desk_setup import COUNSEL, CUSTODIAN, RANGE, approved, store
from tests.legal.test_intake_channels import api_for, cli_json
from tests.legal.test_pages import browser_for
from tests.legal.test_policy_rules import errors_of, line_of

pytestmark = pytest.mark.django_db
__all__ = ["store"]  # the fixture, used by name

DANA_PHONE = {"kind": "phone", "value": "(802) 555-0142"}
PAT_ACCOUNT = {"kind": "account", "value": "A1000002"}
UNTIL = "2027-06-01"


@pytest.fixture
def neighbour(subscriber: Subscriber) -> Subscriber:
    """A second subscriber the same request names: nothing of theirs may reach Dana."""
    pat = Subscriber.objects.create(account_number="A1000002", first_name="Pat",
                                    last_name="Quimby", service_started=date(2021, 6, 1))
    Address.objects.create(subscriber=pat, kind="billing", line1="9 Elm Hollow Ln",
                           city="Greenfield", state="VT", postal_code="05661")
    Phone.objects.create(subscriber=pat, number="+18025550177", primary=True)
    return pat


def request_of(policy: Policy, kind: str, **changes: Any) -> dict[str, Any]:
    return document_for(policy.legal_process[kind], **{
        "date_range": RANGE, "categories": ["name", "billing_address"],
        "targets": [DANA_PHONE, PAT_ACCOUNT], **changes})


def pdf_text(data: bytes) -> str:
    """The text of an uncompressed ReportLab PDF (the desk writes them so): the strings its
    pages show, joined."""
    text = b" ".join(re.findall(rb"\((.*?)\) Tj", data))
    return " ".join(text.decode("latin-1").replace("\\(", "(").replace("\\)", ")").split())


def test_the_policy_says_when_each_kind_notifies(policy: Policy) -> None:
    kinds = policy.legal_process
    assert {k for k, v in kinds.items() if v.notice_when == "before_production"} == {
        "civil_subpoena", "dmca_subpoena"}
    assert kinds["emergency_request"].notice_when == "after_production"
    assert kinds["grand_jury_subpoena"].notice_when == "after_production"
    for quiet in ("pen_trap_order", "national_security_letter", "preservation_letter",
                  "nondisclosure_order"):
        assert kinds[quiet].notice_when == "never"
    assert policy.legal_desk.civil_notice_days == 14
    assert kinds["civil_subpoena"].notice_wait_days == 14
    assert kinds["dmca_subpoena"].notice_wait_days == 14
    # The one setting governs the wait of every kind that names none of its own.
    longer = parse_policy(default_policy_text().replace("civil_notice_days = 14",
                                                        "civil_notice_days = 21"), "ops.toml")
    assert longer.legal_process["civil_subpoena"].notice_wait_days == 21
    assert longer.legal_process["grand_jury_subpoena"].notice_wait_days == 0


def test_a_notice_rule_the_desk_cannot_follow_is_an_error_on_its_line() -> None:
    text = default_policy_text()
    bad = text.replace('customer_notice = "before_production"  # waits',
                       'customer_notice = "sometimes"  # waits', 1)
    assert "customer_notice must be one of before_production" in \
        errors_of(bad)[line_of(bad, '"sometimes"')]
    waits = text.replace("civil_notice_days = 14", "civil_notice_days = -3")
    assert "civil_notice_days must be a whole number" in \
        errors_of(waits)[line_of(waits, "civil_notice_days = -3")]


def test_under_a_nondisclosure_order_notices_are_queued_until_it_expires(
        store: EmbeddedLogStore, neighbour: Subscriber, policy: Policy) -> None:
    reference = approved(request_of(policy, "grand_jury_subpoena",
                                    nondisclosure={"ordered": True, "until": UNTIL}))
    produce(CUSTODIAN, reference)  # law enforcement: notices open when it is answered
    notices = list(CustomerNotice.objects.filter(request__reference=reference))
    assert len(notices) == 2
    assert {n.state for n in notices} == {"queued"}
    assert {n.held_until for n in notices} == {date(2027, 6, 1)}

    before = datetime(2027, 6, 1, 23, 59, tzinfo=UTC)  # the order's last day
    rows = [r for r in queue(CUSTODIAN, now=before) if r["reference"] == reference]
    assert [(r["state"], r["held_until"], r["sent"]) for r in rows] == [
        ("queued", UNTIL, None)] * 2
    assert queue(CUSTODIAN, due_only=True, now=before) == []
    with pytest.raises(BadTransition, match=f"held by a non-disclosure order .until {UNTIL}"):
        send(CUSTODIAN, reference, now=before)
    assert not CustomerNotice.objects.filter(sent__isnull=False).exists()
    assert not AuditEntry.objects.filter(event="legal:notice:send").exists()

    after = datetime(2027, 6, 2, 9, 0, tzinfo=UTC)
    due = queue(CUSTODIAN, due_only=True, now=after)
    assert [(r["reference"], r["state"]) for r in due] == [(reference, "due")] * 2
    [done] = send_all_due(CUSTODIAN, now=after)
    assert [n["state"] for n in done["notices"]] == ["sent", "sent"]
    assert AuditEntry.objects.filter(event="legal:notice:send", outcome="allowed").count() == 2


def test_an_order_without_expiry_holds_notices_indefinitely(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy) -> None:
    reference = approved(request_of(policy, "emergency_request", targets=[DANA_PHONE],
                                    nondisclosure={"ordered": True}))
    produce(CUSTODIAN, reference)
    far = datetime(2031, 1, 1, tzinfo=UTC)
    [row] = [r for r in queue(CUSTODIAN, now=far) if r["reference"] == reference]
    assert (row["state"], row["held_until"], row["held_indefinitely"]) == (
        "queued", None, True)
    with pytest.raises(BadTransition, match="no expiry"):
        send(CUSTODIAN, reference, now=far)


def test_sealed_process_opens_no_notice_to_send(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy) -> None:
    reference = approved(request_of(policy, "national_security_letter", targets=[DANA_PHONE],
                                    categories=["name"]))
    produce(CUSTODIAN, reference)
    [notice] = CustomerNotice.objects.filter(request__reference=reference)
    assert (notice.state, notice.reason) == ("not_required",
                                             "sealed: the customer is never told")
    with pytest.raises(BadTransition, match="each is sent or not required"):
        send(CUSTODIAN, reference, now=NOW)


def test_a_civil_subpoena_is_produced_only_after_the_notice_and_the_wait(
        store: EmbeddedLogStore, neighbour: Subscriber, policy: Policy) -> None:
    reference = approved(request_of(policy, "civil_subpoena"))
    with pytest.raises(AccessRefused, match=f"notice-send {reference}"):
        produce(CUSTODIAN, reference, now=NOW)
    assert [r["state"] for r in queue(CUSTODIAN, due_only=True)
            if r["reference"] == reference] == ["to_identify"]

    view = send(CUSTODIAN, reference, now=NOW)
    assert [(n["targets"], n["state"], n["object_by"]) for n in view["notices"]] == [
        ([1], "sent", "2026-12-13"), ([2], "sent", "2026-12-13")]
    inside = NOW + timedelta(days=13)
    with pytest.raises(AccessRefused, match="allowed from 2026-12-14T00:00:00Z") as refused:
        produce(CUSTODIAN, reference, now=inside)
    assert refused.value.decision.rule == "deny:legal-workflow:change"
    assert LegalRequest.objects.get(reference=reference).status == "approved"
    refusal = AuditEntry.objects.filter(subject=f"legal_request:{reference}",
                                        outcome="refused").last()
    assert refusal is not None
    assert "2026-12-14" in refusal.reason
    made = produce(CUSTODIAN, reference, now=datetime(2026, 12, 14, tzinfo=UTC))
    assert made["status"] == "produced"
    assert made["production"]["accounts"] == 2


def test_other_kinds_are_produced_without_waiting(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy) -> None:
    reference = approved(request_of(policy, "grand_jury_subpoena", targets=[DANA_PHONE]))
    with pytest.raises(AccessRefused, match="follows production"):
        identify(CUSTODIAN, reference, now=NOW)
    assert produce(CUSTODIAN, reference, now=NOW)["status"] == "produced"
    [notice] = CustomerNotice.objects.filter(request__reference=reference)
    assert (notice.state, notice.subscriber, notice.targets) == ("due", subscriber.pk, [1])


def test_a_subscriber_found_only_at_production_stops_the_release(
        store: EmbeddedLogStore, subscriber: Subscriber, neighbour: Subscriber,
        policy: Policy) -> None:
    reference = approved(request_of(policy, "civil_subpoena", targets=[PAT_ACCOUNT,
                                                                       DANA_PHONE]))
    Phone.objects.filter(subscriber=subscriber).delete()  # nobody answers target 2 ...
    send(CUSTODIAN, reference, now=NOW)
    Phone.objects.create(subscriber=subscriber, number="+18025550142")  # ... until now
    later = NOW + timedelta(days=20)
    with pytest.raises(BadTransition, match="without a customer notice"):
        produce(CUSTODIAN, reference, now=later)
    assert AuditEntry.objects.filter(event="legal:package:export", outcome="refused",
                                     subject=f"legal_package:{reference}").exists()
    assert LegalRequest.objects.get(reference=reference).status == "producing"
    # Telling the subscriber found late starts their own wait; the first notice stands.
    view = send(CUSTODIAN, reference, now=later)
    assert sorted((n["targets"], n["object_by"]) for n in view["notices"]) == [
        ([1], "2026-12-13"), ([2], "2027-01-02")]
    with pytest.raises(AccessRefused, match="allowed from 2027-01-03T00:00:00Z"):
        produce(CUSTODIAN, reference, now=later + timedelta(days=14))
    made = produce(CUSTODIAN, reference, now=later + timedelta(days=15))
    assert made["production"]["accounts"] == 2


def test_the_letter_names_its_subscriber_and_nobody_else(
        store: EmbeddedLogStore, subscriber: Subscriber, neighbour: Subscriber,
        policy: Policy) -> None:
    reference = approved(request_of(policy, "civil_subpoena"))
    send(CUSTODIAN, reference, now=NOW)
    view = notices_of(CUSTODIAN, reference, now=NOW)
    [dana] = [n for n in view["notices"] if n["subscriber"] == subscriber.pk]
    letter = attachments.read(dana["letter_sha256"])  # stored by SHA-256, checked on read
    kept = attachments.attachment_dir() / dana["letter_sha256"]
    assert not kept.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    text = pdf_text(letter)
    for wanted in ("Dana Whitfield", "PO Box 118", "Millbrook, VT 05660", "CR-2026-0117",
                   "United States District Court for the District of Vermont",
                   "no later than 2026-12-13", "motion to quash", reference):
        assert wanted in text, wanted
    for theirs in ("Pat", "Quimby", "Elm Hollow", "Greenfield", "A1000002", "0177",
                   "555-0142", "dana.whitfield@example.net", "42 Orchard Hill"):
        assert theirs not in text, theirs

    read = AuditEntry.objects.get(event="subscriber:record:read", reference=reference,
                                  subject=f"subscriber:{subscriber.pk}")
    assert read.purpose == "legal_process"
    assert "billing_address.line1" in read.fields
    sent = AuditEntry.objects.get(event="legal:notice:send",
                                  subject=f"legal_request:{reference} notice {dana['notice']}")
    assert dana["letter_sha256"] in sent.reason


def test_only_the_custodian_works_the_notices_and_refusals_are_audited(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy,
        make_staff: Callable[..., StaffUser]) -> None:
    reference = approved(request_of(policy, "civil_subpoena", targets=[DANA_PHONE]))
    for actor in (COUNSEL, Actor("sam", "support", Channel.CLI)):
        with pytest.raises(AccessRefused):
            send(actor, reference, now=NOW)
        with pytest.raises(AccessRefused):
            notices_of(actor, reference, now=NOW)
        refused = AuditEntry.objects.filter(actor=actor.username, outcome="refused")
        assert refused.filter(event="legal:request:change").exists()
        assert refused.filter(event="legal:notice:read").exists()
    assert not CustomerNotice.objects.exists()
    with pytest.raises(AccessRefused):
        queue(Actor("sam", "support", Channel.CLI))

    custodian = api_for(make_staff("custodian", "dana"))
    counsel = api_for(make_staff("counsel", "casey"))
    send(CUSTODIAN, reference, now=NOW)
    url = f"/api/legal/requests/{reference}/notices/"
    assert counsel.get(url).status_code == 403
    answer = custodian.get(url)
    assert answer.status_code == 200
    [notice] = answer.json()["notices"]
    assert (notice["subscriber"], notice["state"]) == (subscriber.pk, "sent")
    assert custodian.get("/api/legal/requests/LR-2026-9999/notices/").status_code == 404


def test_the_cli_lists_and_sends_and_the_page_shows_the_state(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy,
        as_os_user: Callable[..., StaffUser], capsys: pytest.CaptureFixture[str]) -> None:
    reference = approved(request_of(policy, "dmca_subpoena", targets=[DANA_PHONE]))
    user = as_os_user("custodian", "dana")
    code, rows = cli_json(capsys, "notices", "--due")
    assert (code, [(r["reference"], r["state"]) for r in rows]) == (
        0, [(reference, "to_identify")])
    code, sent = cli_json(capsys, "notice-send", reference)
    assert code == 0
    assert [n["state"] for n in sent["notices"]] == ["sent"]
    assert cli_json(capsys, "notice-send", reference)[0] == 1  # nothing due any more
    assert cli_json(capsys, "notice-send", "LR-2026-9999")[0] == 4
    code, rows = cli_json(capsys, "notices")
    assert [(r["reference"], r["state"]) for r in rows] == [(reference, "sent")]
    page = browser_for(user, policy).get(f"/legal/{reference}/")
    assert page.status_code == 200
    block = page.content.decode().split('data-testid="customer-notices"')[1]
    assert "sent" in block.split("</section>")[0]
    assert "Dana" not in block.split("</section>")[0]
    as_os_user("counsel", "casey")
    assert cli_json(capsys, "notice-send", reference)[0] == 3


def test_the_page_of_a_request_not_yet_identified_says_so(
        subscriber: Subscriber, policy: Policy, make_staff: Callable[..., StaffUser]) -> None:
    reference = approved(request_of(policy, "civil_subpoena", targets=[DANA_PHONE]))
    page = browser_for(make_staff("custodian", "dana"), policy)
    assert "None yet" in page.get(f"/legal/{reference}/").content.decode()
