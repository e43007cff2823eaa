"""Sessions crossing daily log files: the open row of one file is cut or dropped once the next
file shows the session going on, so it stops claiming the address from its next holder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.connectivity.attribution import Status, attribute
from cpniguard.connectivity.continuity import ContinuationBook
from cpniguard.connectivity.events import Flag
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.models import OpenInterval
from cpniguard.connectivity.store import EmbeddedLogStore

pytestmark = pytest.mark.django_db
SKEW = timedelta(seconds=2)


def record(at: datetime, status: str, user: str, session: str, address: str,
           session_time: int | None = None) -> str:
    lines = [at.strftime("%a %b %d %H:%M:%S %Y"), f'\tAcct-Session-Id = "{session}"',
             f"\tAcct-Status-Type = {status}", f'\tUser-Name = "{user}"',
             "\tNAS-IP-Address = 192.0.2.1", f"\tFramed-IP-Address = {address}",
             f"\tTimestamp = {int(at.timestamp())}"]
    if session_time is not None:
        lines.append(f"\tAcct-Session-Time = {session_time}")
    return "\n".join(lines) + "\n\n"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def logs(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


def ask(store: EmbeddedLogStore, moment: datetime, *, with_book: bool = True
        ) -> tuple[Status, list[str]]:
    answer = attribute(store, "198.51.100.9", moment, port=None, skew=SKEW,
                       continuations=ContinuationBook if with_book else None)
    return answer.status, [c.holder.username for c in answer.candidates]


def test_a_session_stopped_in_the_next_file_frees_the_address(
        tmp_path: Path, logs: Callable[[str, str], Path]) -> None:
    store = EmbeddedLogStore(tmp_path / "store")
    # Hourly rotated detail files: alice's session is open at the end of the first.
    hour1 = logs("detail-2024030420", record(at(4, 20), "Start", "alice", "S1", "198.51.100.9")
                 + record(at(4, 20, 30), "Interim-Update", "alice", "S1", "198.51.100.9"))
    hour2 = logs("detail-2024030421",
                 record(at(4, 21), "Stop", "alice", "S1", "198.51.100.9", session_time=3600)
                 + record(at(4, 21, 10), "Start", "bob", "S2", "198.51.100.9")
                 + record(at(4, 21, 50), "Stop", "bob", "S2", "198.51.100.9", session_time=2400))
    ingest_file(hour1, "radius-detail", "UTC", store.root)
    [open_row] = OpenInterval.objects.all()
    assert (open_row.session_id, open_row.continued_start) == ("S1", None)
    ingest_file(hour2, "radius-detail", "UTC", store.root)
    open_row.refresh_from_db()
    # The Stop's interval starts at Stop - Acct-Session-Time = the session's real start.
    assert open_row.continued_start == int(at(4, 20).timestamp()) * 1_000_000
    assert open_row.continued_end == int(at(4, 21).timestamp()) * 1_000_000

    # Without the continuation, alice's open row would claim bob's session too.
    assert ask(store, at(4, 21, 30), with_book=False)[0] is Status.AMBIGUOUS
    assert ask(store, at(4, 21, 30)) == (Status.MATCH, ["bob"])
    # Between alice's last record in file 1 and her Stop in file 2, she is still proven.
    assert ask(store, at(4, 20, 45)) == (Status.MATCH, ["alice"])


def test_the_open_row_is_cut_where_a_later_interval_begins(
        tmp_path: Path, logs: Callable[[str, str], Path]) -> None:
    store = EmbeddedLogStore(tmp_path / "store")
    hour1 = logs("d1", record(at(4, 20), "Start", "alice", "S1", "198.51.100.9"))
    # The next file has an Interim without Acct-Session-Time: its interval starts there.
    hour2 = logs("d2", record(at(4, 20, 30), "Interim-Update", "alice", "S1", "198.51.100.9")
                 + record(at(4, 21), "Stop", "alice", "S1", "198.51.100.9"))
    ingest_file(hour1, "radius-detail", "UTC", store.root)
    ingest_file(hour2, "radius-detail", "UTC", store.root)
    assert ask(store, at(4, 22), with_book=False)[0] is Status.AMBIGUOUS  # open, past last seen
    answer = attribute(store, "198.51.100.9", at(4, 20, 15), port=None, skew=SKEW,
                       continuations=ContinuationBook)
    assert answer.status is Status.MATCH
    [first] = [c for c in answer.candidates if c.start == at(4, 20)]
    assert first.end == at(4, 20, 30)
    assert str(Flag.CONTINUED) in first.flags
    assert first.evidence[-1].file.endswith("d2")
    assert ask(store, at(4, 22)) == (Status.NO_MATCH, [])


def test_a_reexported_radacct_row_supersedes_its_open_self(
        tmp_path: Path, logs: Callable[[str, str], Path]) -> None:
    header = ("radacctid,acctsessionid,acctuniqueid,username,nasipaddress,acctstarttime,"
              "acctupdatetime,acctstoptime,framedipaddress\n")
    first = logs("radacct-1.csv", header + "1,S1,u1,alice,192.0.2.1,2024-03-04 20:00:00+00,"
                 "2024-03-04 20:30:00+00,,198.51.100.9\n")
    second = logs("radacct-2.csv", header + "1,S1,u1,alice,192.0.2.1,2024-03-04 20:00:00+00,"
                  "2024-03-04 21:00:00+00,2024-03-04 21:00:00+00,198.51.100.9\n"
                  "2,S2,u2,bob,192.0.2.1,2024-03-04 21:10:00+00,2024-03-04 21:50:00+00,"
                  "2024-03-04 21:50:00+00,198.51.100.9\n")
    store = EmbeddedLogStore(tmp_path / "store")
    ingest_file(first, "radacct-csv", "UTC", store.root)
    ingest_file(second, "radacct-csv", "UTC", store.root)
    assert ask(store, at(4, 21, 30), with_book=False)[0] is Status.AMBIGUOUS
    assert ask(store, at(4, 21, 30)) == (Status.MATCH, ["bob"])
    assert ask(store, at(4, 20, 45)) == (Status.MATCH, ["alice"])


def test_continuations_are_read_through_the_registry_index(
        tmp_path: Path, logs: Callable[[str, str], Path]) -> None:
    """Every answer with an open candidate asks the registry; a scan of it cost 72 ms at
    800k open rows (the p99 of audited answers). The plan must seek the unique index.
    Checked as a plan, not timed: speed is measured in bench/, not asserted here."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL scans a table this small anyway")
    first = logs("detail-1", record(at(9, 23), "Start", "alice", "S1", "198.51.100.9")
                 + record(at(9, 23, 50), "Interim-Update", "alice", "S1", "198.51.100.9"))
    second = logs("detail-2", record(at(10, 1), "Stop", "alice", "S1", "198.51.100.9"))
    ingest_file(first, "radius-detail", "UTC", tmp_path / "store")
    ingest_file(second, "radius-detail", "UTC", tmp_path / "store")
    [row] = OpenInterval.objects.all()
    key = (row.source, row.device, row.session_id, row.address, row.original_start)
    with CaptureQueriesContext(connection) as captured:
        book = ContinuationBook([key])
    found = book.get(key)
    assert found is not None
    assert found.start == int(at(10, 1).timestamp()) * 1_000_000
    [query] = [q["sql"] for q in captured.captured_queries if "openinterval" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query}")
        plan = " | ".join(str(step[-1]) for step in cursor.fetchall())
    # The unique constraint's index (SQLite names it sqlite_autoindex_...), on its first three
    # columns: a seek per session asked about.
    assert "(source=? AND device=? AND session_id=?)" in plan, plan
    assert "SCAN connectivity_openinterval" not in plan, plan
