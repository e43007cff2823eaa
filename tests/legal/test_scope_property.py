"""Property: for random requests over random records and logs, no produced row falls outside
the request's scope, each target answers exactly who an independent oracle says (or nobody),
and any widening of the package is refused by the checker.

Each example runs the real thing: subscribers and identity links in the database, sessions
in a real log store, intake, narrowing, two approvals, production through the gate, the
package written and read back. Examples roll back and use their own data directory.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal import workflow
from cpniguard.legal.intake import take_in
from cpniguard.legal.models import LegalRequest
from cpniguard.legal.production import produce
from cpniguard.legal.queries import scope_of
from cpniguard.legal.scope import ProducedRow, TargetAnswer, violations
from cpniguard.policy import current_policy
from cpniguard.subscribers.catalog import RECORD_CATEGORIES
from cpniguard.subscribers.models import Address, Email, Phone, Subscriber
from tests.legal.conftest import document_for
from tests.legal.desk_setup import COUNSEL, CUSTODIAN, session
from tests.legal.notice_setup import notified

pytestmark = pytest.mark.django_db

KINDS = ("grand_jury_subpoena", "civil_subpoena", "order_2703d", "search_warrant",
         "emergency_request", "national_security_letter")
CATEGORIES = sorted(RECORD_CATEGORIES | {"connectivity_logs", "service_quality"})
# Drawn more often: the sections every generated person has.
COMMON = ["name", "account", "connectivity_logs", "service_address", "phone"] * 2
NOV = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    index: int
    address: str | None   # the address of its one session, if any
    day: int              # the session's day of November (it lasts six hours from 08:00)

    @property
    def account(self) -> str:
        return f"A20000{self.index}"

    @property
    def phone(self) -> str:
        return f"+1802555020{self.index}"


people = st.lists(st.builds(Person, st.integers(0, 4),
                            st.one_of(st.none(), st.sampled_from(["192.0.2.31", "192.0.2.32",
                                                                  "192.0.2.33"])),
                            st.integers(1, 27)),
                  min_size=1, max_size=4, unique_by=(lambda p: p.index, lambda p: p.address))


@st.composite
def targets(draw: st.DrawFn, crowd: list[Person]) -> list[tuple[str, Any, int]]:
    """Targets that often name someone: a session's hour, a person's account or phone."""
    def one() -> tuple[str, Any, int]:
        sessions = [p for p in crowd if p.address]
        if sessions and draw(st.booleans()):
            person = draw(st.sampled_from(sessions))
            hour = (person.day - 1) * 24 + 8 + draw(st.integers(-2, 7))  # sometimes outside
            return ("ip", person.address, hour)
        if draw(st.booleans()):
            return ("ip", draw(st.sampled_from(["192.0.2.31", "192.0.2.99"])),
                    draw(st.integers(0, 27 * 24)))
        return (draw(st.sampled_from(["account", "phone", "email", "name"])),
                draw(st.integers(0, 5)), 0)

    return [one() for _ in range(draw(st.integers(1, 4)))]


def build(crowd: list[Person], store: EmbeddedLogStore) -> None:
    for person in crowd:
        sub = Subscriber.objects.create(account_number=person.account, first_name="Pat",
                                        last_name=f"Example{person.index}",
                                        service_started=date(2020, 1, 1))
        Phone.objects.create(subscriber=sub, number=person.phone, primary=True)
        Email.objects.create(subscriber=sub, address=f"pat{person.index}@example.net")
        Address.objects.create(subscriber=sub, kind="service", line1=f"{person.index} Main St",
                               city="Millbrook", state="VT", postal_code="05660")
        if person.address:
            start = NOV + timedelta(days=person.day - 1, hours=8)
            session(store, person.address, f"user{person.index}", start=start, hours=6,
                    line=person.index + 1)
            IdentityLink.objects.create(subscriber=sub, kind="username",
                                        value=f"user{person.index}", valid_from=NOV)


def target_doc(item: tuple[str, Any, int]) -> dict[str, str]:
    kind, value, hours = item
    if kind == "ip":
        return {"kind": "ip", "value": value,
                "at": (NOV + timedelta(hours=hours, minutes=30)).isoformat()}
    text = {"account": f"A20000{value}", "phone": f"(802) 555-020{value}",
            "email": f"pat{value}@example.net", "name": f"Pat Example{value}"}[kind]
    return {"kind": kind, "value": text}


def expected(crowd: list[Person], item: tuple[str, Any, int], low: datetime,
             high: datetime) -> int | None:
    """The oracle: the one person a target names, by brute force over what was generated."""
    kind, value, hours = item
    if kind != "ip":
        return next((p.index for p in crowd if p.index == value), None)
    at = NOV + timedelta(hours=hours, minutes=30)
    if not low <= at <= high:
        return None
    for person in crowd:
        start = NOV + timedelta(days=person.day - 1, hours=8)
        if person.address == value and start <= at < start + timedelta(hours=6):
            return person.index
    return None


def _session_overlaps(person: Person, low: datetime, high: datetime) -> bool:
    if not person.address:
        return False
    start = NOV + timedelta(days=person.day - 1, hours=8)
    return start < high and start + timedelta(hours=6) > low


def widen(rows: list[ProducedRow], answers: list[TargetAnswer], scope_categories: list[str],
          how: int, count: int) -> list[ProducedRow]:
    base = rows[0] if rows else ProducedRow(1, 1, scope_categories[0], "x", "y", None, "")
    outside = next(c for c in CATEGORIES if c not in scope_categories)
    other = max((s for a in answers for s in a.subscribers), default=0) + 1
    bad = [replace(base, category=outside), replace(base, target=count + 1),
           replace(base, subscriber=other), replace(base, at="2030-01-01T00:00:00Z"),
           replace(base, clause=base.clause + " and more")][how]
    return [*rows, bad]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(crowd=people, data=st.data(), kind=st.sampled_from(KINDS),
       asked=st.lists(st.sampled_from([*CATEGORIES, *COMMON]), min_size=1, max_size=5,
                      unique=True),
       days=st.tuples(st.integers(0, 13), st.integers(14, 27)), how=st.integers(0, 4))
def test_no_produced_row_falls_outside_scope(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crowd: list[Person],
        data: st.DataObject, kind: str, asked: list[str], days: tuple[int, int],
        how: int) -> None:
    named = data.draw(targets(crowd))
    policy = current_policy()
    compellable = [c for c in asked if c in policy.legal_process[kind].may_compel]
    low = NOV + timedelta(days=min(days))
    high = NOV + timedelta(days=max(days[0] + 1, days[1]))
    document = document_for(policy.legal_process[kind], categories=asked,
                            targets=[target_doc(t) for t in named],
                            date_range={"from": low.isoformat(), "to": high.isoformat()})
    home = tempfile.mkdtemp(prefix="example-", dir=tmp_path)  # one per example
    monkeypatch.setenv("CPNIGUARD_HOME", home)
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", str(Path(home) / "logstore"))
    with transaction.atomic():
        build(crowd, EmbeddedLogStore(Path(home) / "logstore"))
        reference = str(take_in(CUSTODIAN, document)["reference"])
        workflow.transition(CUSTODIAN, reference, "validating")
        if compellable != asked and compellable:
            workflow.narrow(CUSTODIAN, reference, compellable)
        request = LegalRequest.objects.get(reference=reference)
        if not compellable or request.findings.filter(severity="error").exists():
            transaction.set_rollback(True)
            event("not approvable")
            return
        workflow.approve(CUSTODIAN, reference)
        workflow.approve(COUNSEL, reference)
        made = produce(CUSTODIAN, reference, now=notified(reference))["production"]
        package = json.loads((Path(made["directory"]) / "data.json").read_text())
        scope = scope_of(LegalRequest.objects.get(reference=reference), policy)
        ids = {s.account_number: s.pk for s in Subscriber.objects.all()}
        transaction.set_rollback(True)
    rows = [ProducedRow.from_dict(r) for r in package["rows"]]
    answers = [TargetAnswer.from_dict(a) for a in package["answers"]]
    event(f"produced, rows: {'some' if rows else 'none'}")
    assert violations(scope, answers, rows) == []
    for number, item in enumerate(named, start=1):
        person = expected(crowd, item, low, high)
        want = ids[f"A20000{person}"] if person is not None else None
        answer = next(a for a in answers if a.target == number)
        assert answer.subscribers == ((want,) if want is not None else ()), (number, item)
        got = {r.subscriber for r in rows if r.target == number}
        # Rows come from the sections a person has: build() gives none of the others. Logs:
        # the session an IP target names, or (a subscriber target) the person's own session
        # if it overlaps the named range.
        logs = item[0] == "ip" or (person is not None and _session_overlaps(
            next(p for p in crowd if p.index == person), low, high))
        shown = set(compellable) & ({"account", "name", "phone", "email", "service_address"}
                                    | ({"connectivity_logs"} if logs else set()))
        assert got == ({want} if want is not None and shown else set()), (number, item)
        assert {r.category for r in rows if r.target == number} == (
            shown if want is not None else set())
        assert all(low <= datetime.fromisoformat(r.at.replace("Z", "+00:00")) <= high
                   for r in rows if r.at)
    widened = widen(rows, answers, list(scope.categories), how, len(named))
    assert violations(scope, answers, widened), f"widening {how} was not refused"
