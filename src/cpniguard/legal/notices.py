"""Customer notice of legal process: who is told, when, and the wait before production.

    identify(actor, "LR-2026-0003")          # before-production kinds: whom the request names
    wait_reason(request, policy, now)        # why production must wait, or None
    check_notified(actor, request, ...)      # after the queries: everyone found was told

The policy says per kind when the customer is told (`customer_notice`: before production,
after production, never) and how long a before-production notice runs before anything is
produced (`notice_wait_days`, by default `[legal_desk] civil_notice_days`). A request under a
non-disclosure order (18 U.S.C. 2705(b)) gets its notices queued, held until the order's
last day (or indefinitely when it names none); from the day after, they read as due.

The subscribers are found by the very lookups production uses (`queries`), through the gate
under `legal_process` and the case number, so each is audited. The queue, the letters and
sending live in `notice_desk.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from cpniguard.access import Actor, record_event
from cpniguard.access.gate import event_name
from cpniguard.audit.models import Outcome
from cpniguard.connectivity.store import LogStore
from cpniguard.legal.desk import person_of, subject_of
from cpniguard.legal.models import (
    CustomerNotice,
    LegalRequest,
    NoticeIdentification,
    NoticeState,
)
from cpniguard.legal.queries import LOOKUP_CATEGORIES, _ip_answers, _subscriber_answer, scope_of
from cpniguard.legal.scope import RECORDS, TargetAnswer, zulu
from cpniguard.legal.status import BadTransition, Status
from cpniguard.legal.workflow import _step
from cpniguard.policy import Action, Policy, current_policy
from cpniguard.policy.legal_process import NOTICE_BEFORE, NOTICE_NEVER

RESOURCE = "legal:notice"


class NoticeWait(BadTransition):
    """Production must wait for the customer notice (not sent, or the time to object runs)."""


def timing_of(request: LegalRequest, policy: Policy) -> str:
    kind = policy.legal_process.get(request.kind)
    return kind.notice_when if kind is not None else NOTICE_NEVER


def wait_days(request: LegalRequest, policy: Policy) -> int:
    kind = policy.legal_process.get(request.kind)
    return kind.notice_wait_days if kind is not None else 0


def order_in_force(request: LegalRequest, today: date) -> bool:
    """The request's non-disclosure order still binds us: no date is indefinite, and the
    order's date is its last day in force."""
    if not request.nondisclosure:
        return False
    return request.nondisclosure_until is None or today <= request.nondisclosure_until


def state_of(notice: CustomerNotice, today: date) -> str:
    if notice.state == NoticeState.QUEUED and notice.held_until is not None \
            and today > notice.held_until:
        return NoticeState.DUE.value
    return str(notice.state)


def allowed_from(notice: CustomerNotice, days: int) -> datetime | None:
    """Production may start once the customer's last day to object has ended (UTC)."""
    if notice.object_by is not None:
        return datetime.combine(notice.object_by + timedelta(days=1), time(0), tzinfo=UTC)
    return None if notice.sent is None else notice.sent + timedelta(days=days)


def _open(request: LegalRequest, policy: Policy, answers: Iterable[TargetAnswer], who: str,
          now: datetime) -> None:
    """The identification (the latest) and one notice per subscriber answered; a subscriber
    already noticed keeps their notice as it is."""
    answers = list(answers)
    timing = timing_of(request, policy)
    NoticeIdentification.objects.update_or_create(request=request, defaults={
        "timing": timing, "identified_by": who, "identified": now,
        "answers": [{"target": a.target, "status": a.status, "note": a.note}
                    for a in answers]})
    named: dict[int, list[int]] = {}
    for answer in answers:
        if answer.status == RECORDS:
            for subscriber in answer.subscribers:
                named.setdefault(subscriber, []).append(answer.target)
    kind = policy.legal_process.get(request.kind)
    for subscriber, targets in sorted(named.items()):
        if timing == NOTICE_NEVER:
            state = NoticeState.NOT_REQUIRED
            reason = ("sealed: the customer is never told" if kind is not None and kind.sealed
                      else "the policy calls for no customer notice for this kind of process")
        elif request.nondisclosure:
            state = NoticeState.QUEUED
            until = request.nondisclosure_until
            reason = (f"non-disclosure order (18 U.S.C. 2705(b)) in force through "
                      f"{until.isoformat()}" if until else
                      "non-disclosure order with no expiry: held until counsel lifts it")
        else:
            state, reason = NoticeState.DUE, ""
        CustomerNotice.objects.get_or_create(request=request, subscriber=subscriber, defaults={
            "targets": targets, "timing": timing, "state": state.value, "reason": reason,
            "held_until": request.nondisclosure_until if state is NoticeState.QUEUED
            else None, "created": now, "created_by": who})


def identify(actor: Actor, reference: str, *, store: LogStore | None = None,
             now: datetime | None = None) -> dict[str, Any]:
    """Find whom an approved before-production request names and open their notices; run
    again, it opens notices for subscribers the targets answer now and did not before.

    The custodian acts on the request (`change`, audited), then each target is looked up
    exactly as production would (each lookup audited under `legal_process`), then the
    notices are opened in a second step that checks the request again under its lock.
    """
    policy = current_policy()
    moment = now or timezone.now()

    def precheck(request: LegalRequest) -> str | None:
        if timing_of(request, policy) != NOTICE_BEFORE:
            return (f"{request.reference} is a kind of process whose customer notice follows "
                    "production; its notices open when the package is sealed")
        if request.status not in (Status.APPROVED.value, Status.PRODUCING.value):
            return (f"the customers are identified for notice once the request is approved; "
                    f"{request.reference} is {request.status}")
        return None

    fields = ("legal_request.notices",)
    _step(actor, Action.CHANGE, reference, precheck, lambda request: None, fields)
    request = LegalRequest.objects.get(reference=reference)
    answers = _answers(actor, request, policy, store)
    _step(actor, Action.CHANGE, reference, precheck,
          lambda locked: _open(locked, policy, answers, person_of(actor), moment), fields)
    return notice_summary(request, moment.astimezone(UTC).date())


def _answers(actor: Actor, request: LegalRequest, policy: Policy,
             store: LogStore | None) -> list[TargetAnswer]:
    """What each readable target answers, by production's own exact lookups."""
    targets = [t for t in request.targets.all() if t.readable and t.value]
    answers = [_subscriber_answer(actor, request.reference, t) for t in targets
               if t.kind in LOOKUP_CATEGORIES]
    ip_targets = [t for t in targets if t.kind == "ip"]
    if ip_targets:
        found, _sessions = _ip_answers(actor, scope_of(request, policy), ip_targets, store)
        answers += found.values()
    return sorted(answers, key=lambda a: a.target)


def opened_by_production(request: LegalRequest, policy: Policy,
                         answers: Iterable[TargetAnswer], who: str, now: datetime) -> None:
    """After-production and never-notify kinds: production has just named the subscribers.
    Runs inside the sealing transaction, so a sealed package always has its notices."""
    if timing_of(request, policy) != NOTICE_BEFORE:
        _open(request, policy, answers, who, now)


def wait_reason(request: LegalRequest, policy: Policy, now: datetime) -> str | None:
    """Why a before-production kind may not be produced yet, naming the date it may; None
    when it may (or when its kind needs no prior notice)."""
    if timing_of(request, policy) != NOTICE_BEFORE:
        return None
    days = wait_days(request, policy)
    label = _label(request, policy)
    if not NoticeIdentification.objects.filter(request=request).exists():
        return (f"a {label} is produced only after the customer notice: run "
                f"`cpniguard legal notice-send {request.reference}`; production is allowed "
                f"{days} days after it is sent")
    notices = list(CustomerNotice.objects.filter(request=request))
    today = now.astimezone(UTC).date()
    unsent = [n for n in notices if n.sent is None]
    if unsent:
        held = [n for n in unsent if state_of(n, today) == NoticeState.QUEUED]
        if held:
            until = held[0].held_until
            return (f"the customer notice of {request.reference} is held by a non-disclosure "
                    f"order {'through ' + until.isoformat() if until else 'with no expiry'}; "
                    f"a {label} is produced only {days} days after its notice is sent")
        return (f"{len(unsent)} customer notice(s) of {request.reference} not sent yet: run "
                f"`cpniguard legal notice-send {request.reference}`; production is allowed "
                f"{days} days after")
    starts = [moment for n in notices if (moment := allowed_from(n, days)) is not None]
    if starts and now < max(starts):
        return (f"production of {request.reference} waits for the customer's time to object: "
                f"allowed from {zulu(max(starts))} ({days} days after the notice was sent, "
                "[legal_desk] civil_notice_days)")
    return None


def check_notified(actor: Actor, request: LegalRequest, policy: Policy,
                   answers: Iterable[TargetAnswer], now: datetime) -> None:
    """Refuse release if production found a subscriber who was not told in time (the logs
    may have changed since identification): audited, nothing sealed."""
    if timing_of(request, policy) != NOTICE_BEFORE:
        return
    days = wait_days(request, policy)
    told = {n.subscriber: allowed_from(n, days)
            for n in CustomerNotice.objects.filter(request=request)}

    def in_time(subscriber: int) -> bool:
        start = told.get(subscriber)
        return start is not None and now >= start

    late = sorted({s for a in answers if a.status == RECORDS for s in a.subscribers
                   if not in_time(s)})
    if late:
        reason = (f"release refused: {len(late)} subscriber(s) answered without a customer "
                  f"notice sent {days} days before: run `cpniguard legal notice-send "
                  f"{request.reference}` to tell them, and produce once they have waited")
        record_event(actor, event_name("legal:package", Action.EXPORT), Outcome.REFUSED,
                     subject=f"legal_package:{request.reference}", reason=reason)
        raise NoticeWait(reason)


def _label(request: LegalRequest, policy: Policy) -> str:
    kind = policy.legal_process.get(request.kind)
    label = kind.label if kind is not None else request.kind
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def notice_summary(request: LegalRequest, today: date) -> dict[str, Any]:
    """The notices of one request as the desk's request view shows them: states and dates,
    not whom (that is `notice_desk.notices_of`, under `legal_process`)."""
    identification = NoticeIdentification.objects.filter(request=request).first()
    return {
        "reference": request.reference,
        "identified": None if identification is None
        else identification.identified.astimezone(UTC).isoformat(),
        "notices": [public(n, today) for n in CustomerNotice.objects.filter(request=request)],
    }


def public(notice: CustomerNotice, today: date) -> dict[str, Any]:
    state = state_of(notice, today)
    return {
        "notice": notice.pk, "targets": notice.targets, "timing": notice.timing,
        "state": state, "reason": notice.reason,
        "held_until": None if notice.held_until is None else notice.held_until.isoformat(),
        "held_indefinitely": state == NoticeState.QUEUED and notice.held_until is None,
        "sent": None if notice.sent is None else notice.sent.astimezone(UTC).isoformat(),
        "sent_by": notice.sent_by, "how": notice.how,
        "object_by": None if notice.object_by is None else notice.object_by.isoformat(),
    }


def subject_of_notice(notice: CustomerNotice) -> str:
    return f"{subject_of(notice.request.reference)} notice {notice.pk}"
