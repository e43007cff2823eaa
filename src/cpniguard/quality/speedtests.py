"""Speed-test results into the records database: through the access gate, exactly once.

A stored result is service-quality data about one subscriber, so each file's import is an
`import` of category `service_quality`, decided by the policy for the staff member and purpose
(the NOC's `troubleshooting` under a ticket for a technician's test, or `network_quality` for
a feed of many subscribers' results) and audited in the same transaction as the rows. Nothing
is parsed or looked up before the decision.

Exactly once: a file whose SHA-256 was imported in the same format adds nothing; within a
file each result is kept with its line; a result identical to one already stored (same
subscriber, instant, method, server and figures: a CSV export overlapping yesterday's) is
counted as a duplicate, not stored twice. Every line that cannot be used is kept in
`SpeedTestQuarantine` with file, line and reason; the summary reports how many.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from cpniguard.access import Actor
from cpniguard.access.gate import SubjectNotFound, access
from cpniguard.connectivity.events import open_text
from cpniguard.connectivity.ingest import ProgressSink
from cpniguard.connectivity.question import Usage
from cpniguard.policy import Action
from cpniguard.quality.models import SpeedTest, SpeedTestFile, SpeedTestQuarantine
from cpniguard.quality.speedtest_formats import (
    Measurement,
    Parsed,
    Rejected,
    parse_csv,
    parse_iperf3,
)
from cpniguard.subscribers.models import Subscriber

RESOURCE = "quality:speedtests"
CATEGORIES = frozenset({"service_quality"})
FORMATS = ("iperf3", "csv")
FIELDS = ("speed_test.measured_at", "speed_test.down_mbps", "speed_test.up_mbps",
          "speed_test.latency_ms", "speed_test.server", "speed_test.method")
_CHUNK = 1 << 20

Key = tuple[int, datetime, str, str, float | None, float | None]


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    sha256: str
    format: str
    already_imported: bool
    imported: int
    duplicates: int
    quarantined: int
    subscribers: int
    problems: tuple[tuple[int, str], ...] = ()   # (line, reason) of each quarantined line


@dataclass
class ImportSummary:
    files: list[FileResult] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


def _digest(path: Path, progress: ProgressSink | None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest(), size


def _parse(path: Path, fmt: str) -> Iterator[Parsed]:
    if fmt == "iperf3":
        return parse_iperf3("".join(open_text(path)))
    return parse_csv(open_text(path))


def _key(subscriber_id: int, m: Measurement) -> Key:
    return (subscriber_id, m.measured_at, m.method, m.server, m.down_mbps, m.up_mbps)


def _stored_keys(subscriber_ids: set[int], found: list[Measurement]) -> set[Key]:
    if not found:
        return set()
    rows = SpeedTest.objects.filter(
        subscriber_id__in=subscriber_ids,
        measured_at__gte=min(m.measured_at for m in found),
        measured_at__lte=max(m.measured_at for m in found),
    ).values_list("subscriber_id", "measured_at", "method", "server", "down_mbps", "up_mbps")
    return {(s, at, method, server, down, up) for s, at, method, server, down, up in rows}


def _store(record: SpeedTestFile, items: list[Parsed], account: Subscriber | None,
           progress: ProgressSink | None) -> FileResult:
    found = [i for i in items if isinstance(i, Measurement)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    wanted = {m.account for m in found if m.account}
    holders = dict(Subscriber.objects.filter(account_number__in=wanted)
                   .values_list("account_number", "pk")) if wanted else {}
    owner: dict[int, int] = {}  # line -> subscriber id
    for m in found:
        if account is not None:
            owner[m.line] = account.pk
        elif m.account in holders:
            owner[m.line] = holders[m.account]
        else:
            rejected.append(Rejected(m.line, f"no subscriber with account {m.account!r}", ""))
    usable = [m for m in found if m.line in owner]
    seen = _stored_keys(set(owner.values()), usable)
    tests, duplicates = [], 0
    for m in usable:
        key = _key(owner[m.line], m)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        tests.append(SpeedTest(subscriber_id=owner[m.line], measured_at=m.measured_at,
                               down_mbps=m.down_mbps, up_mbps=m.up_mbps,
                               latency_ms=m.latency_ms, server=m.server[:255],
                               method=m.method[:32], file=record, line=m.line,
                               detail=m.detail))
        if progress is not None:
            progress.advance(1)
    SpeedTest.objects.bulk_create(tests, batch_size=1000)
    rejected.sort(key=lambda r: r.line)
    SpeedTestQuarantine.objects.bulk_create(
        [SpeedTestQuarantine(file=record, line=r.line, reason=r.reason[:500],
                             text=r.text[:SpeedTestQuarantine.TEXT_LIMIT]) for r in rejected],
        batch_size=1000)
    record.results, record.quarantined = len(tests), len(rejected)
    record.save(update_fields=["results", "quarantined"])
    return FileResult(record.path, record.sha256, record.format, False, len(tests), duplicates,
                      len(rejected), len({t.subscriber_id for t in tests}),
                      tuple((r.line, r.reason) for r in rejected))


def import_file(actor: Actor, path: str | Path, fmt: str, *, purpose: str,
                reference: str | None = None, account: str | None = None,
                progress: ProgressSink | None = None) -> FileResult:
    """Raises Usage (bad arguments, before any decision), AccessRefused (audited),
    SubjectNotFound (--account names nobody; audited) and OSError."""
    if fmt not in FORMATS:
        raise Usage(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "iperf3" and not account:
        raise Usage("an iperf3 result names no subscriber: give --account")
    if fmt == "csv" and account:
        raise Usage("a CSV names the account on each line: --account is for iperf3 files")
    path = Path(path).resolve()
    if progress is not None:
        progress.start(f"hashing {path.name}", path.stat().st_size)
    sha256, size = _digest(path, progress)
    subject = f"account:{account}" if account else f"speedtest-file:{sha256}"
    with access(actor, Action.IMPORT, resource=RESOURCE, purpose=purpose, reference=reference,
                subject=subject, categories=CATEGORIES, required=CATEGORIES) as permit:
        holder = None
        if account:
            holder = Subscriber.objects.filter(account_number=account).first()
            if holder is None:
                raise SubjectNotFound(f"no subscriber with account {account}")
            permit.about(f"subscriber:{holder.pk}:speedtest-file:{sha256}")
        done = SpeedTestFile.objects.filter(sha256=sha256, format=fmt).first()
        if done is not None:
            return FileResult(str(path), sha256, fmt, True, 0, done.results, 0, 0)
        if progress is not None:
            progress.start(f"reading {path.name}", None)
        items = list(_parse(path, fmt))
        record = SpeedTestFile.objects.create(
            sha256=sha256, format=fmt, path=str(path), size=size, account=account or "",
            imported=timezone.now(), imported_by=actor.username)
        result = _store(record, items, holder, progress)
        if result.imported:
            permit.touched(FIELDS)
    return result


def import_files(actor: Actor, paths: list[Path], fmt: str, *, purpose: str,
                 reference: str | None = None, account: str | None = None,
                 progress: ProgressSink | None = None) -> ImportSummary:
    """Each file in its own transaction and audit entry; a refusal stops at the first."""
    summary = ImportSummary()
    for path in paths:
        summary.files.append(import_file(actor, path, fmt, purpose=purpose,
                                         reference=reference, account=account,
                                         progress=progress))
    return summary
