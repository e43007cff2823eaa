"""radacct rows exported with PostgreSQL `COPY radacct TO ... CSV HEADER`."""

from __future__ import annotations

import csv
import gzip
import ipaddress
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Flag,
    Quarantined,
    Source,
    open_text,
)
from cpniguard.connectivity.parsers.radacct_csv import parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "connectivity"
HEADER = ("acctuniqueid,acctsessionid,username,nasipaddress,framedipaddress,"
          "acctstarttime,acctupdatetime,acctstoptime,callingstationid")


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0,
        micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def run(lines: list[str], zone: str = "UTC") -> list[Event | Quarantined]:
    return list(parse(lines, Source("radacct.csv", zone)))


def events(parsed: list[Event | Quarantined]) -> list[Event]:
    assert all(isinstance(item, Event) for item in parsed), parsed
    return [item for item in parsed if isinstance(item, Event)]


def fixture_events() -> list[Event]:
    name = "synthetic-radacct.csv"
    return events(list(parse(open_text(FIXTURES / name), Source(name))))


def test_closed_session_row() -> None:
    row = fixture_events()[0]
    assert row.kind is EventKind.SESSION_ROW
    assert row.evidence.line == 2
    assert row.starts == utc(2024, 3, 4, 16, 0)  # "2024-03-04 10:00:00-06"
    assert row.ends == utc(2024, 3, 4, 17, 30)
    assert row.at == utc(2024, 3, 4, 17, 15)  # the last interim update
    assert row.session_id == "3c1f0d6e9a2b4c5d"
    assert ("acctsessionid", "0000A1B2") in row.extra
    assert (row.username, row.device) == ("alice@example.net", "192.0.2.1")
    assert row.address == ipaddress.ip_network("198.51.100.23/32")
    assert ("framedipv6prefix", "2001:db8:100:1::/64") in row.extra
    assert ("delegatedipv6prefix", "2001:db8:200::/56") in row.extra
    assert row.mac == "02:1a:2b:3c:4d:5e"
    assert row.terminate_cause == "User-Request"
    assert (row.octets_in, row.octets_out) == (8589935592, 4294967295)
    assert ("connectinfo_start", "1000BaseT, full duplex") in row.extra  # quoted comma
    assert row.flags == frozenset()


def test_null_stop_is_flagged() -> None:
    row = fixture_events()[1]
    assert row.ends is None
    assert Flag.NO_STOP in row.flags
    assert row.at == utc(2024, 3, 4, 16, 45)


def test_multiline_field_keeps_physical_line_numbers() -> None:
    carol, dave = fixture_events()[2:]
    assert carol.evidence.line == 4
    assert dave.evidence.line == 6  # carol's quoted field spans lines 4-5
    assert carol.session_id == "0000C001"  # empty acctuniqueid: falls back
    assert carol.address == ipaddress.ip_network("2001:db8:300::/56")
    assert carol.at == carol.starts == utc(2024, 3, 4, 16, 45)  # "-07", no update
    assert carol.ends == utc(2024, 3, 4, 17, 45, 0, 500000)
    assert carol.mac == ""
    assert ("callingstationid", "+15555550123") in carol.extra
    assert ("connectinfo_start", "line one\nline two") in carol.extra
    assert dave.starts == utc(2024, 3, 4, 16, 30)  # "+05:30"
    assert ("groupname", "residential") in dave.extra


def test_gzip_export(tmp_path: Path) -> None:
    path = tmp_path / "radacct-export"
    path.write_bytes(gzip.compress((FIXTURES / "synthetic-radacct.csv").read_bytes()))
    rows = events(list(parse(open_text(path), Source(str(path)))))
    assert [row.evidence.line for row in rows] == [2, 3, 4, 6]


def test_camelcase_schema_header_in_another_order() -> None:
    # The v3.2.x spellings from the schema, reversed: mapping is by name, not position.
    with (FIXTURES / "radacct-columns-postgresql.csv").open(newline="") as handle:
        names = [r["v3.2.x_spelling"] for r in csv.DictReader(handle) if r["v3.2.x_spelling"]]
    names.reverse()
    values = {"AcctUniqueId": "u-1", "AcctSessionId": "s-1", "UserName": "gina@example.net",
              "NASIPAddress": "192.0.2.9", "FramedIPAddress": "203.0.113.9/32",
              "AcctStartTime": "2024-03-04 16:00:00+00", "AcctStopTime": "",
              "CallingStationId": "AABB.CC00.1122"}
    row = ",".join(values.get(name, "") for name in names)
    (event,) = events(run([",".join(names), row]))
    assert event.session_id == "u-1"
    assert event.address == ipaddress.ip_network("203.0.113.9/32")
    assert event.mac == "aa:bb:cc:00:11:22"
    assert Flag.NO_STOP in event.flags


def test_naive_time_uses_source_zone_and_flags_fall_back_hour() -> None:
    lines = [HEADER, "u,s,h@example.net,192.0.2.1,192.0.2.5,2024-11-03 01:30:00,,"
             "2024-11-03 03:00:00,"]
    (event,) = events(run(lines, "America/Chicago"))
    assert event.starts == utc(2024, 11, 3, 6, 30)
    assert Flag.AMBIGUOUS_LOCAL_TIME in event.flags
    assert event.ends == utc(2024, 11, 3, 9, 0)


def test_malformed_rows_are_quarantined_with_physical_lines() -> None:
    lines = [
        HEADER,
        "u1,s1,a@example.net,192.0.2.1,192.0.2.5,2024-03-04 16:00:00+00,,,",  # 2: fine
        "u2,s2,b@example.net,192.0.2.1,192.0.2.5,2024-03-04 16:00:00+00,,",  # 3: short
        "u3,s3,c@example.net,192.0.2.1,192.0.2.500,2024-03-04 16:00:00+00,,,",  # 4: bad IP
        "u4,s4,d@example.net,192.0.2.1,192.0.2.5,Mon Mar 4 2024,,,",  # 5: bad time
        "u5,s5,e@example.net,192.0.2.1,192.0.2.5,,,,",  # 6: no time at all
        'u6,s6,"f@example.net"x,192.0.2.1,192.0.2.5,2024-03-04 16:00:00+00,,,',  # 7: bad CSV
        "u7,s7,g@example.net,192.0.2.1,192.0.2.0/24,2024-03-04 16:00:00+00,,,",  # 8: a subnet
        "u8,s8,h@example.net,192.0.2.1,192.0.2.6,2024-03-04 16:00:00+00,,,",  # 9: fine
    ]
    parsed = run(lines)
    lines_seen = [item.line if isinstance(item, Quarantined) else item.evidence.line
                  for item in parsed]
    assert lines_seen == [2, 3, 4, 5, 6, 7, 8, 9]
    assert [type(item) for item in parsed] == [Event] + [Quarantined] * 6 + [Event]
    quarantined = [item for item in parsed if isinstance(item, Quarantined)]
    expected = ["8 fields", "192.0.2.500", "acctstarttime", "no usable time", "malformed CSV",
                "not a single address"]
    for item, words in zip(quarantined, expected, strict=True):
        assert words in item.reason
    assert quarantined[1].text == lines[3]


def test_missing_header_columns_quarantine_line_one_and_stop() -> None:
    parsed = run(["acctsessionid,username,acctstarttime", "s,a,2024-03-04 16:00:00+00"])
    (item,) = parsed
    assert isinstance(item, Quarantined)
    assert item.line == 1
    assert "nasipaddress" in item.reason


def test_unterminated_quote_at_end_is_quarantined() -> None:
    parsed = run([HEADER, 'u,s,"a@example.net,192.0.2.1'])
    (item,) = parsed
    assert isinstance(item, Quarantined)
    assert item.line == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80) | st.sampled_from([
    "u,s,a,192.0.2.1,192.0.2.5,2024-03-04 16:00:00+00,,,",
    "u,s,a,192.0.2.1,192.0.2.5,9999-12-31 23:59:59-23:59,,,",
    "u,s,a,192.0.2.1,192.0.2.5,0001-01-01 00:00:00+14,,,", '"', ",,,,,,,,",
]), max_size=30))
def test_garbage_rows_never_raise(rows: list[str]) -> None:
    for item in run([HEADER, *rows], "America/Chicago"):
        assert isinstance(item, Event | Quarantined)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 2**31),
                          st.booleans()), max_size=20))
def test_valid_rows_round_trip_their_count(rows: list[tuple[int, int, bool]]) -> None:
    lines = [HEADER]
    for octet, epoch, open_row in rows:
        start = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        lines.append(f"u{octet},s,user{octet},192.0.2.1,198.51.100.{octet},{start},,"
                     f"{'' if open_row else start},")
    parsed = events(run(lines))
    assert len(parsed) == len(rows)
    assert [Flag.NO_STOP in event.flags for event in parsed] == [r[2] for r in rows]
