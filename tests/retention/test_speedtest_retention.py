"""`retention run` and speed-test results: measured before the cutoff they go, with the
quarantined lines of old files, unless a hold reaches their subscriber through an identity
link; a dry run changes nothing; the purge is decided by the gate and audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.policy import current_policy
from cpniguard.policy.loader import default_policy_text
from cpniguard.quality.models import SpeedTest, SpeedTestFile, SpeedTestQuarantine
from cpniguard.retention.models import LegalHold
from cpniguard.retention.purge import run_retention
from cpniguard.retention.sources import NoRetentionRule
from cpniguard.subscribers.models import Subscriber

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 9, 1, tzinfo=UTC)      # 365 days: results before 2025-09-01 go
OLD = datetime(2025, 6, 1, 12, tzinfo=UTC)
YOUNG = datetime(2026, 8, 1, 12, tzinfo=UTC)
ADMIN = Actor("admin1", "admin", Channel.CLI)


def person(account: str) -> Subscriber:
    return Subscriber.objects.create(account_number=account, first_name="Sam",
                                     last_name="Example", service_started=date(2024, 1, 1))


def results(owner: Subscriber, *moments: datetime) -> None:
    record = SpeedTestFile.objects.create(
        sha256=f"{owner.pk:064x}", format="csv", path="/srv/speedtests.csv", size=1,
        imported=moments[0], imported_by="noc1")
    for line, moment in enumerate(moments, start=2):
        SpeedTest.objects.create(subscriber=owner, measured_at=moment, down_mbps=90.0,
                                 up_mbps=9.0, method="ookla", file=record, line=line)
    SpeedTestQuarantine.objects.create(file=record, line=99, reason="naive time",
                                       text=f"{owner.account_number},2025-06-01 12:00,1,1,,,")


def measured(owner: Subscriber) -> list[datetime]:
    return list(SpeedTest.objects.filter(subscriber=owner).values_list("measured_at",
                                                                       flat=True))


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedLogStore:
    return EmbeddedLogStore(tmp_path / "logstore")


def test_expired_results_and_old_quarantine_go_young_ones_stay_and_it_is_audited(
        store: EmbeddedLogStore) -> None:
    alice = person("A1000001")
    results(alice, OLD, OLD + timedelta(days=30), YOUNG)
    dry = run_retention(ADMIN, store, now=NOW, dry_run=True)
    assert dry.speed_tests is not None
    assert (dry.speed_tests.removed, dry.speed_tests.kept, dry.speed_tests.lines) == (2, 0, 1)
    assert len(measured(alice)) == 3  # a dry run deletes nothing
    assert dry.to_dict()["speed_tests"]["cutoff"] == "2025-09-01T00:00:00+00:00"

    done = run_retention(ADMIN, store, now=NOW)
    assert done.speed_tests is not None
    assert (done.speed_tests.removed, done.speed_tests.lines) == (2, 1)
    assert measured(alice) == [YOUNG]
    assert not SpeedTestQuarantine.objects.exists()
    assert SpeedTestFile.objects.count() == 1  # the file's record stays: no re-import
    entry = AuditEntry.objects.filter(event="quality:speedtests:expired").get()
    assert "removed 2 results and 1 quarantined lines" in entry.reason
    decisions = AuditEntry.objects.filter(event="quality:speedtests:purge").order_by("seq")
    assert [(d.subject, d.outcome) for d in decisions] == [
        ("retention:speed-tests:dry-run", "allowed"), ("retention:speed-tests", "allowed")]


def test_a_hold_keeps_its_subscribers_results_within_its_range_only(
        store: EmbeddedLogStore) -> None:
    alice, bob = person("A1000001"), person("A1000002")
    inside, outside = OLD, OLD + timedelta(days=40)
    results(alice, inside, outside)
    results(bob, inside)
    IdentityLink.objects.create(subscriber=alice, kind=IdentityLink.Kind.USERNAME,
                                value="Alice@Example.net", valid_from=OLD - timedelta(days=9))
    hold = LegalHold.objects.create(
        kind="username", identifier="alice@example.net", starts=OLD - timedelta(days=1),
        ends=OLD + timedelta(days=1), expires=datetime(2036, 1, 1, tzinfo=UTC),
        reference="LR-2026-0042", created_by="custodian1", created=NOW)
    done = run_retention(ADMIN, store, now=NOW)
    assert done.speed_tests is not None
    assert (done.speed_tests.removed, done.speed_tests.kept) == (2, 1)
    assert done.speed_tests.holds == [hold.pk]
    assert measured(alice) == [inside]
    assert measured(bob) == []
    hold.released = NOW
    hold.save()
    run_retention(ADMIN, store, now=NOW)
    assert measured(alice) == []  # released: it protects nothing


def test_an_address_hold_reaches_a_static_address_link(store: EmbeddedLogStore) -> None:
    carol = person("A1000003")
    results(carol, OLD)
    IdentityLink.objects.create(subscriber=carol, kind=IdentityLink.Kind.STATIC_IP,
                                value="192.0.2.7/32", valid_from=OLD - timedelta(days=9),
                                valid_to=OLD + timedelta(days=9))
    LegalHold.objects.create(
        kind="address", identifier="192.0.2.0/24", starts=OLD - timedelta(days=1),
        ends=OLD + timedelta(days=1), expires=datetime(2036, 1, 1, tzinfo=UTC),
        reference="LR-2026-0043", created_by="custodian1", created=NOW)
    run_retention(ADMIN, store, now=NOW)
    assert measured(carol) == [OLD]


def test_without_a_period_the_run_stops_before_deleting_anything(
        store: EmbeddedLogStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = person("A1000001")
    results(alice, OLD)
    (tmp_path / "policy.toml").write_text(default_policy_text().replace(
        "speed_tests = 365\n", ""))
    monkeypatch.setenv("CPNIGUARD_POLICY", str(tmp_path / "policy.toml"))
    current_policy.cache_clear()
    try:
        with pytest.raises(NoRetentionRule, match=r"retention\.speed_tests"):
            run_retention(ADMIN, store, now=NOW)
    finally:
        monkeypatch.delenv("CPNIGUARD_POLICY")
        current_policy.cache_clear()
    assert measured(alice) == [OLD]


def test_the_cli_reports_them_and_a_role_without_the_grant_changes_nothing(
        store: EmbeddedLogStore, make_staff: Callable[..., StaffUser],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cpniguard.cli import main

    alice = person("A1000001")
    results(alice, OLD, YOUNG)
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, "ops")
    make_staff("admin", os_username="ops")
    assert main(["retention", "run", "--dry-run", "--now", "2026-09-01T00:00:00Z",
                 "--store", str(store.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["speed_tests"]["removed"] == 1
    assert main(["retention", "run", "--dry-run", "--now", "2026-09-01T00:00:00Z",
                 "--store", str(store.root)]) == 0
    assert "speed tests: speed_tests 365 days" in capsys.readouterr().out
    with pytest.raises(AccessRefused):
        run_retention(Actor("noc1", "noc", Channel.CLI), store, now=NOW)
    assert len(measured(alice)) == 2
