"""radacct-csv decoded in columns must store exactly what the per-line parser stores.

Each file is ingested twice, once by `ingest_file` as shipped (columns where it can) and once
with the column path switched off, and the stored rows, counts and quarantine are compared row
for row. The rows below are chosen to hit every rule the column path mirrors, on both sides of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.connectivity import bulk_radacct, ingest
from cpniguard.connectivity.ingest import IngestResult, ingest_file
from cpniguard.connectivity.models import IngestedFile
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.connectivity.store.index import PartitionIndex

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"
HEADER = ("radacctid,acctsessionid,acctuniqueid,username,nasipaddress,acctstarttime,"
          "acctupdatetime,acctstoptime,acctinputoctets,acctoutputoctets,callingstationid,"
          "framedipaddress,framedipv6address,framedipv6prefix,delegatedipv6prefix")
T0, T1, T2 = "2025-03-04 10:00:00+00", "2025-03-04 11:00:00+00", "2025-03-04 12:00:00+00"


def row(n: int, *, unique: str = "", session: str = "", user: str = "user000001@example.net",
        nas: str = "192.0.2.1", start: str = T0, update: str = T1, stop: str = T2,
        octets: str = "10", mac: str = "02:00:00:00:00:01", ipv4: str = "198.18.0.1",
        v6: str = "", v6prefix: str = "", delegated: str = "") -> str:
    unique = unique or f"{n:032x}"
    session = session or f"{n:08X}"
    return ",".join((str(n), session, unique, user, nas, start, update, stop, octets, "20", mac,
                     ipv4, v6, v6prefix, delegated))


# Rows the column path takes, and rows it must hand to the parser; both kinds in one file.
QUIRKS = [
    {}, {"ipv4": "198.18.0.2/32"}, {"stop": ""}, {"start": ""}, {"start": "", "update": ""},
    {"update": ""}, {"stop": "", "update": ""},
    {"start": "2025-03-04 23:30:00+00", "update": "", "stop": "2025-03-06 00:30:00.25+00"},
    {"start": "2025-03-04 23:30:00+00", "update": "2025-03-06 01:00:00+00", "stop": ""},
    {"start": "2025-03-04 10:00:00.5-07", "update": "2025-03-04 11:00:00+05:30",
     "stop": "2025-03-04 13:00:00+0530"},
    {"ipv4": "", "delegated": "2001:db8:1:100::/56"},
    {"ipv4": "", "v6": "2001:db8::5", "delegated": "2001:db8:1:200::/56"},
    {"ipv4": "", "v6prefix": "2001:db8:2:0:0:0:0:0/64"},
    {"ipv4": "", "v6prefix": "2001:DB8:3::1/64"},          # host bits set: cleared
    {"ipv4": "", "v6": "2001:db8::7/128"}, {"delegated": "2001:db8:4:100::/56"},
    {"delegated": "2001:db8:zz::/56"},                     # refused: the whole row quarantined
    {"v6": "2001:db8::1/64"},                              # an inet that is not one address
    {"ipv4": "", "delegated": ""},                         # no address: not usable
    {"ipv4": "198.18.0.01"}, {"ipv4": "2001:db8::9"}, {"ipv4": " 198.18.0.3"},
    {"mac": "02-00-00-00-00-0A"}, {"mac": "0200.0000.000b"}, {"mac": "+15555550123"},
    {"mac": " 02:00:00:00:00:0c"}, {"mac": "bras1"}, {"mac": ""},
    {"user": " padded@example.net"}, {"user": "zoë@example.net"}, {"user": ""},
    {"unique": "", "session": "ABCDEF01"}, {"nas": ""}, {"nas": "2001:db8::1"},
    {"nas": "192.0.2.300"}, {"nas": "192.0.2.1/32"}, {"octets": "x1"}, {"octets": ""},
    {"start": "2025-03-04T10:00:00Z"}, {"start": "2025-03-04 10:00:00"},
    {"start": '"2025-03-04 10:00:00,5+00"'}, {"start": "2025-03-04 10:00:00.1234567+00"},
    {"stop": "2025-03-04 09:00:00+00"},                    # stops before it starts
    {"start": "", "update": "", "stop": ""},               # no time at all
    {"start": "2025-03-04 10:00:00+24"}, {"stop": "not a time"},
]


def _write(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def quirky_rows(repeat: int = 3) -> list[str]:
    rows: list[str] = []
    for copy in range(repeat):
        for quirk in QUIRKS:
            rows.append(row(len(rows) + 1 + copy, **quirk))
    return rows


def _stored(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every partition's rows in stored order, keyed by day; evidence without the directory."""
    found: dict[str, list[dict[str, Any]]] = {}
    for info in EmbeddedLogStore(root).partitions("radacct-csv"):
        rows = PartitionIndex(info.manifest).read_rows(list(range(info.rows)))
        found.setdefault(info.day, []).extend(
            {**asdict(r), "evidence": [(Path(e.file).name, e.line, e.sha256) for e in r.evidence]}
            for _, r in sorted(rows.items()))
    return found


def both_ways(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
              ) -> tuple[IngestResult, IngestResult]:
    """(columns where possible, per-line only) over two copies of `source` with one name."""
    fast_file, slow_file = tmp_path / "a" / source.name, tmp_path / "b" / source.name
    for copy in (fast_file, slow_file):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    fast = ingest_file(fast_file, "radacct-csv", "UTC", tmp_path / "fast")
    # The same bytes are the same file to the bookkeeping; moving the claim aside lets the
    # second run ingest them afresh instead of answering "already ingested".
    IngestedFile.objects.filter(sha256=fast.sha256).update(format="radacct-csv-columns")
    with monkeypatch.context() as patch:
        patch.setattr(bulk_radacct, "column_segments", lambda *_, **__: None)
        slow = ingest_file(slow_file, "radacct-csv", "UTC", tmp_path / "slow")
    return fast, slow


@pytest.fixture(autouse=True)
def _operator(make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch) -> None:
    make_staff("noc", os_username="nocop")
    monkeypatch.setenv("LOGNAME", "nocop")
    monkeypatch.setenv("USER", "nocop")


def test_quirky_rows_store_the_same_either_way(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = _write(tmp_path / "src" / "radacct.csv", quirky_rows())
    columns = bulk_radacct.read_columns(source, "0" * 64, "radacct-csv")
    assert columns is not None  # the file itself is one the column path reads
    assert len(columns.fallback) > 0  # and both paths get rows
    assert len(columns.table) > 0
    fast, slow = both_ways(tmp_path, source, monkeypatch)
    assert (fast.lines, fast.events, fast.intervals, fast.quarantined) == (
        slow.lines, slow.events, slow.intervals, slow.quarantined)
    assert fast.quarantined > 0
    assert _stored(tmp_path / "fast") == _stored(tmp_path / "slow")
    fast_bad = sorted((q.line, q.reason, q.text) for q in IngestedFile.objects.get(
        format="radacct-csv-columns").quarantine.all())
    slow_bad = sorted((q.line, q.reason, q.text) for q in IngestedFile.objects.get(
        format="radacct-csv").quarantine.all())
    assert fast_bad == slow_bad


def test_an_impossible_date_sends_its_batch_to_the_parser(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [*quirky_rows(1), row(900, stop="2025-02-30 10:00:00+00")]
    source = _write(tmp_path / "src" / "radacct.csv", rows)
    fast, slow = both_ways(tmp_path, source, monkeypatch)
    assert fast.quarantined == slow.quarantined
    assert _stored(tmp_path / "fast") == _stored(tmp_path / "slow")


@pytest.mark.parametrize("mutate", [
    lambda text: text.replace("\n", "\r\n"),             # CRLF: still one record a line
    lambda text: text.replace("\n", "\n\n", 3),          # blank lines: numbering would drift
    lambda text: text + 'x,"unterminated\n',             # a quote the csv module must judge
    lambda text: text + "1,2,3\n",                       # a short row
    lambda text: text.replace("user000001", 'user"000001', 1),  # a quote inside a field
    lambda text: text.replace("\n", "\r", 2),            # a lone carriage return
    lambda text: "\ufeff" + text,                        # a byte order mark before the header
    lambda text: text.replace("user000001", "user\x00", 1),  # a NUL byte
])
def test_files_the_columns_cannot_judge_give_the_same_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutate: Callable[[str], str]) -> None:
    text = "\n".join([HEADER, *quirky_rows(1)]) + "\n"
    source = tmp_path / "src" / "radacct.csv"
    source.parent.mkdir()
    source.write_bytes(mutate(text).encode())
    fast, slow = both_ways(tmp_path, source, monkeypatch)
    assert (fast.lines, fast.events, fast.intervals, fast.quarantined) == (
        slow.lines, slow.events, slow.intervals, slow.quarantined)
    assert _stored(tmp_path / "fast") == _stored(tmp_path / "slow")


def test_the_shipped_fixture_goes_line_by_line_and_matches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = FIXTURES / "synthetic-radacct.csv"
    # A quoted field spans two lines there, so line numbers need the csv module.
    assert bulk_radacct.read_columns(fixture, "0" * 64, "radacct-csv") is None
    fast, slow = both_ways(tmp_path, fixture, monkeypatch)
    assert fast.intervals == slow.intervals > 0
    assert _stored(tmp_path / "fast") == _stored(tmp_path / "slow")


def test_a_plain_file_is_read_entirely_in_columns(tmp_path: Path) -> None:
    rows = [row(n, ipv4=f"198.18.{n // 256}.{n % 256}") for n in range(1, 2001)]
    source = _write(tmp_path / "radacct.csv", rows)
    columns = bulk_radacct.read_columns(source, "0" * 64, "radacct-csv")
    assert columns is not None
    assert len(columns.table) == 2000
    assert not len(columns.fallback)
    assert columns.lines == 2001
    result = ingest_file(source, "radacct-csv", "UTC", tmp_path / "store")
    assert (result.events, result.intervals, result.quarantined) == (2000, 2000, 0)
    [match] = EmbeddedLogStore(tmp_path / "store").lookup(
        "198.18.1.44", datetime(2025, 3, 4, 10, 30, tzinfo=UTC))
    assert match.interval.username == "user000001@example.net"
    assert match.interval.evidence[0].line == 301  # row 300 is on line 301
    assert match.interval.evidence[0].sha256 == result.sha256


def test_a_crash_after_the_column_write_is_repaired_by_running_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _write(tmp_path / "src" / "radacct.csv", quirky_rows(2))
    clean = ingest_file(source, "radacct-csv", "UTC", tmp_path / "clean")
    IngestedFile.objects.filter(sha256=clean.sha256).update(format="radacct-csv-clean")

    def die(*_: Any, **__: Any) -> None:
        raise RuntimeError("killed before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "_complete", die)
        with pytest.raises(RuntimeError):
            ingest_file(source, "radacct-csv", "UTC", tmp_path / "crashed")
    record = IngestedFile.objects.get(format="radacct-csv")
    assert record.status == IngestedFile.Status.STARTED
    assert _stored(tmp_path / "crashed") == _stored(tmp_path / "clean")  # visible, unfinished
    again = ingest_file(source, "radacct-csv", "UTC", tmp_path / "crashed")
    assert (again.intervals, again.quarantined) == (clean.intervals, clean.quarantined)
    assert _stored(tmp_path / "crashed") == _stored(tmp_path / "clean")  # no duplicates
    assert IngestedFile.objects.get(format="radacct-csv").status == IngestedFile.Status.COMPLETE
