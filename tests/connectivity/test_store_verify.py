"""`logs verify`: a changed, missing or unlisted store file is found; a clean store passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.store.verify import verify_store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connectivity"
pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    ingest_file(FIXTURES / "synthetic-v3-detail.txt", "radius-detail", "America/Chicago", root)
    ingest_file(FIXTURES / "pfsense.leases", "dhcpd-leases", "UTC", root)
    return root


def run(store: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(["logs", "verify", "--store", str(store), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_clean_store_passes(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run(store, capsys)
    assert (code, report["ok"], report["problems"]) == (0, True, [])
    assert report["partitions"] >= 2
    entry = AuditEntry.objects.filter(event="logs:store:verify").get()
    assert entry.outcome == "succeeded"


def test_changed_missing_and_unlisted_files_are_reported(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parquet = sorted(store.glob("radius-detail/*/part-*.parquet"))[0]
    parquet.write_bytes(parquet.read_bytes()[:-1] + b"\0")  # one byte, silently
    index = sorted(store.glob("dhcpd-leases/*/part-*.start.npy"))[0]
    index.unlink()
    (parquet.parent / "part-999999.parquet.tmp").write_bytes(b"left by a crash")
    code, report = run(store, capsys)
    assert code == 1
    assert report["ok"] is False
    kinds = {(p["kind"], Path(p["path"]).name) for p in report["problems"]}  # type: ignore[attr-defined]
    assert ("changed", parquet.name) in kinds
    assert ("missing", index.name) in kinds
    assert ("unlisted", "part-999999.parquet.tmp") in kinds
    assert AuditEntry.objects.filter(event="logs:store:verify", outcome="failed").exists()


def test_unlisted_leftovers_alone_do_not_fail(store: Path) -> None:
    day = sorted(store.glob("radius-detail/*"))[0]
    (day / "part-000077.parquet").write_bytes(b"orphan")
    report = verify_store(store)
    assert report.ok
    assert [p.kind for p in report.problems] == ["unlisted"]
