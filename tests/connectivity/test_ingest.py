"""`cpniguard logs ingest|quarantine`: fixtures into the store, exactly once, crash-safely."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity import ingest
from cpniguard.connectivity.clock import UnknownZone
from cpniguard.connectivity.ingest import UnknownFormat, ingest_file
from cpniguard.connectivity.models import IngestedFile, QuarantinedLine
from cpniguard.connectivity.store import EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.index import PartitionIndex
from cpniguard.connectivity.store.writer import write_table

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"
V3 = FIXTURES / "synthetic-v3-detail.txt"
MALFORMED = FIXTURES / "synthetic-detail-malformed.txt"
DHCPD6 = FIXTURES / "dhcpd6-4.3.3.leases"
JUNIPER = FIXTURES / "synthetic-juniper-pba.log"


def _content(root: Path, source: str) -> list[StoredInterval]:
    """Every row of `source` in the store, independent of part numbering."""
    store = EmbeddedLogStore(root)
    rows: list[StoredInterval] = []
    for info in store.partitions(source):
        rows.extend(PartitionIndex(info.manifest).read_rows(list(range(info.rows))).values())
    return sorted(rows, key=repr)


NOC = ("--purpose", "troubleshooting", "--reference", "TKT-104233")


@pytest.fixture(autouse=True)
def _noc_operator(make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI acts as the staff member linked to the OS user: here a NOC engineer."""
    make_staff("noc", os_username="nocop")
    monkeypatch.setenv("LOGNAME", "nocop")
    monkeypatch.setenv("USER", "nocop")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_radius_detail_lands_in_the_store(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "logs", "ingest", "--format", "radius-detail", "--store",
                        str(tmp_path), "--json", str(V3))
    assert code == 0
    [summary] = json.loads(out)["files"]
    assert summary["intervals"] > 0
    assert summary["quarantined"] == 0
    assert not summary["already_ingested"]
    matches = EmbeddedLogStore(tmp_path).lookup("198.51.100.23",
                                                datetime(2024, 3, 4, 16, 5, tzinfo=UTC))
    assert matches, "the session's address is found at an instant inside it"
    row = matches[0].interval
    assert row.username == "alice@example.net"
    assert row.evidence
    assert {e.sha256 for e in row.evidence} == {summary["sha256"]}
    record = IngestedFile.objects.get(sha256=summary["sha256"])
    assert record.status == IngestedFile.Status.COMPLETE
    assert record.format == "radius-detail"
    assert record.intervals == summary["intervals"]


def test_dhcpd6_leases_and_prefixes(tmp_path: Path) -> None:
    result = ingest_file(DHCPD6, "dhcpd-leases", "UTC", tmp_path)
    assert result.intervals == 4
    assert result.quarantined == 0
    store = EmbeddedLogStore(tmp_path)
    at = datetime(2016, 1, 6, 14, 55, tzinfo=UTC)
    [match] = store.lookup("2001:10:10::106", at)
    assert match.source == "dhcpd-leases"
    assert store.lookup("2001:10:30:ff00::1", datetime(2016, 1, 6, 14, 53, tzinfo=UTC))


def test_same_file_twice_adds_nothing(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    first = ingest_file(V3, "radius-detail", "UTC", tmp_path)
    before = _content(tmp_path, "radius-detail")
    code, out, _ = _run(capsys, "logs", "ingest", "--format", "radius-detail", "--store",
                        str(tmp_path), str(V3))
    assert code == 0
    assert "already ingested" in out
    assert _content(tmp_path, "radius-detail") == before
    assert IngestedFile.objects.count() == 1
    again = ingest_file(V3, "radius-detail", "UTC", tmp_path)
    assert again.already_ingested
    assert again.sha256 == first.sha256
    assert again.intervals == 0


def test_malformed_lines_are_listed_in_quarantine(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "logs", "ingest", "--format", "radius-detail", "--store",
                        str(tmp_path), str(MALFORMED))
    assert code == 0, "quarantined lines are reported, not a failure"
    assert "7 quarantined" in out
    code, out, _ = _run(capsys, "logs", "quarantine", "--file", str(MALFORMED), *NOC)
    assert code == 0
    assert f"{MALFORMED}:16: " not in out  # records are quarantined at their first line
    assert f"{MALFORMED}:14: line 16: Framed-IP-Address: not an IP address" in out
    assert f"{MALFORMED}:7: line 10: unindented line" in out
    # Events the interval builder could not use are kept too, with the builder's reason.
    assert f"{MALFORMED}:1: not usable for intervals: accounting record without a session id" \
        in out
    sha = IngestedFile.objects.get().sha256
    code, out, _ = _run(capsys, "logs", "quarantine", "--file", sha[:12], "--json",
                        "--limit", "3", *NOC)
    rows = json.loads(out)["quarantined"]
    assert len(rows) == 3
    assert all(r["sha256"] == sha and r["reason"] for r in rows)
    assert [r["line"] for r in rows] == sorted(r["line"] for r in rows)
    assert rows[1]["text"].startswith("Mon Mar  4 16:15:07 2024")


def test_quarantine_for_another_file_is_empty(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ingest_file(MALFORMED, "radius-detail", "UTC", tmp_path)
    code, out, _ = _run(capsys, "logs", "quarantine", "--file", str(V3), *NOC)
    assert code == 0
    assert out.strip() == "no quarantined lines"


def test_reading_quarantined_lines_needs_a_purpose_the_policy_grants(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_file(MALFORMED, "radius-detail", "UTC", tmp_path)
    code, _, err = _run(capsys, "logs", "quarantine", "--purpose", "troubleshooting")
    assert code == 3
    assert "requires a trouble ticket reference" in err
    make_staff("support", username="support9", os_username="desk9")
    monkeypatch.setenv("LOGNAME", "desk9")
    monkeypatch.setenv("USER", "desk9")
    code, out, err = _run(capsys, "logs", "quarantine", *NOC)
    assert code == 3
    assert out == ""
    refused = AuditEntry.objects.filter(event="connectivity:quarantine:read", outcome="refused")
    assert refused.count() == 2


def _crash(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("power cut")


@pytest.mark.parametrize(("path", "fmt"), [(V3, "radius-detail"), (JUNIPER, "juniper-nat")])
def test_crash_after_store_write_then_rerun_is_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: Path, fmt: str) -> None:
    # A fixed year: the yearless syslog fixture must not depend on the checkout's mtime.
    clean = ingest_file(path, fmt, "UTC", tmp_path / "clean", year=2024)
    IngestedFile.objects.all().delete()  # the clean run's bookkeeping, so the next is fresh
    crashed = tmp_path / "crashed"
    with monkeypatch.context() as patch:
        patch.setattr(ingest, "_complete", _crash)
        with pytest.raises(RuntimeError):
            ingest_file(path, fmt, "UTC", crashed, year=2024)
    record = IngestedFile.objects.get()
    assert record.status == IngestedFile.Status.STARTED
    assert _content(crashed, fmt) == _content(tmp_path / "clean", fmt)  # visible, unfinished
    assert not QuarantinedLine.objects.exists()
    redo = ingest_file(path, fmt, "UTC", crashed, year=2024)
    assert not redo.already_ingested
    assert redo.intervals == clean.intervals
    assert redo.quarantined == clean.quarantined
    assert _content(crashed, fmt) == _content(tmp_path / "clean", fmt)
    assert IngestedFile.objects.get().status == IngestedFile.Status.COMPLETE
    assert QuarantinedLine.objects.count() == clean.quarantined


def test_crash_in_the_middle_of_the_store_write(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    clean = tmp_path / "clean"
    ingest_file(V3, "radius-detail", "UTC", clean)
    IngestedFile.objects.all().delete()
    other = ingest_file(DHCPD6, "dhcpd-leases", "UTC", tmp_path / "crashed")

    def half_then_die(self: EmbeddedLogStore, source: str, table: Any) -> list[Path]:
        write_table(self.root, source, table.slice(0, 1))
        raise RuntimeError("killed mid-write")

    with monkeypatch.context() as patch:
        patch.setattr(EmbeddedLogStore, "add_table", half_then_die)
        with pytest.raises(RuntimeError):
            ingest_file(V3, "radius-detail", "UTC", tmp_path / "crashed")
    assert _content(tmp_path / "crashed", "radius-detail")  # a partial write is visible
    ingest_file(V3, "radius-detail", "UTC", tmp_path / "crashed")
    assert _content(tmp_path / "crashed", "radius-detail") == _content(clean, "radius-detail")
    # Another file's partitions are never touched by the clean-up.
    assert len(_content(tmp_path / "crashed", "dhcpd-leases")) >= other.intervals


def test_cgnat_port_blocks(tmp_path: Path) -> None:
    # The synthetic router logs US Central wall time; its ALLOC lines carry an exact epoch too.
    result = ingest_file(JUNIPER, "juniper-nat", "America/Chicago", tmp_path, year=2024)
    assert result.quarantined == 3
    assert result.intervals == 4
    store = EmbeddedLogStore(tmp_path)
    # 100.64.0.5 held 203.0.113.7:2048-2303 from its ALLOC (05:59:58 UTC) to its RELEASE
    # (02:15 CST = 08:15 UTC).
    [match] = store.lookup("203.0.113.7", datetime(2024, 11, 3, 7, 0, tzinfo=UTC), port=2100)
    assert match.interval.session_id == "inside=100.64.0.5/32"
    assert (match.interval.port_first, match.interval.port_last) == (2048, 2303)
    assert not store.lookup("203.0.113.7", datetime(2024, 11, 3, 8, 16, tzinfo=UTC), port=2100)
    # An allocation never released stays open, flagged NO_STOP.
    [open_block] = store.lookup("203.0.113.8", datetime(2024, 11, 3, 8, 0, 30, tzinfo=UTC),
                                port=1100)
    assert open_block.interval.is_open
    assert "no-stop" in open_block.interval.flags


def test_unknown_zone_and_format_are_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "logs", "ingest", "--format", "radius-detail", "--source-tz",
                        "Mars/Olympus", "--store", str(tmp_path), str(V3))
    assert code == 2
    assert "unknown time zone 'Mars/Olympus'" in err
    code, _, err = _run(capsys, "logs", "ingest", "--format", "syslog-ng", "--store",
                        str(tmp_path), str(V3))
    assert code == 2
    assert "unknown format 'syslog-ng'" in err
    assert "radius-detail" in err
    code, _, err = _run(capsys, "logs", "ingest", "--format", "radius-detail", "--store",
                        str(tmp_path), str(tmp_path / "absent.log"))
    assert code == 2
    assert "no such file" in err
    with pytest.raises(UnknownZone):
        ingest_file(V3, "radius-detail", "Nowhere/Town", tmp_path)
    with pytest.raises(UnknownFormat):
        ingest_file(V3, "bogus", "UTC", tmp_path)
    assert not IngestedFile.objects.exists()
    assert not (tmp_path / "radius-detail").exists()


def test_ingest_is_audited_by_hash_only(tmp_path: Path) -> None:
    result = ingest_file(V3, "radius-detail", "UTC", tmp_path)
    [entry] = AuditEntry.objects.filter(event="logs:file:ingest")
    assert entry.outcome == "succeeded"
    assert entry.subject == f"logfile:{result.sha256}"
    assert entry.reason == f"radius-detail: {result.intervals} intervals, 0 quarantined"
    text = json.dumps([entry.subject, entry.reason, entry.fields, entry.categories])
    for leak in ("198.51.100", "203.0.113", "alice", "example.net", "02:1a", str(V3)):
        assert leak not in text
    ingest_file(V3, "radius-detail", "UTC", tmp_path)  # already in: nothing new to audit
    assert AuditEntry.objects.filter(event="logs:file:ingest").count() == 1
