"""The package a production hands over: data as CSV and JSON, a cover letter and a
business-records certification (PDF), and a manifest with the SHA-256 of every file.

It is written in a staging directory, checked from the files themselves (the data read back
from `data.json` must pass the scope checker and every file must match the manifest), and
only then sealed: renamed to `$CPNIGUARD_HOME/legal/packages/<LR>/`, each file and the
directory made read-only. The manifest's own SHA-256 is what the audit trail, the production
record and the disclosure log name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import stat
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cpniguard.home import home
from cpniguard.legal.scope import ProducedRow, Scope, TargetAnswer, violations, zulu

FORMAT = "cpniguard-legal-package/1"
MANIFEST = "manifest.json"
CSV_COLUMNS = ("target", "subscriber", "category", "field", "value", "at", "clause")


class PackageDamaged(ValueError):
    """A sealed package no longer matches its manifest."""


@dataclass(frozen=True, slots=True)
class Package:
    directory: Path
    files: dict[str, str]  # name -> SHA-256, the manifest excluded
    manifest_sha256: str


def packages_root() -> Path:
    return home() / "legal" / "packages"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_csv(rows: list[ProducedRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.target, row.subscriber, row.category, row.field, row.value,
                         row.at or "", row.clause])
    return out.getvalue().encode()


def data_json(scope: Scope, answers: list[TargetAnswer], rows: list[ProducedRow]) -> bytes:
    document = {
        "format": FORMAT, "reference": scope.reference, "process": scope.kind_label,
        "statute": scope.statute, "categories": list(scope.categories),
        "date_range": {"from": zulu(scope.date_from) if scope.date_from else None,
                       "to": zulu(scope.date_to) if scope.date_to else None},
        "targets": [{"target": t.number, "named": t.describe()} for t in scope.targets],
        "answers": [a.to_dict() for a in answers],
        "rows": [r.to_dict() for r in rows],
    }
    return json.dumps(document, indent=1, sort_keys=True).encode()


def _manifest(reference: str, files: dict[str, bytes], sealed_at: datetime) -> bytes:
    return json.dumps({
        "format": FORMAT, "reference": reference, "sealed_at": zulu(sealed_at),
        "files": [{"name": name, "sha256": sha256(data), "size": len(data)}
                  for name, data in sorted(files.items())],
    }, indent=1, sort_keys=True).encode()


def stage(reference: str, files: dict[str, bytes], sealed_at: datetime) -> Package:
    root = packages_root()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{reference}.staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    for name, data in files.items():
        (staging / name).write_bytes(data)
    manifest = _manifest(reference, files, sealed_at)
    (staging / MANIFEST).write_bytes(manifest)
    return Package(staging, {n: sha256(d) for n, d in files.items()}, sha256(manifest))


def check_files(package: Package) -> list[str]:
    """Every file named by the manifest is there with its hash; nothing else is."""
    problems = []
    manifest_path = package.directory / MANIFEST
    if not manifest_path.is_file():
        return [f"{MANIFEST} is missing"]
    manifest_bytes = manifest_path.read_bytes()
    if sha256(manifest_bytes) != package.manifest_sha256:
        problems.append(f"{MANIFEST} does not have the recorded SHA-256")
    listed = {f["name"]: f["sha256"] for f in json.loads(manifest_bytes)["files"]}
    if listed != package.files:
        problems.append("the manifest does not list the recorded files")
    present = {p.name for p in package.directory.iterdir()} - {MANIFEST}
    for extra in sorted(present - listed.keys()):
        problems.append(f"{extra} is not in the manifest")
    for name, digest in sorted(listed.items()):
        path = package.directory / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"{name} has changed since it was sealed")
    return problems


def check_contents(package: Package, scope: Scope) -> list[str]:
    """The scope checker over the data as written: what is checked is what is sent."""
    document: dict[str, Any] = json.loads((package.directory / "data.json").read_bytes())
    answers = [TargetAnswer.from_dict(a) for a in document["answers"]]
    rows = [ProducedRow.from_dict(r) for r in document["rows"]]
    with (package.directory / "data.csv").open(newline="") as handle:
        csv_rows = list(csv.reader(handle))[1:]
    if len(csv_rows) != len(rows):
        return [f"data.csv has {len(csv_rows)} rows, data.json {len(rows)}"]
    from_csv = [ProducedRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5] or None, r[6])
                for r in csv_rows]
    problems = [f"data.csv row {n}: differs from data.json" for n, (a, b)
                in enumerate(zip(from_csv, rows, strict=True), start=1) if a != b]
    return problems + violations(scope, answers, rows)


def _read_only(directory: Path) -> None:
    for path in directory.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


def _writable(directory: Path) -> None:
    directory.chmod(stat.S_IRWXU)
    for path in directory.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def discard(package: Package) -> None:
    if package.directory.exists():
        _writable(package.directory)
        shutil.rmtree(package.directory)


def seal(package: Package, reference: str, now: datetime) -> Package:
    """Rename into place and make read-only. A directory left by a production that never
    committed is moved aside (kept, not deleted: it may be evidence of what went wrong)."""
    final = packages_root() / reference
    if final.exists():
        aside = final.with_name(f".{reference}.abandoned-{now.strftime('%Y%m%dT%H%M%S')}")
        final.replace(aside)
    package.directory.replace(final)
    _read_only(final)
    return Package(final, package.files, package.manifest_sha256)
