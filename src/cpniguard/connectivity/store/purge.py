"""Retention inside one day: delete the rows `keep` refuses, rewrite partitions that keep some.

A partition whose rows all go is dropped whole (manifest first). A partition that keeps some
rows (a legal hold names them) is replaced by a new partition of exactly those rows; each old
partition is rewritten on its own, so a partition still holds the rows of one ingested file
(ingest relies on that to undo an interrupted attempt).

The swap is journalled so that a crash at any point neither loses a kept row nor leaves the
same row visible twice:

1. The kept rows are written with the ordinary writer into a staging tree outside the store
   (`<root>/.purge-staging/`, which no reader scans), then their data files are moved into the
   day directory under a fresh part number, without a manifest: invisible.
2. The journal `<day>/.purge-journal.json` names the old and new part and carries the new
   manifest. Written atomically, it is the commit point.
3. The old manifest is removed, the new one published, the old data files deleted, the
   journal removed.

Recovery (run first by every purge of the day, and by `recover`) rolls a journal forward;
without a journal, files of the day that no manifest publishes are left-overs of an
interrupted write or drop, and as part of an expired day they are deleted too. Between the
commit point and step 3 (or after a crash there, until recovery) the kept rows of that one
partition are invisible to readers, never doubled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cpniguard.connectivity.store.index import PartitionIndex
from cpniguard.connectivity.store.schema import StoredInterval
from cpniguard.connectivity.store.writer import _locked, atomic_write, check_source, write_batch

JOURNAL = ".purge-journal.json"
STAGING = ".purge-staging"
_STEM = re.compile(r"^(part-\d{6})\.")
_MANIFEST = ".manifest.json"


@dataclass
class DayPurge:
    """What a purge of one day did (or, for `survey_day`, would do)."""

    removed: int = 0
    kept: int = 0
    dropped: list[int] = field(default_factory=list)     # old parts deleted whole
    rewritten: list[tuple[int, int]] = field(default_factory=list)  # (old part, new part)
    untouched: list[int] = field(default_factory=list)   # parts whose rows all stay


def _day_text(day: date | str) -> str:
    text = day if isinstance(day, str) else day.isoformat()
    date.fromisoformat(text)  # a plain date, nothing that could name another directory
    return text


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _manifests(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"part-*{_MANIFEST}")) if directory.is_dir() else []


def _stem(manifest: Path) -> str:
    return manifest.name.removesuffix(_MANIFEST)


def _remove_stem(directory: Path, stem: str) -> None:
    for leftover in directory.glob(f"{stem}.*"):
        leftover.unlink()


def _rows(manifest: Path) -> list[StoredInterval]:
    index = PartitionIndex(manifest)
    count = int(index.manifest["rows"])
    decoded = index.read_rows(list(range(count)))
    return [decoded[number] for number in range(count)]


def recover_day(directory: Path) -> None:
    """Finish an interrupted purge of this day directory; call with the store lock held."""
    journal = directory / JOURNAL
    if journal.exists():
        entry: dict[str, Any] = json.loads(journal.read_text())
        old, new = str(entry["old"]), str(entry["new"])
        (directory / f"{old}{_MANIFEST}").unlink(missing_ok=True)
        published = directory / f"{new}{_MANIFEST}"
        if not published.exists():
            atomic_write(published, json.dumps(entry["manifest"], indent=1,
                                               sort_keys=True).encode())
        _remove_stem(directory, old)
        journal.unlink()
        _fsync_dir(directory)
    if not directory.is_dir():
        return
    live = {_stem(m) for m in _manifests(directory)}
    for path in directory.iterdir():
        match = _STEM.match(path.name)
        if path.name.startswith(".") or (match and match.group(1) not in live):
            path.unlink()  # temp files and unpublished parts: data of an expired day
    if not any(directory.iterdir()):
        directory.rmdir()


def recover(root: Path) -> int:
    """Roll forward every journalled purge under `root`; returns how many days it repaired."""
    repaired = 0
    if not root.is_dir():
        return 0
    with _locked(root):
        for journal in sorted(root.glob(f"*/*/{JOURNAL}")):
            if not journal.parent.parent.name.startswith("."):
                recover_day(journal.parent)
                repaired += 1
        shutil.rmtree(root / STAGING, ignore_errors=True)
    return repaired


def _stage(root: Path, source: str, day: str, rows: list[StoredInterval]) -> Path:
    """Write `rows` as one partition in the staging tree; returns its manifest."""
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    manifests = write_batch(staging, source, rows)
    # Stored rows were split at midnight already, so they land back in their own day.
    if len(manifests) != 1 or manifests[0].parent.name != day:
        raise RuntimeError(f"{source}/{day}: kept rows did not stay in their day")
    return manifests[0]


def _next_part(directory: Path) -> int:
    numbers = [int(m.group(1)[5:]) for p in directory.iterdir() if (m := _STEM.match(p.name))]
    return max(numbers, default=0) + 1


def _rewrite(root: Path, directory: Path, source: str, old: Path,
             rows: list[StoredInterval], crash: Callable[[str], None]) -> int:
    staged = _stage(root, source, directory.name, rows)
    part = _next_part(directory)
    old_stem, staged_stem, new_stem = _stem(old), _stem(staged), f"part-{part:06d}"
    manifest: dict[str, Any] = json.loads(staged.read_text())
    manifest["part"] = part
    manifest["files"] = {name.replace(staged_stem, new_stem, 1): digest
                         for name, digest in manifest["files"].items()}
    for path in sorted(staged.parent.glob(f"{staged_stem}.*")):
        if path != staged:
            path.replace(directory / path.name.replace(staged_stem, new_stem, 1))
    _fsync_dir(directory)
    crash("staged")
    journal = {"old": old_stem, "new": new_stem, "manifest": manifest}
    atomic_write(directory / JOURNAL, json.dumps(journal, sort_keys=True).encode())
    crash("journalled")
    old.unlink()
    crash("old-hidden")
    atomic_write(directory / f"{new_stem}{_MANIFEST}",
                 json.dumps(manifest, indent=1, sort_keys=True).encode())
    crash("published")
    _remove_stem(directory, old_stem)
    (directory / JOURNAL).unlink()
    _fsync_dir(directory)
    shutil.rmtree(root / STAGING, ignore_errors=True)
    return part


def _no_crash(step: str) -> None:
    """Tests pass a hook that raises at a named step to stand in for a crash there."""


def survey_day(root: Path, source: str, day: date | str,
               keep: Callable[[StoredInterval], bool]) -> DayPurge:
    """What `purge_day` would do, changing nothing (a journal left by a crash counts as done)."""
    check_source(source)
    result = DayPurge()
    for manifest in _manifests(Path(root) / source / _day_text(day)):
        rows = _rows(manifest)
        part, total = int(json.loads(manifest.read_text())["part"]), len(rows)
        kept = sum(1 for row in rows if keep(row))
        result.kept += kept
        result.removed += total - kept
        if kept == total:
            result.untouched.append(part)
        elif kept == 0:
            result.dropped.append(part)
        else:
            result.rewritten.append((part, 0))
    return result


def purge_day(root: Path, source: str, day: date | str,
              keep: Callable[[StoredInterval], bool], *,
              crash: Callable[[str], None] = _no_crash) -> DayPurge:
    """Physically delete the rows of `source` on `day` that `keep` does not keep."""
    check_source(source)
    root = Path(root)
    directory = root / source / _day_text(day)
    result = DayPurge()
    if not root.is_dir():
        return result
    with _locked(root):
        if directory.is_dir():
            recover_day(directory)
            # Files derived from the day's rows (`.derived.*`: the quality session digest)
            # hold identities too: they go before any row does, and are rebuilt from the
            # kept rows when next read. recover_day removes dot-files; this says so.
            for derived in directory.glob(".derived.*"):
                derived.unlink()
        for manifest in _manifests(directory):
            rows = _rows(manifest)
            held = [row for row in rows if keep(row)]
            part = int(json.loads(manifest.read_text())["part"])
            result.kept += len(held)
            result.removed += len(rows) - len(held)
            if len(held) == len(rows):
                result.untouched.append(part)
            elif held:
                result.rewritten.append((part, _rewrite(root, directory, source, manifest,
                                                        held, crash)))
            else:
                manifest.unlink()  # the manifest first: never a partition missing some rows
                crash("dropping")
                _remove_stem(directory, _stem(manifest))
                result.dropped.append(part)
        if directory.is_dir():
            _fsync_dir(directory)
            if not any(directory.iterdir()):
                directory.rmdir()
    return result
