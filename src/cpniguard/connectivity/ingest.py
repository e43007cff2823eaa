"""One log file into the log store, exactly once, with every unusable line kept for review.

Order of work, chosen so a crash at any point is repaired by running the same command again:

1. Hash the file (streaming). A `complete` IngestedFile with that hash and format means the
   file is already in: nothing is added.
2. Parse and build intervals a segment at a time (`bulk_radacct.SEGMENT_RECORDS` records of a
   radacct export decoded in columns, else `ROW_SEGMENT` intervals), so memory is bounded by
   a segment, not by the file. For each segment:
3. add to the IngestedFile row (status `started`) the store's name (its directory, or its URL
   without the password: `store_config.display_name`) and the UTC days the segment touches.
   Only then write the segment to the store, through the `LogStore` protocol (embedded or
   ClickHouse).
4. In one DB transaction: the quarantined lines, the open-session registry, the row marked
   `complete`, the audit entry.

A `started` row found in step 1 is an attempt that died after step 3: each partition of this
format on its recorded days whose rows carry this file's hash as evidence is dropped, then the
file is ingested afresh. A partition holds the rows of exactly one `add` call, i.e. of one
segment of one file, so that test is exact; the rows' own evidence is used rather than a list
of manifests saved after the write because a crash between the write and that save would lose
the list. A record naming another store than the one given is refused (StoreMismatch), not
guessed at: its rows, or an interrupted attempt's leftovers, are in that store.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from cpniguard.access import Actor
from cpniguard.access.gate import record_event
from cpniguard.audit.models import Outcome
from cpniguard.connectivity import bulk_radacct, continuity
from cpniguard.connectivity.clock import zone
from cpniguard.connectivity.events import Event, Quarantined, Source, open_text
from cpniguard.connectivity.ingest_parts import Parts, drop_attempt
from cpniguard.connectivity.intervals import Skipped
from cpniguard.connectivity.intervals_dhcp import dhcp_intervals
from cpniguard.connectivity.intervals_nat import nat_intervals
from cpniguard.connectivity.intervals_radius import radius_intervals
from cpniguard.connectivity.models import IngestedFile, QuarantinedLine
from cpniguard.connectivity.parsers import (
    asa_nat,
    cisco_nat,
    conntrack,
    detnat,
    dhcpd_leases,
    juniper_nat,
    kea_lease,
    kea_legal,
    radacct_csv,
    radius_detail,
)
from cpniguard.connectivity.store import (
    EmbeddedLogStore,
    LogStore,
    from_interval,
)
from cpniguard.connectivity.store_config import configured_store, store_name

# A RADIUS session silent this long before the newest record is flagged STALE: well above the
# interim intervals NASes are configured with (5 min to a few hours), below a lost session.
STALE_AFTER = timedelta(hours=24)
_CHUNK = 1 << 20
# Intervals per store write on the per-line path: a row object each, heavier than columns.
ROW_SEGMENT = 250_000

Parser = Callable[..., Iterator[Event | Quarantined]]
# format -> (parser, interval builder family)
FORMATS: dict[str, tuple[Parser, str]] = {
    "radius-detail": (radius_detail.parse, "radius"),
    "radacct-csv": (radacct_csv.parse, "radius"),
    "dhcpd-leases": (dhcpd_leases.parse, "dhcp"),
    "kea-lease4": (kea_lease.parse_v4, "dhcp"),
    "kea-lease6": (kea_lease.parse_v6, "dhcp"),
    "kea-legal": (kea_legal.parse, "dhcp"),
    "juniper-nat": (juniper_nat.parse, "nat"),
    "cisco-nat": (cisco_nat.parse, "nat"),
    "asa-nat": (asa_nat.parse, "nat"),
    "conntrack": (conntrack.parse, "nat"),
    "detnat": (detnat.parse, "nat"),
}


class ProgressSink(Protocol):
    def start(self, phase: str, total: int | None) -> None: ...

    def advance(self, amount: int) -> None: ...


class UnknownFormat(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class IngestResult:
    path: str
    sha256: str
    format: str
    already_ingested: bool
    lines: int
    events: int
    intervals: int
    quarantined: int
    partitions: tuple[str, ...] = ()


def file_digest(path: Path, progress: ProgressSink | None = None) -> tuple[str, int, int]:
    """(SHA-256, size, newline count) of the file as stored: the hash is the evidence."""
    digest, size, newlines = hashlib.sha256(), 0, 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            newlines += chunk.count(b"\n")
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest(), size, newlines


def _counted(lines: Iterable[str], counter: list[int], progress: ProgressSink | None
             ) -> Iterator[str]:
    for line in lines:
        counter[0] += 1
        if progress is not None:
            progress.advance(1)
        yield line


def _events(items: Iterable[Event | Quarantined], sha256: str, quarantined: list[Quarantined],
            counter: list[int]) -> Iterator[Event]:
    """Events with the file hash as evidence; quarantined lines set aside, never dropped."""
    for item in items:
        if isinstance(item, Quarantined):
            quarantined.append(item)
        else:
            counter[0] += 1
            yield replace(item, evidence=replace(item.evidence, sha256=sha256))


def _build(family: str, events: Iterable[Event], skipped: Skipped) -> Iterator[Any]:
    if family == "radius":
        return radius_intervals(events, stale_after=STALE_AFTER, skipped=skipped)
    if family == "dhcp":
        return dhcp_intervals(events, skipped=skipped)
    return nat_intervals(events, skipped=skipped)


def _texts(path: Path, numbers: set[int]) -> dict[int, str]:
    """The raw text of the given lines, for skipped events (parsers do not keep it)."""
    found: dict[int, str] = {}
    if numbers:
        for number, line in enumerate(open_text(path), start=1):
            if number in numbers:
                found[number] = line.rstrip("\r\n")
                if len(found) == len(numbers):
                    break
    return found


class StoreMismatch(ValueError):
    """The file's record names another store than the one given: refused, never guessed."""


def _claim(path: Path, sha256: str, fmt: str, zone_name: str, size: int,
           store: LogStore, name: str) -> IngestedFile | None:
    """The row to ingest under, or None when the file is already in.

    A file recorded against another store is refused: the rows of a completed ingest are
    there and not here, and an interrupted one's leftovers can only be cleaned where they are.
    """
    record = IngestedFile.objects.filter(sha256=sha256, format=fmt).first()
    if record is not None and record.store and record.store != name:
        state = ("was ingested" if record.status == IngestedFile.Status.COMPLETE
                 else "has an unfinished ingest")
        raise StoreMismatch(
            f"{path}: this file ({fmt}, sha256 {sha256}) {state} into the log store "
            f"{record.store}, not {name}; run the ingest against that store")
    if record is not None and record.status == IngestedFile.Status.COMPLETE:
        return None
    if record is None:
        return IngestedFile.objects.create(
            path=str(path), sha256=sha256, format=fmt, source_zone=zone_name, size=size,
            started=timezone.now())
    drop_attempt(record, store)
    record.quarantine.all().delete()
    record.path, record.source_zone, record.size = str(path), zone_name, size
    record.store, record.days, record.started = "", [], timezone.now()
    record.save()
    return record


def _opened(store: str | Path | LogStore) -> LogStore:
    return configured_store(store) if isinstance(store, str | Path) else store


def ingest_file(path: str | Path, fmt: str, zone_name: str, store: str | Path | LogStore, *,
                progress: ProgressSink | None = None, year: int | None = None,
                device: str = "") -> IngestResult:
    """Ingest one file into `store` (a directory, a URL or an opened LogStore).

    Raises UnknownFormat, clock.UnknownZone, OSError or StoreMismatch before any write.
    """
    if fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    zone(zone_name)
    target = _opened(store)
    name = store_name(target)
    path = Path(path).resolve()
    size_hint = path.stat().st_size
    if progress is not None:
        progress.start(f"hashing {path.name}", size_hint)
    sha256, size, newlines = file_digest(path, progress)
    record = _claim(path, sha256, fmt, zone_name, size, target, name)
    if record is None:
        return IngestResult(str(path), sha256, fmt, True, 0, 0, 0, 0)

    parser, family = FORMATS[fmt]
    options: dict[str, Any] = {}
    if fmt in ("juniper-nat", "asa-nat"):
        options["year"] = year
    elif fmt == "conntrack":
        options["device"] = device
    if progress is not None:
        progress.start(f"parsing {path.name}", newlines + 1)
    source = Source(str(path), zone_name)
    parts = Parts(record, target, name, fmt)
    counts: _Counts | None = None
    segments = (bulk_radacct.column_segments(path, sha256, fmt) if fmt == "radacct-csv"
                else None)
    if segments is not None:
        try:
            counts = _in_columns(segments, parts, path, source, sha256, progress)
        except bulk_radacct.NotInColumns:
            parts.undo()  # what was written in columns goes; the parser reads it all again
            if progress is not None:
                progress.start(f"parsing {path.name}", newlines + 1)
    if counts is None:
        counts = _Counts()
        items = parser(_counted(open_text(path), counts.lines, progress), source, **options)
        built = _build(family, _events(items, sha256, counts.quarantined, counts.events),
                       counts.skipped)
        while batch := list(itertools.islice(built, ROW_SEGMENT)):
            parts.write_rows([from_interval(interval, fmt) for interval in batch])

    texts = _texts(path, {event.evidence.line for event, _ in counts.skipped})
    bad = [QuarantinedLine(file=record, line=q.line, reason=q.reason[:500],
                           text=q.text[:QuarantinedLine.TEXT_LIMIT]) for q in counts.quarantined]
    bad += [QuarantinedLine(file=record, line=event.evidence.line,
                            reason=f"not usable for intervals: {reason}"[:500],
                            text=texts.get(event.evidence.line, "")[:QuarantinedLine.TEXT_LIMIT])
            for event, reason in counts.skipped]
    relative = tuple(_relative(Path(str(place)), target) for place in parts.places)
    _complete(record, counts.lines[0], counts.events[0], parts.rows, bad, relative,
              parts.slim())
    return IngestResult(str(path), sha256, fmt, False, counts.lines[0], counts.events[0],
                        parts.rows, len(bad), relative)


@dataclass
class _Counts:
    """What parsing a file has counted and set aside so far."""

    lines: list[int] = field(default_factory=lambda: [0])
    events: list[int] = field(default_factory=lambda: [0])
    quarantined: list[Quarantined] = field(default_factory=list)
    skipped: Skipped = field(default_factory=list)


def _in_columns(segments: Iterator[bulk_radacct.Columns], parts: Parts, path: Path,
                source: Source, sha256: str, progress: ProgressSink | None) -> _Counts:
    """A radacct export segment by segment: most rows decoded in columns, the rest by the
    parser, each segment written before the next is read. Raises NotInColumns."""
    counts = _Counts()
    fallback = bulk_radacct.FallbackLines(path, source)
    try:
        for segment in segments:
            items = fallback.items(segment.fallback)
            built = _build("radius", _events(items, sha256, counts.quarantined, counts.events),
                           counts.skipped)
            rows = [from_interval(interval, "radacct-csv") for interval in built]
            parts.write_table(bulk_radacct.merge(segment.table, rows))
            counts.lines[0] = segment.lines
            counts.events[0] += segment.events
            if progress is not None:
                progress.advance(segment.records)
    finally:
        fallback.close()
    return counts


def _relative(place: Path, store: LogStore) -> str:
    """A written part as operators see it: relative to the embedded root, else as named."""
    if isinstance(store, EmbeddedLogStore) and place.is_absolute():
        return str(place.resolve().relative_to(store.root.resolve()))
    return str(place)


def _complete(record: IngestedFile, lines: int, events: int, intervals: int,
              bad: list[QuarantinedLine], partitions: tuple[str, ...], slim: Any) -> None:
    """The commit point: after this the file counts as ingested."""
    with transaction.atomic():
        QuarantinedLine.objects.bulk_create(bad, batch_size=1000)
        continuity.register(record, record.format, slim)  # sessions crossing files
        record.status = IngestedFile.Status.COMPLETE
        record.lines, record.events, record.intervals = lines, events, intervals
        record.quarantined, record.partitions = len(bad), list(partitions)
        record.finished = timezone.now()
        record.save()
        # Only the hash and counts: the audit trail must not copy addresses or names.
        record_event(Actor.for_os_user(), "logs:file:ingest", Outcome.SUCCEEDED,
                     subject=f"logfile:{record.sha256}",
                     reason=f"{record.format}: {intervals} intervals, {len(bad)} quarantined")
