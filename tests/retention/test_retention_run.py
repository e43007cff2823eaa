"""`cpniguard retention run`: expired days go, held rows and young rows stay, each purged day
is audited, a dry run changes nothing, and an interrupted run is finished exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.store import EmbeddedLogStore, StoredInterval
from cpniguard.retention.models import LegalHold, PurgeRecord
from cpniguard.retention.purge import run_retention
from tests.retention.conftest import content, row

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 9, 1, tzinfo=UTC)  # 180 days of RADIUS: 2026-03-04 is the last day to go
NOW_ARG = ("--now", "2026-08-31T19:00:00-05:00")
FIRST = datetime(2026, 3, 1, 8, tzinfo=UTC)
CASE = "LR-2026-0042"
ADMIN = Actor("admin1", "admin", Channel.CLI)
Cli = Callable[..., tuple[int, str, str]]


def fill(store: EmbeddedLogStore) -> None:
    """Eight days of sessions; on 03-02 alice and bob share one partition."""
    for offset in range(8):
        start = FIRST + timedelta(days=offset)
        store.add("radius-detail", [row(f"192.0.2.{offset + 1}/32", start,
                                        start + timedelta(hours=1), username=f"user{offset}")])
    start = FIRST + timedelta(days=1, hours=2)
    store.add("radius-detail", [
        row("192.0.2.50/32", start, start + timedelta(hours=1), username="alice"),
        row("192.0.2.51/32", start, start + timedelta(hours=1), username="bob"),
    ])


def hold(identifier: str = "alice", kind: str = "username", **extra: object) -> LegalHold:
    values: dict[str, object] = {
        "kind": kind, "identifier": identifier, "starts": FIRST, "ends": FIRST + timedelta(days=3),
        "expires": datetime(2036, 1, 1, tzinfo=UTC), "reference": CASE,
        "created_by": "custodian1", "created": NOW, **extra}
    return LegalHold.objects.create(**values)


YOUNG = [("2026-03-05", "user4"), ("2026-03-06", "user5"), ("2026-03-07", "user6"),
         ("2026-03-08", "user7")]


def test_dry_run_says_what_would_go_and_changes_nothing(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    fill(store)
    held = hold()
    before = content(store)
    as_role("admin")
    code, out, _ = cli("retention", "run", "--dry-run", *NOW_ARG, "--store", str(store.root),
                       "--json")
    assert code == 0
    data = json.loads(out)
    assert data["now"] == "2026-09-01T00:00:00+00:00"
    assert data["rules"] == [{"source": "radius-detail", "retention_key": "radius_accounting",
                              "days": 180, "cutoff": "2026-03-05T00:00:00+00:00"}]
    assert [(d["day"], d["partitions"], d["rows"], d["removed"], d["kept"], d["holds"])
            for d in data["days"]] == [
        ("2026-03-01", [1], 1, 1, 0, []),
        ("2026-03-02", [1, 2], 3, 2, 1, [held.pk]),
        ("2026-03-03", [1], 1, 1, 0, []),
        ("2026-03-04", [1], 1, 1, 0, []),
    ]
    assert data["totals"]["rows_removed"] == 5
    assert content(store) == before
    assert not PurgeRecord.objects.exists()
    [entry] = AuditEntry.objects.all()
    assert (entry.event, entry.outcome, entry.subject, entry.purpose, entry.rule) == (
        "connectivity:retention:purge", "allowed", "retention:dry-run", "retention",
        "grant:admin-retention-purge")
    code, out, _ = cli("retention", "run", "--dry-run", *NOW_ARG, "--store", str(store.root))
    assert "2026-03-02 parts 1,2: 3 rows, would remove 2, kept 1 held by" in out
    assert "dry run: nothing deleted" in out.splitlines()[0]


def test_run_keeps_held_and_young_rows_and_audits_each_day(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    fill(store)
    held = hold()
    as_role("admin")
    code, out, _ = cli("retention", "run", *NOW_ARG, "--store", str(store.root))
    assert code == 0, out
    assert "total: removed 5 rows in 4 days, kept 1 held rows" in out
    assert content(store) == [("2026-03-02", "alice"), *YOUNG]
    entries = AuditEntry.objects.filter(event="connectivity:logs:purge").order_by("seq")
    assert [(e.subject, e.outcome) for e in entries] == [
        (f"connectivity:radius-detail/2026-03-0{n}", "succeeded") for n in range(1, 5)]
    assert entries[1].reason == (f"radius_accounting older than 180 days: removed 2 rows, "
                                 f"kept 1 under holds {held.pk}")
    assert all("alice" not in e.reason and "192.0.2" not in e.reason for e in entries)
    records = PurgeRecord.objects.order_by("day")
    assert [(r.status, r.rows_removed, r.rows_kept, r.holds) for r in records] == [
        ("complete", 1, 0, []), ("complete", 2, 1, [held.pk]), ("complete", 1, 0, []),
        ("complete", 1, 0, [])]
    assert len({r.run for r in records}) == 1
    # Running again removes nothing more; the day holding only alice is not purged again.
    code, out, _ = cli("retention", "run", *NOW_ARG, "--store", str(store.root), "--json")
    assert json.loads(out)["totals"]["rows_removed"] == 0
    assert PurgeRecord.objects.count() == 4
    assert content(store) == [("2026-03-02", "alice"), *YOUNG]


@pytest.mark.parametrize("ended", ["expired", "released"])
def test_an_ended_hold_protects_nothing(store: EmbeddedLogStore, ended: str) -> None:
    fill(store)
    if ended == "expired":
        hold(expires=NOW - timedelta(seconds=1))
    else:
        hold(released=NOW - timedelta(days=1), released_by="custodian1")
    report = run_retention(ADMIN, store, now=NOW)
    assert content(store) == YOUNG
    assert [d.kept for d in report.days] == [0, 0, 0, 0]
    assert LegalHold.objects.count() == 1  # the record of the hold stays


def test_an_address_hold_keeps_the_session_of_that_address(store: EmbeddedLogStore) -> None:
    fill(store)
    hold("192.0.2.0/28", "address", starts=FIRST + timedelta(days=2),
         ends=FIRST + timedelta(days=2, hours=1))
    run_retention(ADMIN, store, now=NOW)
    assert content(store) == [("2026-03-03", "user2"), *YOUNG]


@pytest.mark.parametrize("role", ["custodian", "compliance", "noc", "auditor"])
def test_a_role_without_the_grant_is_refused_audited_and_changes_nothing(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli,
        role: str) -> None:
    fill(store)
    before = content(store)
    as_role(role)
    code, _, err = cli("retention", "run", *NOW_ARG, "--store", str(store.root))
    assert code == 3
    assert "refused:" in err
    assert content(store) == before
    assert not PurgeRecord.objects.exists()
    [entry] = AuditEntry.objects.all()
    assert (entry.event, entry.outcome, entry.subject) == (
        "connectivity:retention:purge", "refused", "retention:run")


def test_an_unlinked_os_user_and_a_system_actor_are_refused(
        store: EmbeddedLogStore, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store)
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, "cron")
    assert cli("retention", "run", *NOW_ARG, "--store", str(store.root))[0] == 3
    with pytest.raises(AccessRefused):
        run_retention(Actor.system("retention"), store, now=NOW)
    assert len(content(store)) == 10
    assert [e.outcome for e in AuditEntry.objects.all()] == ["refused", "refused"]


def test_a_source_without_a_rule_stops_the_run_before_any_delete(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    fill(store)
    store.add("radius", [row("192.0.2.9/32", FIRST, FIRST + timedelta(hours=1),
                             username="zed", source="radius")])
    as_role("admin")
    code, _, err = cli("retention", "run", *NOW_ARG, "--store", str(store.root))
    assert code == 2
    assert "store source 'radius' has no retention rule" in err
    assert len(content(store)) == 11
    assert not PurgeRecord.objects.exists()


def test_a_real_run_refuses_to_look_ahead(store: EmbeddedLogStore,
                                          as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    fill(store)
    as_role("admin")
    code, _, err = cli("retention", "run", "--now", "2999-01-01T00:00:00Z",
                       "--store", str(store.root))
    assert code == 2
    assert "later than the clock" in err
    code, _, err = cli("retention", "run", "--now", "2026-09-01T00:00:00",
                       "--store", str(store.root))
    assert code == 2
    assert "no offset or zone" in err
    assert len(content(store)) == 10


class Crash(RuntimeError):
    pass


class CrashingStore(EmbeddedLogStore):
    """The real store, stopped dead after the physical delete of a day and before its record."""

    def purge_day(self, source: str, day: date | str,
                  keep: Callable[[StoredInterval], bool]) -> tuple[int, int]:
        super().purge_day(source, day, keep)
        raise Crash(str(day))

    def drop_partition(self, source: str, day: date | str, part: int | None = None
                       ) -> list[Path]:
        super().drop_partition(source, day, part)
        raise Crash(str(day))


@pytest.mark.parametrize("with_hold", [True, False])
def test_a_run_interrupted_after_deleting_is_finished_exactly(
        store: EmbeddedLogStore, with_hold: bool) -> None:
    fill(store)
    if with_hold:
        hold()
    with pytest.raises(Crash):
        run_retention(ADMIN, CrashingStore(store.root), now=NOW)
    [started] = PurgeRecord.objects.all()
    assert (started.status, started.day, started.rows_before) == (
        "started", date(2026, 3, 1), 1)
    assert not AuditEntry.objects.filter(event="connectivity:logs:purge").exists()
    report = run_retention(ADMIN, store, now=NOW)
    assert report.days[0].resumed
    kept = [("2026-03-02", "alice")] if with_hold else []
    assert content(store) == [*kept, *YOUNG]
    records = PurgeRecord.objects.order_by("day")
    assert [(r.status, r.rows_removed, r.rows_kept) for r in records] == [
        ("complete", 1, 0), ("complete", 3 - len(kept), len(kept)), ("complete", 1, 0),
        ("complete", 1, 0)]
    subjects = list(AuditEntry.objects.filter(event="connectivity:logs:purge")
                    .values_list("subject", flat=True))
    assert subjects == [f"connectivity:radius-detail/2026-03-0{n}" for n in range(1, 5)]


def test_a_hold_placed_during_a_run_protects_the_days_not_yet_deleted(
        store: EmbeddedLogStore) -> None:
    fill(store)

    class HoldArrives(EmbeddedLogStore):
        def drop_partition(self, source: str, day: date | str, part: int | None = None
                           ) -> list[Path]:
            if not LegalHold.objects.exists():
                hold()  # placed while the first expired day is being deleted
            return super().drop_partition(source, day, part)

    report = run_retention(ADMIN, HoldArrives(store.root), now=NOW)
    assert content(store) == [("2026-03-02", "alice"), *YOUNG]
    assert [d.kept for d in report.days] == [0, 1, 0, 0]
