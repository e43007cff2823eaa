"""Check the embedded store against its own manifests: a log that silently changed or went
missing must be found before a court asks for it.

Every partition's manifest names its files and their SHA-256. `verify_store` re-hashes every
file, and reports a file that differs, a file that is missing, a manifest that cannot be read,
and files no manifest names (left by an interrupted write: harmless, but worth knowing).
Derived files (`.derived.*`, the quality session digest) are neither listed nor trusted: they
are not logs, and their readers check them against the manifests themselves.
It reads only; fixing is a matter for a person, from a backup or by re-ingesting the source
file (its SHA-256 is in the ingest catalog).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str        # changed, missing, unreadable-manifest, unlisted
    path: str        # relative to the store root
    detail: str = ""


@dataclass
class VerifyReport:
    partitions: int = 0
    files: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.kind != "unlisted" for p in self.problems)


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _manifests(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(root.glob("*/*/part-*.manifest.json"))


def verify_store(root: Path, progress: Callable[[int, int], None] | None = None
                 ) -> VerifyReport:
    """Re-hash every file every manifest names; `progress(done, total)` after each partition."""
    report = VerifyReport()
    manifests = _manifests(root)
    listed: set[Path] = set()
    for number, manifest in enumerate(manifests, start=1):
        report.partitions += 1
        listed.add(manifest)
        relative = manifest.relative_to(root)
        try:
            files = json.loads(manifest.read_text())["files"]
            if not isinstance(files, dict):
                raise TypeError("files is not a table")
        except (OSError, ValueError, KeyError, TypeError) as error:
            report.problems.append(Problem("unreadable-manifest", str(relative), str(error)))
            continue
        for name, expected in sorted(files.items()):
            path = manifest.parent / name
            listed.add(path)
            if not path.is_file():
                report.problems.append(Problem("missing", str(path.relative_to(root))))
                continue
            actual, size = _sha256(path)
            report.files += 1
            report.bytes += size
            if actual != expected:
                report.problems.append(Problem(
                    "changed", str(path.relative_to(root)),
                    f"sha256 {actual}, manifest says {expected}"))
        if progress is not None:
            progress(number, len(manifests))
    for day in sorted({m.parent for m in manifests} | _day_dirs(root)):
        for path in sorted(day.iterdir()):
            if path.is_file() and path not in listed and path.name.startswith("part-"):
                report.problems.append(Problem("unlisted", str(path.relative_to(root))))
    return report


def _day_dirs(root: Path) -> set[Path]:
    if not root.is_dir():
        return set()
    return {d for d in root.glob("*/*") if d.is_dir() and not d.name.startswith(".")}
