"""The custodian's notice work: the queue, one request's notices, and sending the due ones.

    queue(actor, due_only=False)                 # every notice: held until / due / sent
    notices_of(actor, "LR-2026-0003")            # one request's, with whom (custodian only)
    send(actor, "LR-2026-0003", now=...)         # letters for the due notices, marked sent
    send_all_due(actor, now=...)

The queue is a `search` of the desk (`legal_desk`, like the list of requests) and says
nothing of whom. One request's notices name our record numbers, so they are read under
`legal_process` and the case number: the custodian's grant, nobody else's. Sending reads the
subscriber's name and billing address through the gate (audited), renders the letter, keeps
it by SHA-256 (read-only, `attachments.store`) and marks the notice sent in one step with its
audit entry. The letter is mailed by the custodian: email is not sent from here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone

from cpniguard.access import Actor, access, record_event
from cpniguard.access.gate import SubjectNotFound, event_name
from cpniguard.audit.models import Outcome
from cpniguard.connectivity.store import LogStore
from cpniguard.legal import attachments
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE, person_of, subject_of
from cpniguard.legal.models import CustomerNotice, LegalRequest, NoticeState
from cpniguard.legal.notice_letters import Process, Recipient, notice_letter
from cpniguard.legal.notices import RESOURCE as NOTICE_RESOURCE
from cpniguard.legal.notices import (
    identify,
    notice_summary,
    order_in_force,
    public,
    state_of,
    timing_of,
    wait_days,
)
from cpniguard.legal.status import BadTransition, Status
from cpniguard.legal.workflow import _step
from cpniguard.policy import Action, Policy, current_policy
from cpniguard.policy.legal_process import NOTICE_BEFORE
from cpniguard.subscribers import catalog
from cpniguard.subscribers.records import load_record

HOW = "letter (PDF), mailed by the custodian"
TO_IDENTIFY = "to_identify"  # an approved before-production request nobody has looked up yet
ORDER = {NoticeState.DUE.value: 0, TO_IDENTIFY: 1, NoticeState.QUEUED.value: 2,
         NoticeState.SENT.value: 3, NoticeState.NOT_REQUIRED.value: 4}
QUEUE_FIELDS = ("legal_notice.state", "legal_notice.held_until", "legal_notice.sent",
                "legal_notice.object_by")


def _today(now: datetime | None) -> date:
    return (now or timezone.now()).astimezone(UTC).date()


def queue(actor: Actor, *, due_only: bool = False, now: datetime | None = None
          ) -> list[dict[str, Any]]:
    policy, today = current_policy(), _today(now)
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject="legal_notice:*", categories=CATEGORIES) as permit:
        rows = [{"reference": n.request.reference, "kind": n.request.kind, **public(n, today)}
                for n in CustomerNotice.objects.select_related("request")]
        waiting = LegalRequest.objects.filter(status=Status.APPROVED.value,
                                              notice_identification__isnull=True)
        rows += [{"reference": r.reference, "kind": r.kind, "notice": None, "targets": [],
                  "timing": NOTICE_BEFORE, "state": TO_IDENTIFY, "reason": "approved; the "
                  "subscribers it names are not identified yet", "held_until": None,
                  "held_indefinitely": False, "sent": None, "sent_by": "", "how": "",
                  "object_by": None}
                 for r in waiting if timing_of(r, policy) == NOTICE_BEFORE]
        permit.touched(QUEUE_FIELDS)
    if due_only:
        rows = [r for r in rows if r["state"] in (NoticeState.DUE.value, TO_IDENTIFY)]
    rows.sort(key=lambda r: (ORDER[r["state"]], r["held_until"] or "9999",
                             r["reference"], r["notice"] or 0))
    return rows


def notices_of(actor: Actor, reference: str, *, now: datetime | None = None
               ) -> dict[str, Any]:
    today = _today(now)
    with access(actor, Action.READ, resource=NOTICE_RESOURCE, purpose="legal_process",
                reference=reference, subject=subject_of(reference),
                categories=("account",)) as permit:
        request = LegalRequest.objects.filter(reference=reference).first()
        if request is None:
            raise SubjectNotFound(f"no legal request {reference}")
        view = notice_summary(request, today)
        by_id = {n.pk: n for n in CustomerNotice.objects.filter(request=request)}
        for item in view["notices"]:
            notice = by_id[item["notice"]]
            item.update(subscriber=notice.subscriber, letter_name=notice.letter_name,
                        letter_sha256=notice.letter_sha256)
        permit.about(f"{subject_of(reference)} notices of subscribers "
                     + ",".join(str(n.subscriber) for n in by_id.values()))
        permit.touched((*QUEUE_FIELDS, "legal_notice.subscriber", "legal_notice.letter"))
    return view


def send(actor: Actor, reference: str, *, now: datetime | None = None,
         store: LogStore | None = None) -> dict[str, Any]:
    """Send every due notice of one request; for a before-production kind not yet produced,
    identify its subscribers first (again, if done before: the answers may have changed)."""
    policy, moment = current_policy(), now or timezone.now()
    seen: dict[str, Any] = {}

    def look(request: LegalRequest) -> None:
        seen.update(timing=timing_of(request, policy), status=request.status)

    _step(actor, Action.CHANGE, reference, lambda request: None, look,
          ("legal_request.notices",))
    if seen["timing"] == NOTICE_BEFORE and seen["status"] in (Status.APPROVED.value,
                                                              Status.PRODUCING.value):
        identify(actor, reference, store=store, now=moment)
    today = _today(moment)
    notices = list(CustomerNotice.objects.filter(request__reference=reference)
                   .select_related("request"))
    due = [n for n in notices if state_of(n, today) == NoticeState.DUE]
    if not due:
        raise BadTransition(_nothing_due(reference, notices, today))
    for notice in due:
        _send_one(actor, policy, notice, moment)
    return notice_summary(LegalRequest.objects.get(reference=reference), today)


def _nothing_due(reference: str, notices: list[CustomerNotice], today: date) -> str:
    if not notices:
        return f"{reference} has no customer notice to send (nobody identified, or not yet)"
    held = [n for n in notices if state_of(n, today) == NoticeState.QUEUED]
    if held:
        until = sorted(n.held_until.isoformat() if n.held_until else "no expiry"
                       for n in held)
        return (f"no notice of {reference} is due: {len(held)} held by a non-disclosure "
                f"order (until {', '.join(dict.fromkeys(until))})")
    return f"no notice of {reference} is due: each is sent or not required"


def send_all_due(actor: Actor, *, now: datetime | None = None,
                 store: LogStore | None = None) -> list[dict[str, Any]]:
    references = dict.fromkeys(r["reference"] for r in queue(actor, due_only=True, now=now))
    results = []
    for reference in references:
        try:
            results.append(send(actor, reference, now=now, store=store))
        except BadTransition as trouble:  # one request's trouble does not stop the others
            results.append({"reference": reference, "error": str(trouble), "notices": []})
    return results


def object_by(notice: CustomerNotice, policy: Policy, sent: datetime) -> date | None:
    """The last day to object: the wait counted from the day the notice is sent."""
    if notice.timing != NOTICE_BEFORE:
        return None
    return sent.astimezone(UTC).date() + timedelta(days=wait_days(notice.request, policy))


def _send_one(actor: Actor, policy: Policy, notice: CustomerNotice, now: datetime) -> None:
    request = notice.request
    last_day = object_by(notice, policy, now)
    letter = notice_letter(policy, recipient(actor, request.reference, notice.subscriber),
                           process_of(request, policy), notice.timing, last_day, now)
    name = f"{request.reference}-notice-{notice.pk}.pdf"
    stored = attachments.store(name, letter, "application/pdf")
    today = _today(now)

    def precheck(locked: LegalRequest) -> str | None:
        fresh = CustomerNotice.objects.get(pk=notice.pk)
        if fresh.sent is not None:
            return f"notice {fresh.pk} of {locked.reference} was already sent"
        if order_in_force(locked, today):
            return f"{locked.reference} is under a non-disclosure order: no notice is sent"
        if state_of(fresh, today) != NoticeState.DUE:
            return f"notice {fresh.pk} of {locked.reference} is {fresh.state}, not due"
        return None

    def work(locked: LegalRequest) -> None:
        CustomerNotice.objects.filter(pk=notice.pk).update(
            state=NoticeState.SENT.value, sent=now, sent_by=person_of(actor), how=HOW,
            letter_name=name, letter_sha256=stored.sha256, object_by=last_day)
        objection = f"; may object through {last_day.isoformat()}" if last_day else ""
        record_event(actor, event_name(NOTICE_RESOURCE, "send"), Outcome.ALLOWED,
                     subject=f"{subject_of(locked.reference)} notice {notice.pk}",
                     reason=f"{HOW}; letter {name} sha256 {stored.sha256}{objection}")

    _step(actor, Action.CHANGE, request.reference, precheck, work, ("legal_notice.sent",))


def recipient(actor: Actor, reference: str, subscriber: int) -> Recipient:
    """Name and mailing address, read under `legal_process` and the case number (audited);
    the billing address, or the service address for an account that has none."""
    view = _read(actor, reference, subscriber, ("name", "billing_address"))
    address = view["billing_address"]
    if address is None:
        address = _read(actor, reference, subscriber, ("service_address",))["service_address"]
    names = view["name"] or {}
    person = " ".join(p for p in (names.get("first_name"), names.get("last_name")) if p)
    lines: tuple[str, ...] = ()
    if address is not None:
        town = f"{address['city']}, {address['state']} {address['postal_code']}"
        lines = (*(p for p in (address["line1"], address["line2"]) if p), town)
    return Recipient(names.get("business_name") or person or "Subscriber", lines)


def _read(actor: Actor, reference: str, subscriber: int,
          categories: tuple[str, ...]) -> dict[str, Any]:
    with access(actor, Action.READ, resource="subscriber:record", purpose="legal_process",
                reference=reference, subject=f"subscriber:{subscriber}",
                categories=categories, required=categories) as permit:
        view = load_record(subscriber, permit.decision.granted, categories)
        if view is None:
            raise SubjectNotFound(f"subscriber record {subscriber} no longer exists")
        permit.touched(name for c in categories for name in catalog.FIELDS[c])
    return view


def process_of(request: LegalRequest, policy: Policy) -> Process:
    kind = policy.legal_process.get(request.kind)
    served = (request.served_at.astimezone(UTC).date() if request.served_at
              else request.served_on)
    labels = tuple(policy.categories[c].label if c in policy.categories else c
                   for c in request.categories)
    return Process(request.reference, kind.label if kind else request.kind,
                   kind.statute if kind else "", request.issuing_authority, request.court,
                   request.case_number, served.isoformat() if served else "", labels,
                   request.date_from, request.date_to)
