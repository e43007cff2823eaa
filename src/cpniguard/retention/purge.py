"""`retention run`: delete every expired day of connectivity logs, except rows a hold keeps.

Authorization: the run is one access through the gate (action `purge` on connectivity logs,
purpose `retention`), which the shipped policy grants to the admin role only. A system actor
has no role, so deny-by-default refuses it; a scheduled run executes as an operating-system
account linked to an admin staff member, so every purge names a responsible person.

Order of work for each expired day, chosen so a crash anywhere is finished by the next run:

1. A PurgeRecord `started` is committed, with the rows the day holds.
2. The store deletes: whole partitions when no row is held, else the journalled rewrite of
   `store.purge_day`, which keeps exactly the held rows.
3. One transaction: the record `complete` with rows removed and kept, and the audit entry
   `connectivity:logs:purge` for `connectivity:<source>/<day>` naming the holds.

A `started` record found by the next run is taken up again: the day is purged (again; it is
idempotent) and the rows the interrupted attempt removed are counted from the record.

Holds are re-read before each day is deleted, so a hold placed during a long run protects
every day not yet deleted.

Quarantined lines of a file expire with the file's last log day, unless a hold keeps them
(see `planner.files_to_expire`), and so do its entries in the open-session registry; they are
deleted in the same transaction as their record and audit entry. The file's own row stays, so
the same file is still recognised on re-ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from cpniguard.access import Actor, access, record_event
from cpniguard.audit.models import Outcome
from cpniguard.connectivity.ingest import ProgressSink
from cpniguard.connectivity.models import OpenInterval, QuarantinedLine
from cpniguard.connectivity.store import LogStore
from cpniguard.policy import Action, current_policy
from cpniguard.retention import speedtest_expiry
from cpniguard.retention.holds import HoldMatcher
from cpniguard.retention.models import PurgeRecord
from cpniguard.retention.planner import (
    DayPlan,
    FilePlan,
    Keeper,
    KeptFiles,
    files_to_expire,
    holds_in_force,
    plan_days,
    sources_in_play,
    survey,
)
from cpniguard.retention.sources import Rule, rules_for
from cpniguard.retention.speedtest_expiry import SpeedTestPlan
from cpniguard.retention.store_days import finish_interrupted

PURPOSE = "retention"
RESOURCE = "connectivity:retention"
DAY_EVENT = "connectivity:logs:purge"
FILE_EVENT = "connectivity:quarantine:purge"
CATEGORIES = frozenset({"connectivity_logs"})
_REASON_LIMIT = 500


class EarlyPurge(ValueError):
    """A real run asked to act as of a future instant: it would delete before time."""


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool
    rules: list[Rule]
    days: list[DayPlan] = field(default_factory=list)
    files: list[FilePlan] = field(default_factory=list)
    repaired: int = 0  # days whose interrupted rewrite was finished first
    speed_tests: SpeedTestPlan | None = None  # None: no speed-test result is stored

    def to_dict(self) -> dict[str, object]:
        gone = [d for d in self.days if d.removed]
        return {
            "now": self.now.isoformat(), "dry_run": self.dry_run, "repaired": self.repaired,
            "rules": [r.to_dict() for r in self.rules],
            "days": [d.to_dict() for d in self.days],
            "files": [f.to_dict() for f in self.files],
            "speed_tests": None if self.speed_tests is None else self.speed_tests.to_dict(),
            "totals": {"days": len(gone), "rows_removed": sum(d.removed for d in self.days),
                       "rows_kept": sum(d.kept for d in self.days),
                       "files": sum(1 for f in self.files if not f.holds),
                       "lines_removed": sum(f.lines for f in self.files if not f.holds),
                       "open_sessions_removed": sum(f.open_sessions for f in self.files
                                                    if not f.holds)},
        }


def _ids(holds: list[int]) -> str:
    return ", ".join(str(h) for h in holds) if holds else "none"


def _reason(text: str) -> str:
    return text if len(text) <= _REASON_LIMIT else text[:_REASON_LIMIT - 1] + "…"


def run_retention(actor: Actor, store: LogStore, *, now: datetime | None = None,
                  dry_run: bool = False, progress: ProgressSink | None = None
                  ) -> RetentionReport:
    """Plan (and unless `dry_run`, carry out) retention as of `now` (default: the clock).

    Raises AccessRefused (audited) when the actor may not purge, NoRetentionRule when a
    source has no retention period, EarlyPurge for a `now` later than the clock on a real run
    (that would delete early).
    """
    clock = timezone.now()
    now = (now or clock).astimezone(UTC)
    if not dry_run and now > clock:
        raise EarlyPurge(f"--now {now.isoformat()} is later than the clock; only a dry run "
                         "may look ahead")
    with access(actor, Action.PURGE, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject="retention:dry-run" if dry_run else "retention:run",
                categories=CATEGORIES) as permit:
        repaired = 0 if dry_run else finish_interrupted(store)
        policy = current_policy()
        rules = rules_for(sources_in_play(store), policy, now)
        speedtest_expiry.plan(policy, now)  # a missing period stops the run before any delete
        matcher = HoldMatcher(holds_in_force(now))
        kept_files: KeptFiles = {}
        report = RetentionReport(now, dry_run, list(rules.values()), repaired=repaired)
        report.days = plan_days(store, rules, matcher, kept_files, progress)
        report.files = files_to_expire(rules, matcher, kept_files)
        permit.touched(["retention.days", "retention.rows", "retention.holds"])
    if dry_run:
        report.speed_tests = speedtest_expiry.expire(actor, policy, now, dry_run=True)
        return report
    if progress is not None:
        progress.start("purging expired days", len(report.days))
    for number, plan in enumerate(report.days):
        report.days[number] = _purge_day(actor, store, rules[plan.source], plan, matcher, now)
        if progress is not None:
            progress.advance(1)
    for file in report.files:
        if not file.holds:
            _purge_file(actor, rules[file.source], file)
    report.speed_tests = speedtest_expiry.expire(actor, policy, now, dry_run=False)
    return report


def _purge_day(actor: Actor, store: LogStore, rule: Rule, plan: DayPlan,
               matcher: HoldMatcher, now: datetime) -> DayPlan:
    fresh = HoldMatcher(holds_in_force(now))
    if fresh.rules != matcher.rules:  # a hold changed since the plan: ask again for this day
        plan = survey(store, plan.source, plan.day, plan.partitions, plan.rows, fresh, {})
        matcher = fresh
    record = PurgeRecord.objects.filter(kind=PurgeRecord.Kind.DAY, source=plan.source,
                                        day=plan.day, status=PurgeRecord.Status.STARTED).first()
    if record is None and not plan.removed:
        return plan  # every row is held: nothing to delete, nothing to record
    if record is None:
        record = PurgeRecord.objects.create(
            kind=PurgeRecord.Kind.DAY, source=plan.source, day=plan.day,
            retention_days=rule.days, cutoff=rule.cutoff, rows_before=plan.rows,
            actor=actor.username, run=actor.request_id, started=timezone.now())
    keeper = Keeper(matcher)
    if matcher or plan.resumed:
        removed, kept = store.purge_day(plan.source, plan.day, keeper)
    else:
        # No hold in force, so nothing can be held: the planned partitions go whole, without
        # reading a row (one ingested since the plan waits for the next run).
        for part in plan.partitions:
            store.drop_partition(plan.source, plan.day, part)
        removed, kept = plan.rows, 0
    # Rows an interrupted attempt already deleted are known only from its record.
    removed += max(0, record.rows_before - (removed + kept))
    holds = sorted(keeper.holds)
    with transaction.atomic():
        record.status = PurgeRecord.Status.COMPLETE
        record.rows_removed, record.rows_kept, record.holds = removed, kept, holds
        record.finished = timezone.now()
        record.save()
        record_event(actor, DAY_EVENT, Outcome.SUCCEEDED,
                     subject=f"connectivity:{plan.source}/{plan.day.isoformat()}",
                     reason=_reason(f"{rule.key} older than {rule.days} days: removed "
                                    f"{removed} rows, kept {kept} under holds {_ids(holds)}"))
    return DayPlan(plan.source, plan.day, plan.partitions, removed + kept, removed, kept,
                   holds, plan.resumed)


def _purge_file(actor: Actor, rule: Rule, plan: FilePlan) -> None:
    with transaction.atomic():
        lines, _ = QuarantinedLine.objects.filter(file_id=plan.file_id).delete()
        sessions, _ = OpenInterval.objects.filter(file_id=plan.file_id).delete()
        # A file has one purge record; one purged before its registry entries went with it
        # keeps that record, and this removal is in the audit entry below.
        PurgeRecord.objects.get_or_create(
            kind=PurgeRecord.Kind.FILE, file_id=plan.file_id, defaults={
                "status": PurgeRecord.Status.COMPLETE, "source": plan.source,
                "retention_days": rule.days, "cutoff": rule.cutoff, "lines_removed": lines,
                "actor": actor.username, "run": actor.request_id, "started": timezone.now(),
                "finished": timezone.now()})
        record_event(actor, FILE_EVENT, Outcome.SUCCEEDED, subject=f"logfile:{plan.sha256}",
                     reason=f"{rule.key} older than {rule.days} days: removed {lines} "
                            f"quarantined lines and {sessions} open-session registry rows")
    plan.lines, plan.open_sessions = lines, sessions
