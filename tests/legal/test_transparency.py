"""The disclosure log and the transparency report: every answer logged once and kept; the
report's counts equal the log's, by kind and outcome; national security letters only in
bands; the same numbers on the CLI (CSV), the API and the page."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from cpniguard.accounts.models import StaffUser
from cpniguard.cli import main
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal import workflow
from cpniguard.legal.intake import take_in
from cpniguard.legal.models import Disclosure
from cpniguard.legal.production import deliver, produce
from cpniguard.legal.transparency import OUTCOMES, Entry, band, report, tally
from cpniguard.policy import Policy
from cpniguard.subscribers.models import Subscriber
from tests.legal.conftest import document_for
from tests.legal.desk_setup import COUNSEL, CUSTODIAN, RANGE, approved, store

pytestmark = pytest.mark.django_db
__all__ = ["store"]

PHONE = {"kind": "phone", "value": "(802) 555-0142"}
NOBODY = {"kind": "account", "value": "A0000000"}


def delivered(document: dict[str, Any]) -> str:
    reference = approved(document)
    produce(CUSTODIAN, reference)
    deliver(CUSTODIAN, reference, to="the requesting agent", how="portal upload")
    return reference


def answer_every_way(policy: Policy, subpoena: dict[str, Any]) -> None:
    base = {**subpoena, "date_range": RANGE, "categories": ["name"]}
    delivered({**base, "targets": [PHONE]})                                   # fully
    delivered({**base, "targets": [NOBODY]})                                  # no data
    partial = take_in(CUSTODIAN, {**base, "targets": [PHONE],
                                  "categories": ["name", "interactions"]})["reference"]
    workflow.transition(CUSTODIAN, partial, "validating")
    workflow.narrow(CUSTODIAN, partial, ["name"])
    workflow.approve(CUSTODIAN, partial)
    workflow.approve(COUNSEL, partial)
    produce(CUSTODIAN, partial)
    deliver(CUSTODIAN, partial, to="agent", how="portal")                     # partially
    rejected = take_in(CUSTODIAN, {**base, "signed": False})["reference"]
    workflow.transition(CUSTODIAN, rejected, "rejected", "not signed")         # rejected
    workflow.withdraw(CUSTODIAN, take_in(CUSTODIAN, base)["reference"])        # withdrawn
    nsl = document_for(policy.legal_process["national_security_letter"],
                       date_range=RANGE, targets=[PHONE], categories=["name"])
    delivered(nsl)
    delivered(nsl)


def test_every_answer_is_logged_once_with_its_outcome(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy,
        subpoena: dict[str, Any]) -> None:
    answer_every_way(policy, subpoena)
    log = list(Disclosure.objects.order_by("id"))
    assert Counter((d.kind, d.outcome) for d in log) == Counter({
        ("grand_jury_subpoena", "complied_fully"): 1, ("grand_jury_subpoena", "no_data"): 1,
        ("grand_jury_subpoena", "complied_partially"): 1,
        ("grand_jury_subpoena", "rejected"): 1, ("grand_jury_subpoena", "withdrawn"): 1,
        ("national_security_letter", "complied_fully"): 2})
    assert all(d.keep_until - d.when == timedelta(days=1825) for d in log)
    assert {d.rows > 0 for d in log if d.outcome.startswith("complied")} == {True}
    assert [(d.rows, bool(d.package_sha256)) for d in log
            if d.outcome in ("rejected", "withdrawn")] == [(0, False), (0, False)]
    [empty] = [d for d in log if d.outcome == "no_data"]
    assert (empty.rows, len(empty.package_sha256), empty.subscribers) == (0, 64, [])


def test_the_report_counts_equal_the_logs(
        store: EmbeddedLogStore, subscriber: Subscriber, policy: Policy,
        subpoena: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        make_staff: Callable[..., StaffUser], capsys: pytest.CaptureFixture[str]) -> None:
    answer_every_way(policy, subpoena)
    # An answer from last year is outside the period asked about.
    old = timezone.now() - timedelta(days=400)
    Disclosure.objects.create(reference="LR-2025-0001", kind="grand_jury_subpoena",
                              outcome="complied_fully", rows=3, subscribers=[subscriber.pk],
                              when=old, recorded_by="dana", keep_until=old + timedelta(
                                  days=1825))
    today = timezone.now().astimezone(UTC).date()
    start = today - timedelta(days=30)
    result = report(CUSTODIAN, start, today)
    log = [d for d in Disclosure.objects.all() if d.when.date() >= start]
    exact = [d for d in log if d.kind != "national_security_letter"]
    [subpoenas] = result["kinds"]
    assert subpoenas["requests"] == len(exact)
    assert subpoenas["outcomes"] == {o: sum(d.outcome == o for d in exact) for o in OUTCOMES}
    assert subpoenas["accounts"] == len({s for d in exact for s in d.subscribers}) == 1
    assert result["banded"] == [{"kind": "national_security_letter",
                                 "label": "National security letter",
                                 "requests": "0-499", "accounts": "0-499"}]
    assert result["totals"]["requests"] == len(exact)

    make_staff("custodian", "dana", os_username="desk")
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, "desk")
    code = main(["legal", "transparency", "--from", start.isoformat(), "--to",
                 today.isoformat(), "--csv"])
    out = capsys.readouterr().out
    assert code == 0
    rows = {r["kind"]: r for r in csv.DictReader(io.StringIO(out))}
    assert int(rows["grand_jury_subpoena"]["requests"]) == len(exact)
    assert {o: int(rows["grand_jury_subpoena"][o]) for o in OUTCOMES} == \
        subpoenas["outcomes"]
    assert rows["national_security_letter"]["requests"] == "0-499"
    assert rows["national_security_letter"]["complied_fully"] == ""
    assert main(["legal", "disclosures", "--from", start.isoformat(), "--to",
                 today.isoformat(), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(log)


def test_bands_and_tally_are_pure() -> None:
    assert [band(n, 500) for n in (0, 1, 499, 500, 999, 1000)] == [
        "0-499", "0-499", "0-499", "500-999", "500-999", "1000-1499"]
    from cpniguard.policy import current_policy

    entries = [Entry("national_security_letter", "complied_fully", (n,)) for n in range(501)]
    entries += [Entry("search_warrant", "rejected", ()), Entry("search_warrant",
                                                                "complied_fully", (1, 2))]
    result = tally(entries, current_policy())
    assert result["banded"][0]["requests"] == "500-999"
    assert result["totals"]["accounts"] == 2  # the banded kind's 501 accounts are not added
    assert result["kinds"][0]["outcomes"]["rejected"] == 1


def test_the_log_cannot_be_changed_nor_deleted_before_its_time(
        subscriber: Subscriber) -> None:
    now = timezone.now()
    kept = Disclosure.objects.create(reference="LR-2026-0901", kind="trial_subpoena",
                                     outcome="complied_fully", rows=1, when=now,
                                     recorded_by="dana", keep_until=now + timedelta(days=365))
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.filter(pk=kept.pk).update(rows=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        Disclosure.objects.filter(pk=kept.pk).delete()
    ended = Disclosure.objects.create(
        reference="LR-2019-0001", kind="trial_subpoena", outcome="rejected",
        when=datetime(2019, 1, 1, tzinfo=UTC), recorded_by="dana",
        keep_until=datetime(2024, 1, 1, tzinfo=UTC))
    Disclosure.objects.filter(pk=ended.pk).delete()  # its retention is over
    assert list(Disclosure.objects.values_list("reference", "rows")) == [("LR-2026-0901", 1)]


def test_a_reversed_period_is_refused_before_anything(policy: Policy) -> None:
    with pytest.raises(ValueError, match="ends"):
        report(CUSTODIAN, date(2026, 2, 1), date(2026, 1, 1))
