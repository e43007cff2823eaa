"""FreeRADIUS detail files: real samples from the FreeRADIUS tree and synthetic v3/v4 records."""

from __future__ import annotations

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
from cpniguard.connectivity.parsers.radius_detail import parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "connectivity"
CHICAGO = "America/Chicago"


def run(name: str, zone: str = "UTC") -> list[Event | Quarantined]:
    return list(parse(open_text(FIXTURES / name), Source(name, zone)))


def events(parsed: list[Event | Quarantined]) -> list[Event]:
    assert all(isinstance(item, Event) for item in parsed), parsed
    return [item for item in parsed if isinstance(item, Event)]


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_freeradius_test_record_uses_timestamp_and_flags_the_2011_header() -> None:
    (event,) = events(run("v4-test-one.txt", "Europe/Berlin"))
    assert event.kind is EventKind.SESSION_START
    assert event.at == utc(2019, 4, 2, 17, 38, 1)  # Timestamp 1554226681, not the 2011 header
    assert Flag.CLOCK_DISAGREES in event.flags
    assert event.evidence.line == 1
    assert (event.session_id, event.username, event.device) == ("ed8119f6919c6f6f", "bob",
                                                               "10.10.0.179")
    # "0123456789" is not a MAC: kept as written, never coerced.
    assert event.mac == ""
    assert ("Calling-Station-Id", "0123456789") in event.extra
    assert ("parser:header-utc", "2011-09-13T14:24:27+00:00") in event.extra


def test_access_request_is_quarantined_without_its_password() -> None:
    (item,) = run("v4-tutorial-byname-bob.txt")
    assert isinstance(item, Quarantined)
    assert item.line == 1
    assert "not an accounting record" in item.reason
    assert "Access-Request" in item.reason
    assert "hello" not in item.text


def test_v3_session_start_applies_acct_delay_time() -> None:
    start = events(run("synthetic-v3-detail.txt", CHICAGO))[0]
    assert start.kind is EventKind.SESSION_START
    assert start.at == utc(2024, 3, 4, 16, 0, 0)  # Timestamp 16:00:05Z minus 5 s delay
    assert start.evidence.line == 1
    assert start.session_id == "3c1f0d6e9a2b4c5d"  # the unique id wins over Acct-Session-Id
    assert ("Acct-Session-Id", "0000A1B2") in start.extra
    assert start.username == "alice@example.net"
    assert start.address == ipaddress.ip_network("198.51.100.23/32")
    assert start.mac == "02:1a:2b:3c:4d:5e"
    assert start.device == "192.0.2.1"
    assert start.flags == frozenset()


def test_v3_interim_reads_english_event_timestamp_and_gigawords() -> None:
    interim = events(run("synthetic-v3-detail.txt", CHICAGO))[1]
    assert interim.kind is EventKind.SESSION_INTERIM
    assert interim.evidence.line == 13
    # "Mar  4 2024 10:15:00 CST" in Chicago; the delay is not applied to a device time.
    assert interim.at == utc(2024, 3, 4, 16, 15, 0)
    assert interim.flags == frozenset()
    assert interim.address == ipaddress.ip_network("198.51.100.23/32")
    assert ("Framed-IPv6-Prefix", "2001:db8:100:1::/64") in interim.extra
    assert ("Delegated-IPv6-Prefix", "2001:db8:200::/56") in interim.extra
    assert interim.mac == "02:1a:2b:3c:4d:5e"  # from Cisco dotted form
    avpairs = [value for name, value in interim.extra if name == "Cisco-AVPair"]
    assert avpairs == ["client-mac-address=021a.2b3c.4d5e", "connect-progress=LAN Ses Up"]
    assert interim.octets_in == 1000 + (2 << 32)
    assert interim.octets_out == 4294967295
    assert ("parser:receive-time", "2024-03-04T16:15:00+00:00") in interim.extra


def test_v3_stop_epoch_event_timestamp_and_cause() -> None:
    stop = events(run("synthetic-v3-detail.txt", CHICAGO))[2]
    assert stop.kind is EventKind.SESSION_STOP
    assert stop.at == utc(2024, 3, 4, 17, 30, 0)
    assert stop.terminate_cause == "User-Request"


def test_accounting_on_uses_nas_identifier() -> None:
    nas_on = events(run("synthetic-v3-detail.txt", CHICAGO))[3]
    assert nas_on.kind is EventKind.NAS_ON
    assert nas_on.device == "bras1.example.net"
    assert nas_on.at == utc(2024, 3, 4, 16, 25, 0)
    assert nas_on.address is None


def test_event_timestamp_zone_abbreviation_disagreeing_is_flagged() -> None:
    start = events(run("synthetic-v3-detail.txt", CHICAGO))[4]
    assert start.at == utc(2024, 3, 4, 16, 40, 0)  # read in the configured zone
    assert Flag.CLOCK_DISAGREES in start.flags
    notes = dict(start.extra)
    assert "CEST" in notes["parser:event-timestamp-zone"]
    assert start.mac == "aa:bb:cc:00:11:22"


def test_non_english_event_timestamp_falls_back_to_receive_time() -> None:
    interim = events(run("synthetic-v3-detail.txt", CHICAGO))[5]
    assert interim.at == utc(2024, 3, 4, 16, 39, 30)  # Timestamp 16:40:00Z minus 30 s
    assert "parser:event-timestamp-unparsed" in dict(interim.extra)
    assert ("Event-Timestamp", "февр. 11 2014 16:56:02 EET") in interim.extra


def test_ipv6_only_session_octal_escapes_and_phone_number() -> None:
    start = events(run("synthetic-v3-detail.txt", CHICAGO))[6]
    assert start.address == ipaddress.ip_network("2001:db8:300::/56")
    assert start.username == "débora@example.net"
    assert start.mac == ""
    assert ("Calling-Station-Id", "+15555550123") in start.extra


def test_v4_enums_iso_times_and_net_attributes() -> None:
    start, stop = events(run("synthetic-v4-detail.txt"))
    assert start.kind is EventKind.SESSION_START
    assert stop.kind is EventKind.SESSION_STOP
    assert start.at == utc(2024, 3, 4, 16, 0, 1)  # ISO Event-Timestamp
    assert start.device == "192.0.2.50"  # Net.Src.IP, since there is no NAS-IP-Address
    assert start.mac == "02:00:5e:10:00:01"
    # No Timestamp: Net.Timestamp is the receive time, minus Acct-Delay-Time.
    assert stop.at == utc(2024, 3, 4, 16, 30, 2)
    assert stop.terminate_cause == "Lost-Carrier"
    assert stop.evidence.line == 14


def test_fall_back_hour_header_is_flagged_ambiguous(tmp_path: Path) -> None:
    # 2024-11-03 01:30 happened twice in Chicago; with no Timestamp only the header is left.
    path = tmp_path / "detail-20241103"
    path.write_text("Sun Nov  3 01:30:00 2024\n\tAcct-Status-Type = Start\n"
                    "\tUser-Name = \"frank@example.net\"\n\tFramed-IP-Address = 192.0.2.77\n"
                    "\tAcct-Delay-Time = 10\n")
    (event,) = events(list(parse(open_text(path), Source(str(path), CHICAGO))))
    assert Flag.AMBIGUOUS_LOCAL_TIME in event.flags
    assert event.at == utc(2024, 11, 3, 6, 29, 50)  # earlier reading (CDT), minus the delay


def test_spring_forward_gap_header_is_flagged_nonexistent(tmp_path: Path) -> None:
    path = tmp_path / "detail-20240310"
    path.write_text("Sun Mar 10 02:30:00 2024\n\tAcct-Status-Type = Stop\n")
    (event,) = events(list(parse(open_text(path), Source(str(path), CHICAGO))))
    assert Flag.NONEXISTENT_LOCAL_TIME in event.flags


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "detail-20240304"  # no .gz suffix: open_text goes by magic bytes
    path.write_bytes(gzip.compress((FIXTURES / "synthetic-v3-detail.txt").read_bytes()))
    from_gzip = events(list(parse(open_text(path), Source(str(path), CHICAGO))))
    plain = events(run("synthetic-v3-detail.txt", CHICAGO))
    assert [(e.kind, e.at, e.evidence.line) for e in from_gzip] == [
        (e.kind, e.at, e.evidence.line) for e in plain]
    assert len(from_gzip) == 7


def test_malformed_records_are_quarantined_with_line_numbers() -> None:
    parsed = run("synthetic-detail-malformed.txt")
    summary = [(type(item).__name__, item.line if isinstance(item, Quarantined)
                else item.evidence.line) for item in parsed]
    assert summary == [("Event", 1), ("Quarantined", 7), ("Quarantined", 14),
                       ("Quarantined", 19), ("Quarantined", 22), ("Quarantined", 25),
                       ("Event", 31)]
    bad_line, bad_ip, orphan, weekday, bad_quote = (
        item for item in parsed if isinstance(item, Quarantined))
    assert "line 10" in bad_line.reason
    assert bad_line.text.endswith("this line is not an attribute")
    assert "192.0.2.300" in bad_ip.reason
    assert bad_ip.reason.startswith("line 16: Framed-IP-Address")
    assert bad_ip.text.endswith("Framed-IP-Address = 192.0.2.300")
    assert "no record header" in orphan.reason
    assert "weekday" in weekday.reason
    assert "line 28" in bad_quote.reason
    ok1, ok3 = (item for item in parsed if isinstance(item, Event))
    assert (ok1.username, ok3.username) == ("ok1", "ok3")


def test_conflicting_repeated_address_is_not_guessed() -> None:
    lines = ["Mon Mar  4 16:00:05 2024", "\tAcct-Status-Type = Start",
             "\tFramed-IP-Address = 192.0.2.1", "\tFramed-IP-Address = 192.0.2.2"]
    (item,) = parse(lines, Source("x"))
    assert isinstance(item, Quarantined)
    assert "different values" in item.reason


def test_header_without_blank_line_starts_a_new_record() -> None:
    lines = ["Mon Mar  4 16:00:05 2024", "\tAcct-Status-Type = Start",
             "Mon Mar  4 16:00:06 2024", "\tAcct-Status-Type = Stop"]
    first, second = events(list(parse(lines, Source("x"))))
    assert (first.evidence.line, second.evidence.line) == (1, 3)
    assert second.kind is EventKind.SESSION_STOP


# --- property tests -------------------------------------------------------------------------

_garbage = st.lists(st.text(max_size=60) | st.sampled_from([
    "", "\t", "\tA = \"", "\tAcct-Status-Type = Start", "\tTimestamp = 99999999999999999999",
    "Mon Mar  4 16:00:05 2024", "Sat Jan  1 00:00:00 0001", "\tAcct-Delay-Time = 99999999999",
    "\tEvent-Timestamp = \"Jan  1 9999 23:59:59 XYZ\"", "\tFramed-IPv6-Prefix = ::/0",
]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_garbage)
def test_garbage_never_raises(lines: list[str]) -> None:
    for item in parse(lines, Source("garbage", CHICAGO)):
        assert isinstance(item, Event | Quarantined)


_record = st.builds(
    lambda status, user, octet, stamp, delay: [
        "Mon Mar  4 16:00:05 2024", f"\tAcct-Status-Type = {status}",
        f"\tUser-Name = \"{user}\"", f"\tFramed-IP-Address = 198.51.100.{octet}",
        f"\tTimestamp = {stamp}", f"\tAcct-Delay-Time = {delay}", ""],
    st.sampled_from(["Start", "::Stop", "Interim-Update", "Alive", "Accounting-On"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
            max_size=20),
    st.integers(0, 255), st.integers(0, 2**33), st.integers(0, 3600),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_record, max_size=15))
def test_valid_records_round_trip_their_count(records: list[list[str]]) -> None:
    lines = [line for record in records for line in record]
    parsed = events(list(parse(lines, Source("valid", CHICAGO))))
    assert len(parsed) == len(records)
    assert [event.username for event in parsed] == [record[2][14:-1] for record in records]
