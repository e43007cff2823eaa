"""What a retention run would delete: expired days per source, held rows, expired quarantine.

The plan reads the store's manifests (source, day, row counts) and, only when some hold is in
force, the rows of expired days, to count which ones a hold keeps. It changes nothing: the dry
run prints it as it is, the real run carries it out day by day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q

from cpniguard.connectivity.ingest import ProgressSink
from cpniguard.connectivity.models import IngestedFile, OpenInterval
from cpniguard.connectivity.store import LogStore, StoredInterval
from cpniguard.connectivity.store.schema import to_us
from cpniguard.retention.holds import HoldMatcher, HoldRule
from cpniguard.retention.models import LegalHold, PurgeRecord
from cpniguard.retention.sources import Rule
from cpniguard.retention.store_days import survey_rows


@dataclass
class DayPlan:
    source: str
    day: date
    partitions: list[int]
    rows: int                 # rows stored for the day now
    removed: int              # rows that go
    kept: int                 # rows a hold keeps
    holds: list[int] = field(default_factory=list)
    resumed: bool = False     # an earlier run started this day and did not finish

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "day": self.day.isoformat(),
                "partitions": self.partitions, "rows": self.rows, "removed": self.removed,
                "kept": self.kept, "holds": self.holds, "resumed": self.resumed}


@dataclass
class FilePlan:
    file_id: int
    sha256: str
    source: str
    days: list[str]
    lines: int                # quarantined lines stored for the file
    holds: list[int] = field(default_factory=list)  # holds that keep them; empty: they go
    open_sessions: int = 0    # its rows in the open-session registry (connectivity.continuity)

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file_id, "sha256": self.sha256, "source": self.source,
                "days": self.days, "lines": self.lines, "open_sessions": self.open_sessions,
                "holds": self.holds}


def holds_in_force(at: datetime) -> list[HoldRule]:
    return [HoldRule.of(hold.pk, hold.kind, hold.identifier, hold.starts, hold.ends)
            for hold in LegalHold.objects.filter(released__isnull=True, expires__gt=at)]


class Keeper:
    """`keep` for one day: asks the matcher, and remembers which holds and files it kept."""

    def __init__(self, matcher: HoldMatcher) -> None:
        self.matcher = matcher
        self.holds: set[int] = set()
        self.files: dict[str, set[int]] = defaultdict(set)  # file hash -> holds keeping rows

    def __call__(self, row: StoredInterval) -> bool:
        found = self.matcher.holding(row)
        if found:
            self.holds.update(found)
            for evidence in row.evidence:
                if evidence.sha256:
                    self.files[evidence.sha256].update(found)
        return bool(found)


KeptFiles = dict[str, set[int]]  # file hash -> holds that keep some of its rows


def _merge(into: KeptFiles, found: KeptFiles) -> None:
    for sha256, holds in found.items():
        into.setdefault(sha256, set()).update(holds)


def survey(store: LogStore, source: str, day: date, partitions: list[int], rows: int,
           matcher: HoldMatcher, kept_files: KeptFiles) -> DayPlan:
    """The plan of one expired day; reads its rows only when some hold is in force."""
    if not matcher:
        return DayPlan(source, day, partitions, rows, rows, 0)
    keeper = Keeper(matcher)
    removed, kept = survey_rows(store, source, day, keeper)
    _merge(kept_files, keeper.files)
    return DayPlan(source, day, partitions, removed + kept, removed, kept, sorted(keeper.holds))


def plan_days(store: LogStore, rules: dict[str, Rule], matcher: HoldMatcher,
              kept_files: KeptFiles, progress: ProgressSink | None = None) -> list[DayPlan]:
    by_day: dict[tuple[str, date], list[tuple[int, int]]] = defaultdict(list)
    for info in store.partitions():
        day = date.fromisoformat(info.day)
        if rules[info.source].expired(day):
            by_day[(info.source, day)].append((info.part, info.rows))
    unfinished = {(r.source, r.day) for r in PurgeRecord.objects.filter(
        kind=PurgeRecord.Kind.DAY, status=PurgeRecord.Status.STARTED) if r.day is not None}
    for key in unfinished:
        by_day.setdefault(key, [])  # finished below even if its files are already gone
    if progress is not None:
        progress.start("surveying expired days", len(by_day))
    plans = []
    for (source, day), parts in sorted(by_day.items()):
        plan = survey(store, source, day, sorted(p for p, _ in parts), sum(n for _, n in parts),
                      matcher, kept_files)
        plan.resumed = (source, day) in unfinished
        plans.append(plan)
        if progress is not None:
            progress.advance(1)
    return plans


def _file_days(record: IngestedFile) -> list[date]:
    # A file that gave no rows has no log days on record; its ingest time bounds its content
    # from above, so expiring by it never deletes early.
    if record.days:
        return sorted(date.fromisoformat(d) for d in record.days)
    return [record.started.astimezone(UTC).date()]


def _span_us(days: list[date]) -> tuple[int, int]:
    """[first midnight, midnight after the last day) in microseconds."""
    first, last = days[0], days[-1]
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return to_us(start), to_us(end)


def files_to_expire(rules: dict[str, Rule], matcher: HoldMatcher,
                    kept_files: KeptFiles) -> list[FilePlan]:
    """Completed files whose every log day has expired and whose quarantine is not purged.

    Their quarantined lines cannot be matched to an identifier the way rows are (they are the
    lines that could not be read), so a hold in force keeps them when its range touches the
    file's days, or when it keeps any row that came from the file. The file's entries in the
    open-session registry (device, session id, address and times of its sessions still open
    at its end) go with them: they are log data too, and useless once the rows are gone.
    """
    plans = []
    # A file purged before its registry entries went with it (they were once left behind) is
    # taken again for those alone, so the next run removes them, recorded and audited.
    registered = Exists(OpenInterval.objects.filter(file_id=OuterRef("pk")))
    purged = Exists(PurgeRecord.objects.filter(file_id=OuterRef("pk"),
                                               kind=PurgeRecord.Kind.FILE))
    files = IngestedFile.objects.filter(
        Q(status=IngestedFile.Status.COMPLETE) & (~purged | registered)).order_by("id")
    for record in files:
        days = _file_days(record)
        if not all(rules[record.format].expired(day) for day in days):
            continue
        start, end = _span_us(days)
        holds = {rule.id for rule in matcher.rules if rule.start < end and start < rule.end}
        holds.update(kept_files.get(record.sha256, ()))
        plans.append(FilePlan(record.pk, record.sha256, record.format,
                              [d.isoformat() for d in days], record.quarantine.count(),
                              sorted(holds),
                              OpenInterval.objects.filter(file_id=record.pk).count()))
    return plans


def sources_in_play(store: LogStore) -> list[str]:
    """Every source a run must have a rule for: in the store, in the ingest records, unfinished."""
    found = {info.source for info in store.partitions()}
    found.update(IngestedFile.objects.filter(status=IngestedFile.Status.COMPLETE)
                 .values_list("format", flat=True).distinct())
    found.update(PurgeRecord.objects.filter(status=PurgeRecord.Status.STARTED)
                 .values_list("source", flat=True).distinct())
    return sorted(found)

