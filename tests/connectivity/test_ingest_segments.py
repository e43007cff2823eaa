"""A file ingested in segments must leave exactly what one piece leaves.

Segments bound an ingest's memory by the segment, not the file (radacct exports of millions of
lines). Here the segments are made tiny so a small file has many: every scenario is run once
in segments and once in one piece, each on an empty records database, and the stored rows,
counts, quarantine and open-session registry are compared. Then the two ways a segmented
ingest can stop half-way: a refusal found after segments were written, and a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.connectivity import bulk_radacct, ingest
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.models import IngestedFile, OpenInterval, QuarantinedLine
from cpniguard.connectivity.store import EmbeddedLogStore
from tests.connectivity.test_bulk_radacct import HEADER, quirky_rows, row

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"
Snapshot = tuple[list[Any], list[Any], list[Any], list[Any]]


@pytest.fixture(autouse=True)
def _operator(make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch) -> None:
    make_staff("noc", os_username="nocop")
    monkeypatch.setenv("LOGNAME", "nocop")
    monkeypatch.setenv("USER", "nocop")


def _tiny_segments(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(bulk_radacct, "_BLOCK", 1024)          # pyarrow batches of a few rows
    patch.setattr(bulk_radacct, "SEGMENT_RECORDS", 10)   # a segment every ~10 records
    patch.setattr(ingest, "ROW_SEGMENT", 3)              # per-line path: 3 intervals a write


def _parts(root: Path) -> int:
    return len(EmbeddedLogStore(root).partitions())


def _snapshot(root: Path) -> Snapshot:
    """Everything an ingest leaves, in a canonical order; then the records are forgotten so the
    same files can be ingested again (the store itself is left alone)."""
    store = EmbeddedLogStore(root)
    rows: list[Any] = []
    for info in store.partitions():
        rows.extend(store._index(info.manifest).read_rows(list(range(info.rows))).values())
    files = list(IngestedFile.objects.order_by("id").values_list(
        "sha256", "format", "status", "lines", "events", "intervals", "quarantined", "days"))
    bad = sorted(QuarantinedLine.objects.values_list("file__sha256", "line", "reason", "text"))
    registry = sorted(OpenInterval.objects.values_list(
        "source", "device", "session_id", "address", "original_start", "last_seen",
        "file__sha256", "continued_start", "continued_end", "continued_file__sha256",
        "continued_line"))
    IngestedFile.objects.all().delete()
    return sorted(rows, key=repr), files, bad, registry


def _both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               run: Callable[[Path], None]) -> tuple[Snapshot, Snapshot]:
    """(in segments, in one piece): `run` given a fresh store root each time."""
    with monkeypatch.context() as patch:
        _tiny_segments(patch)
        run(tmp_path / "segmented")
    segmented = _snapshot(tmp_path / "segmented")
    run(tmp_path / "whole")
    return segmented, _snapshot(tmp_path / "whole")


def _radacct(path: Path, rows: list[str], extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n" + extra, encoding="utf-8")
    return path


def test_radacct_in_column_segments_stores_what_one_piece_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _radacct(tmp_path / "src" / "radacct.csv", quirky_rows(4))
    with monkeypatch.context() as patch:
        patch.setattr(bulk_radacct, "_BLOCK", 1024)
        segments = bulk_radacct.column_segments(source, "0" * 64, "radacct-csv", records=10)
        assert segments is not None
        assert len(list(segments)) > 5

    def run(root: Path) -> None:
        ingest_file(source, "radacct-csv", "UTC", root)

    segmented, whole = _both_ways(tmp_path, monkeypatch, run)
    assert segmented == whole
    rows, _files, bad, registry = whole
    assert len(rows) > 100
    assert bad  # the quarantine is compared too
    assert registry  # and the open rows
    assert _parts(tmp_path / "segmented") > _parts(tmp_path / "whole")


def test_sessions_continued_across_files_in_segments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File 1 leaves sessions open; file 2, in segments, continues them."""
    opened = [row(n, session=f"S{n:04d}", ipv4=f"198.18.1.{n}", start="2025-03-04 22:00:00+00",
                  update="2025-03-04 23:55:00+00", stop="") for n in range(1, 40)]
    stopped = [row(n, session=f"S{n:04d}", ipv4=f"198.18.1.{n}", start="2025-03-04 22:00:00+00",
                   update="2025-03-05 01:00:00+00", stop="2025-03-05 01:00:00+00")
               for n in range(1, 40, 2)]
    first = _radacct(tmp_path / "src" / "radacct-1.csv", opened)
    second = _radacct(tmp_path / "src" / "radacct-2.csv", stopped)

    def run(root: Path) -> None:
        ingest_file(first, "radacct-csv", "UTC", root)
        ingest_file(second, "radacct-csv", "UTC", root)

    segmented, whole = _both_ways(tmp_path, monkeypatch, run)
    assert segmented == whole
    continued = [entry for entry in whole[3] if entry[7] is not None]
    assert len(continued) == 20


@pytest.mark.parametrize(("fmt", "name"), [
    ("radius-detail", "synthetic-v3-detail.txt"),
    ("juniper-nat", "synthetic-juniper-pba.log"),
    ("dhcpd-leases", "dhcpd6-4.3.3.leases"),
    ("radacct-csv", "synthetic-radacct.csv"),  # a quoted field over two lines: per-line path
])
def test_the_per_line_path_in_segments_stores_what_one_piece_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, name: str) -> None:
    def run(root: Path) -> None:
        ingest_file(FIXTURES / name, fmt, "UTC", root, year=2017)

    segmented, whole = _both_ways(tmp_path, monkeypatch, run)
    assert segmented == whole
    assert whole[1][0][5] > 3  # more intervals than one segment holds
    assert _parts(tmp_path / "segmented") > _parts(tmp_path / "whole")


@pytest.mark.parametrize("extra", [
    "1,2,3\n",     # a short row in the last batch: pyarrow refuses it after segments went out
    "\n\n",        # blank lines at the end: the numbering check fails after the last segment
])
def test_a_refusal_found_after_segments_were_written_undoes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str) -> None:
    source = _radacct(tmp_path / "src" / "radacct.csv", quirky_rows(3), extra)
    writes: list[int] = []
    add_table = EmbeddedLogStore.add_table

    def counted(store: EmbeddedLogStore, fmt: str, table: Any) -> list[Path]:
        writes.append(len(table))
        return add_table(store, fmt, table)

    monkeypatch.setattr(EmbeddedLogStore, "add_table", counted)
    with monkeypatch.context() as patch:
        _tiny_segments(patch)
        ingest_file(source, "radacct-csv", "UTC", tmp_path / "segmented")
    assert len(writes) > 2  # the column path had written several segments
    segmented = _snapshot(tmp_path / "segmented")
    with monkeypatch.context() as patch:
        patch.setattr(bulk_radacct, "column_segments", lambda *_, **__: None)
        ingest_file(source, "radacct-csv", "UTC", tmp_path / "per-line")
    assert segmented == _snapshot(tmp_path / "per-line")


def test_a_crash_between_segments_is_repaired_by_running_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _radacct(tmp_path / "src" / "radacct.csv", quirky_rows(3))
    ingest_file(source, "radacct-csv", "UTC", tmp_path / "clean")
    clean = _snapshot(tmp_path / "clean")
    add_table = EmbeddedLogStore.add_table
    writes: list[int] = []

    def dies_on_the_third(store: EmbeddedLogStore, fmt: str, table: Any) -> list[Path]:
        writes.append(len(table))
        if len(writes) == 3:
            raise RuntimeError("killed between segments")
        return add_table(store, fmt, table)

    crashed = tmp_path / "crashed"
    with monkeypatch.context() as patch:
        _tiny_segments(patch)
        patch.setattr(EmbeddedLogStore, "add_table", dies_on_the_third)
        with pytest.raises(RuntimeError):
            ingest_file(source, "radacct-csv", "UTC", crashed)
    record = IngestedFile.objects.get()
    assert record.status == IngestedFile.Status.STARTED
    assert record.days  # the written segments' days, recorded before each write
    assert _parts(crashed) >= 2  # two segments are visible, unfinished
    with monkeypatch.context() as patch:
        _tiny_segments(patch)
        ingest_file(source, "radacct-csv", "UTC", crashed)
    again = _snapshot(crashed)
    assert again[0] == clean[0]  # no duplicates, nothing lost
    assert again[2:] == clean[2:]
    assert [f[:7] for f in again[1]] == [f[:7] for f in clean[1]]
