"""The demo's legal desk: a request in every state of the workflow, each carried there by the
desk's own services, never by writing rows.

    demo = seed_legal_requests(truth_csv, zone="America/New_York")
    for line in demo.lines(): print(line)

The custodian of records and counsel of the demo's staff do the work, each step through the
access gate and into the audit trail, exactly as they would on the web: intake (with an
attachment), validation, narrowing, rejection with its reasons, two approvals by different
people, production through the attribution engine, sealing, delivery, closing, withdrawal,
preservation and its renewal. What the desk answers is what the services found: nothing is
asserted here. The requests:

- an over-broad grand jury subpoena asking for staff interactions: narrowed to what it may
  compel (a partial-compliance letter), approved and produced;
- a subpoena naming a shared CGNAT address without a port: `port-required`, rejected with
  its letter, nobody named;
- a 2703(f) preservation letter: held at intake (the policy's preserve_on_intake) and renewed
  once, so its holds outlast the day retention would delete its rows (`dry_run_now`);
- an emergency disclosure request with its certification attached and its follow-up due date,
  produced and delivered;
- a request naming an account and an email we do not have: "no records", delivered, closed;
- a 2703(d) order approved and waiting for production; an overdue administrative subpoena
  with one approval of two; a DMCA 512(h) subpoena just received (counsel review); a trial
  subpoena withdrawn; a civil subpoena whose subscriber was sent a notice letter and whose
  production waits for the notice period.

`producing` is not left standing: a production passes through it and seals in the same call,
and only a release the scope checker refuses would stop there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from cpniguard.access import Actor, Channel, record_event
from cpniguard.access.actor import new_request_id
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import Outcome
from cpniguard.demo.legal_targets import (
    DEFENSE,
    FEDERAL,
    GRAND_JURY,
    LABEL,
    SHERIFF,
    STATE_AG,
    Holdings,
    NotEnoughLogs,
    certification_pdf,
    document,
    midnight,
)
from cpniguard.legal import notice_desk, notices, preservation, production, workflow
from cpniguard.legal.desk import person_of
from cpniguard.legal.intake import Incoming, take_in
from cpniguard.legal.models import LegalRequest
from cpniguard.legal.status import BadTransition
from cpniguard.policy import current_policy

CERTIFICATE = "emergency-certification.pdf"
# Kept out of the demo's numbering (accounts start at A1000000) and its email domains.
UNKNOWN_ACCOUNT = "A0000042"
UNKNOWN_EMAIL = "r.quennell@mail.example.org"
BASIC = ["name", "service_address", "billing_address", "connectivity_logs"]


class NoDeskStaff(LookupError):
    """The demo's desk needs a custodian and a counsel among the staff."""


@dataclass(frozen=True, slots=True)
class SeededRequest:
    reference: str
    kind: str
    status: str
    story: str


@dataclass
class LegalDemo:
    requests: list[SeededRequest] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    preservation: str = ""
    holds: int = 0
    dry_run_now: datetime | None = None  # a look-ahead at which retention meets the holds
    staff: str = ""

    def lines(self) -> list[str]:
        out = [f"Legal requests (sign in as {self.staff} to work them on the Legal desk "
               "page):"]
        out += [f"  {r.reference}  {r.kind:<23} {r.status:<10} {r.story}"
                for r in self.requests]
        out += [f"  not seeded, {why}" for why in self.skipped]
        if self.dry_run_now is not None:
            out.append(f"  The {self.holds} hold(s) of {self.preservation} keep its rows "
                       "from the purge that would delete them; see what they keep:")
            out.append("    cpniguard retention run --dry-run --now "
                       f"{self.dry_run_now.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        return out


@dataclass(frozen=True)
class Desk:
    custodian: Actor
    counsel: Actor

    @classmethod
    def of_demo_staff(cls) -> Desk:
        people = []
        for role in ("custodian", "counsel"):
            user = StaffUser.objects.filter(role=role, is_active=True).order_by("pk").first()
            if user is None:
                raise NoDeskStaff(f"no active {role} among the staff")
            people.append(Actor.for_staff(user, Channel.WEB, new_request_id()))
        return cls(people[0], people[1])

    def take(self, body: dict[str, Any], files: tuple[Incoming, ...] = ()) -> str:
        return str(take_in(self.custodian, body, files)["reference"])

    def approve_both(self, reference: str, note: str = "") -> None:
        workflow.transition(self.custodian, reference, "validating")
        workflow.approve(self.custodian, reference, note)
        workflow.approve(self.counsel, reference, note)

    def produce_and_deliver(self, reference: str, to: str, how: str) -> None:
        production.produce(self.custodian, reference)
        production.deliver(self.custodian, reference, to=to, how=how)


Case = Callable[[Desk, Holdings, date], tuple[str, str]]  # -> (reference, story)


def _span(logs: Holdings, today: date) -> tuple[datetime, datetime]:
    """From the first day of the logs to the end of today (UTC): every holding's instant,
    including the last local evening, which is already today in UTC."""
    return (midnight(logs.first_day or today - timedelta(days=3)),
            midnight(today + timedelta(days=1)))


def over_broad(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    reference = desk.take(document(
        "grand_jury_subpoena", GRAND_JURY, f"GJ-{today.year}-0311", today,
        targets=[logs.take("radius").target(), logs.take("dhcp").target(),
                 logs.take("nat").target()],
        categories=[*BASIC, "interactions"], due_in=14,
        date_range=_span(logs, today),
        notes="All records of the subscribers, including every contact with your staff."))
    workflow.transition(desk.custodian, reference, "validating")
    workflow.narrow(desk.custodian, reference, BASIC,
                    "staff interactions are non-content records beyond 2703(c)(2): they "
                    "need a 2703(d) order")
    workflow.approve(desk.custodian, reference)
    workflow.approve(desk.counsel, reference)
    production.produce(desk.custodian, reference)
    return reference, ("over-broad (asked for interactions): narrowed, partial-compliance "
                       "letter; produced, awaiting delivery")


def cgnat_without_port(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    shared = logs.take("nat")
    reference = desk.take(document(
        "administrative_subpoena", STATE_AG, f"CPU-{today.year}-0087", today,
        targets=[shared.target(with_port=False)], categories=["name", "service_address"],
        due_in=10, date_range=_span(logs, today),
        notes="Subscriber behind an address seen on a consumer complaint."))
    workflow.transition(desk.custodian, reference, "validating")
    workflow.transition(
        desk.custodian, reference, "rejected",
        f"{shared.address} is a shared CGNAT address: many subscribers use it at once, so "
        "without the source port no one subscriber can be identified. Serve again with the "
        "source port and the instant to the second.")
    return reference, "CGNAT address without a port: port-required, rejected with its letter"


def preservation_letter(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    first = logs.first_day or today - timedelta(days=3)
    reference = desk.take(document(
        "preservation_letter", FEDERAL, f"TF-{today.year}-0412", today,
        targets=[logs.take("radius").target(), logs.take("dhcp").target()],
        categories=[], due_in=90, date_range=(midnight(first), midnight(today)),
        notes="Preserve pending a 2703(d) order; do not disclose."))
    # The agency asked for the 90 more days the statute allows; renewing now is what lets
    # the holds outlive the day the logs reach their retention period.
    preservation.renew(desk.custodian, reference)
    return reference, "2703(f) letter: legal holds placed at intake, renewed once"


def emergency(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    served = datetime.now(UTC).replace(microsecond=0)
    body = document(
        "emergency_request", SHERIFF, f"HCSO-{today.year}-5521", today,
        targets=[logs.take("radius").target(), logs.take("nat").target()],
        categories=["name", "service_address", "phone", "connectivity_logs"], due_in=0,
        date_range=_span(logs, today),
        notes="Threats of self-harm posted from these connections; welfare check needed.",
        documents=[{"kind": "emergency_certification", "attachment": CERTIFICATE}],
        served=served.isoformat())
    files = (Incoming(CERTIFICATE, certification_pdf(SHERIFF, today), "application/pdf"),)
    reference = desk.take(body, files)
    desk.approve_both(reference, "emergency: certification on file, follow-up process due")
    desk.produce_and_deliver(reference, f"{SHERIFF.agent}, {SHERIFF.authority}",
                             "read to the verified dispatch line, then encrypted email")
    days = current_policy().legal_process["emergency_request"].follow_up_days
    return reference, f"emergency with its certification; follow-up process due in {days} days"


def unknown_subscriber(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    reference = desk.take(document(
        "administrative_subpoena", STATE_AG, f"CPU-{today.year}-0091", today,
        targets=[{"kind": "account", "value": UNKNOWN_ACCOUNT},
                 {"kind": "email", "value": UNKNOWN_EMAIL}],
        categories=["account", "name", "service_address", "email"], due_in=21,
        date_range=None, notes="Account and email named in a complaint."))
    desk.approve_both(reference)
    desk.produce_and_deliver(reference, f"{STATE_AG.agent}, {STATE_AG.authority}",
                             "agency portal upload")
    workflow.transition(desk.custodian, reference, "closed", "answered: no records")
    return reference, "names a subscriber we do not have: no records, delivered, closed"


def court_order(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    reference = desk.take(document(
        "order_2703d", FEDERAL, f"MJ-{today.year}-0198", today,
        targets=[logs.take("radius").target()], categories=[*BASIC, "interactions"],
        due_in=12, date_range=_span(logs, today),
        notes="Order under 2703(d): subscriber records and contacts with staff."))
    desk.approve_both(reference)
    return reference, "2703(d) order (may reach interactions): approved, to be produced"


def overdue(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    reference = desk.take(document(
        "administrative_subpoena", STATE_AG, f"CPU-{today.year}-0064", today,
        targets=[logs.take("dhcp").target()], categories=["name", "service_address"],
        due_in=-3, date_range=_span(logs, today),
        notes="Subscriber at an address used in a fraudulent order.",
        issued=(today - timedelta(days=30)).isoformat(),
        served=(today - timedelta(days=26)).isoformat()))
    workflow.transition(desk.custodian, reference, "validating")
    workflow.approve(desk.custodian, reference)
    return reference, "OVERDUE by 3 days: the custodian approved, counsel has not yet"


def dmca(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    reference = desk.take(document(
        "dmca_subpoena", LABEL, f"MC-{today.year}-0023", today,
        targets=[logs.take("radius").target()], categories=["name", "email"], due_in=20,
        date_range=None, notes="Identity of a user said to have shared a recording.",
        documents=["dmca_notification", "sworn_declaration"]))
    return reference, "DMCA 512(h) subpoena just received: flagged for counsel review"


def withdrawn(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    reference = desk.take(document(
        "trial_subpoena", DEFENSE, f"CR-{today.year}-0733", today,
        targets=[logs.take("dhcp").target()], categories=["name", "service_address"],
        due_in=9, date_range=_span(logs, today),
        notes="Records for trial."))
    workflow.transition(desk.custodian, reference, "validating")
    workflow.withdraw(desk.custodian, reference, "withdrawn by the defense: case dismissed")
    return reference, "trial subpoena withdrawn by the defense"


def civil_notice(desk: Desk, logs: Holdings, today: date) -> tuple[str, str]:
    """A civil subpoena: the subscriber is told first and has the policy's notice period to
    move to quash; production is refused until it has run."""
    reference = desk.take(document(
        "civil_subpoena", LABEL, f"CV-{today.year}-0412", today,
        targets=[logs.take("radius").target()], categories=["name", "email"], due_in=30,
        date_range=_span(logs, today),
        notes="Identity of the subscriber behind an address (John Doe copyright action).",
        documents=["early_discovery_order"]))
    desk.approve_both(reference, "early discovery order attached; notice before production")
    try:
        notice_desk.send(desk.custodian, reference)
    except BadTransition as nobody:  # the address's holder is linked to no subscriber
        return reference, f"civil subpoena approved; no notice sent: {nobody}"
    wait = notices.wait_days(LegalRequest.objects.get(reference=reference), current_policy())
    return reference, (f"civil subpoena: the subscriber was sent a notice letter today; "
                       f"production is refused until the {wait}-day notice period has run")


CASES: tuple[Case, ...] = (over_broad, cgnat_without_port, preservation_letter, emergency,
                           unknown_subscriber, court_order, overdue, dmca, withdrawn,
                           civil_notice)


def seed_legal_requests(truth: Path, zone: str) -> LegalDemo:
    """Carry each case to its state through the desk; return what was seeded."""
    desk = Desk.of_demo_staff()
    logs = Holdings(truth, zone)
    today = timezone.now().astimezone(UTC).date()
    demo = LegalDemo(staff=" or ".join(person_of(a) for a in (desk.custodian, desk.counsel)))
    for case in CASES:
        try:
            reference, story = case(desk, logs, today)
        except NotEnoughLogs as missing:  # raised before the request is taken in
            demo.skipped.append(f"{case.__name__.replace('_', ' ')}: {missing}")
            continue
        request = LegalRequest.objects.get(reference=reference)
        demo.requests.append(SeededRequest(reference, request.kind, request.status, story))
        if case is preservation_letter:
            demo.preservation = reference
            demo.dry_run_now, demo.holds = _look_ahead(reference)
    record_event(Actor.for_os_user(), "demo:seed:legal", Outcome.SUCCEEDED,
                 subject=f"demo:legal/requests:{len(demo.requests)}",
                 reason=", ".join(r.reference for r in demo.requests)[:500])
    return demo


def _look_ahead(reference: str) -> tuple[datetime | None, int]:
    """Midnight UTC the day before the holds expire: every log day older than the retention
    period by then is due for deletion, and the holds are still in force."""
    kept = preservation.preservation_view(reference)["preservation"]
    if not kept or not kept["holds"]:
        return None, 0
    expires = datetime.fromisoformat(kept["expires"]).astimezone(UTC)
    return midnight(expires.date() - timedelta(days=1)), len(kept["holds"])
