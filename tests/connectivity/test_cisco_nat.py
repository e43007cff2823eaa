"""Cisco IOS XR CGN syslog (synthetic fixture following the CGN configuration guide)."""

from __future__ import annotations

import gzip
import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.clock import UnknownZone
from cpniguard.connectivity.events import Event, EventKind, Flag, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.cisco_nat import parse

FIXTURE = Path(__file__).parent.parent / "fixtures" / "connectivity" / "synthetic-iosxr-cgn.log"
PUBLIC = ipaddress.ip_network("192.0.2.10/32")


def _run(lines: list[str] | None = None, zone: str = "America/Chicago"
         ) -> list[Event | Quarantined]:
    return list(parse(open_text(FIXTURE) if lines is None else lines, Source("cgn.log", zone)))


def _events(items: list[Event | Quarantined]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def test_fixture_records() -> None:
    items = _run()
    events = _events(items)
    assert [(e.evidence.line, e.kind) for e in events] == [
        (1, EventKind.NAT_ALLOCATE), (2, EventKind.NAT_ALLOCATE), (2, EventKind.NAT_RELEASE),
        (3, EventKind.NAT_ALLOCATE), (4, EventKind.NAT_ALLOCATE), (6, EventKind.NAT_ALLOCATE)]
    quarantined = [(q.line, q.reason) for q in items if isinstance(q, Quarantined)]
    assert quarantined == [(6, "not a port number: '70000'"),
                           (7, "record has 10 fields, not 11")]


def test_bulk_allocation_block() -> None:
    first = _events(_run())[0]
    assert first.at == datetime(2024, 11, 3, 5, 59, 58, tzinfo=UTC)
    assert first.address == PUBLIC
    assert first.inside_address == ipaddress.ip_network("100.64.1.5/32")
    assert (first.port_first, first.port_last) == (1024, 1535)
    assert first.protocol == ""  # a bulk block covers every protocol
    assert first.device == "cgn2.example.net"
    assert ("inside-vrf", "INSIDE-VRF") in first.extra


def test_two_records_on_one_line_in_the_fall_back_hour() -> None:
    alloc, withdraw = _events(_run())[1:3]
    assert alloc.inside_address == ipaddress.ip_network("100.64.1.6/32")
    assert withdraw.inside_address == ipaddress.ip_network("100.64.1.5/32")
    assert (withdraw.port_first, withdraw.port_last) == (1024, 1535)
    for event in (alloc, withdraw):
        assert event.at == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
        assert event.flags == frozenset({Flag.AMBIGUOUS_LOCAL_TIME})


def test_session_based_single_port_and_ds_lite() -> None:
    session, dslite = _events(_run())[3:5]
    assert session.protocol == "tcp"
    assert (session.port_first, session.port_last) == (61000, 61000)
    assert ("original-port", "40000") in session.extra
    assert session.at == datetime(2024, 11, 3, 8, 10, tzinfo=UTC)  # 02:10 CST
    assert dslite.inside_address == ipaddress.ip_network("2001:db8:aa::1/128")
    assert ("inside-ipv4", "192.0.0.2") in dslite.extra


def test_bad_record_does_not_spoil_its_neighbour() -> None:
    items = _run()
    bad = next(q for q in items if isinstance(q, Quarantined) and q.line == 6)
    assert bad.text.startswith("[UserbasedA - 100.64.1.9 ")
    good = [e for e in _events(items) if e.evidence.line == 6]
    assert [e.inside_address for e in good] == [ipaddress.ip_network("100.64.1.10/32")]


def test_other_router_messages_are_skipped() -> None:
    assert _run(["<189>1 2024 Nov 03 02:15:00 r1 - - - %PKT_INFRA-LINK-3-UPDOWN : down"]) == []


def test_header_problems_quarantine_the_line() -> None:
    line = "Nov  3 02:00:00 cgn2 [UserbasedA - 100.64.1.5 V - 192.0.2.10 - 1024 1535 - -]"
    (q,) = _run([line])
    assert isinstance(q, Quarantined)
    assert q.reason == "timestamp without a year"
    tail = "<134>1 2024 Nov 03 02:00:00 h - - NAT44 - [UserbasedW - 100.64.1.5 V - " \
           "192.0.2.10 - 1024 1535 - -] junk"
    assert isinstance(_run([tail])[0], Quarantined)


def test_gzip_and_utc_routers(tmp_path: Path) -> None:
    packed = tmp_path / "cgn.log.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    events = _events(list(parse(open_text(packed), Source(str(packed), "UTC"))))
    assert events[1].at == datetime(2024, 11, 3, 1, 30, tzinfo=UTC)
    assert events[1].flags == frozenset()
    assert events[1].evidence.file == str(packed)


def test_unknown_zone_is_raised_before_reading() -> None:
    with pytest.raises(UnknownZone):
        _run([], zone="Central")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([
    "<1>1 2024 Feb 30 00:00:00 h - - NAT44 - [UserbasedA - 1.2.3.4 - - 5.6.7.8 - 1 2 - -]",
    "[SessionbasedW 99 x y z w - - - - -]", "[Portblockrunout]", "[UserbasedA]",
    "<1>1 2024 Jan 01 00:00:00 h a b c [SessionbasedA - ::1 - 1.2.3.4 ::2 - 5 - - -]"])),
    max_size=8))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    for item in _run(lines):
        assert isinstance(item, Event | Quarantined)
