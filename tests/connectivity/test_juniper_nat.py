"""Juniper secured port block allocation syslog (synthetic fixture, see SOURCES.md)."""

from __future__ import annotations

import gzip
import ipaddress
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Flag, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.juniper_nat import parse

FIXTURE = Path(__file__).parent.parent / "fixtures" / "connectivity" / "synthetic-juniper-pba.log"
ZONE = "America/Chicago"
HEAD = "cgn1.example.net (FPC Slot 2, PIC Slot 0) {sset2}[FWNAT]: JSERVICES_NAT_PORT_BLOCK_"


def _run(lines: list[str] | None = None, year: int | None = 2024) -> list[Event | Quarantined]:
    text = open_text(FIXTURE) if lines is None else lines
    return list(parse(text, Source(str(FIXTURE), ZONE), year=year))


def _events(items: list[Event | Quarantined]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def test_fixture_events_and_quarantines() -> None:
    items = _run()
    assert [i.evidence.line for i in _events(items)] == [1, 3, 4, 5, 9, 10]
    quarantined = [i for i in items if isinstance(i, Quarantined)]
    assert [(q.line, q.reason) for q in quarantined] == [
        (6, "port range runs backwards: 2600-2400"),
        (7, "not an IP address: '100.64.0.999'"),
        (11, "not `inside -> public:first-last [0xHEX]`"),
    ]
    assert quarantined[0].text.endswith("203.0.113.7:2600-2400")


def test_alloc_takes_the_exact_epoch() -> None:
    alloc = _events(_run())[0]
    assert alloc.kind is EventKind.NAT_ALLOCATE
    assert alloc.at == datetime(2024, 11, 3, 5, 59, 58, tzinfo=UTC)
    assert alloc.address == ipaddress.ip_network("203.0.113.7/32")
    assert alloc.inside_address == ipaddress.ip_network("100.64.0.5/32")
    assert (alloc.port_first, alloc.port_last) == (2048, 2303)
    assert alloc.device == "cgn1.example.net"
    assert alloc.protocol == ""
    assert alloc.flags == frozenset()
    assert ("service-set", "sset2") in alloc.extra
    assert ("allocated-epoch", "1730613598") in alloc.extra


def test_fall_back_hour_is_flagged_not_guessed() -> None:
    no_epoch = _events(_run())[1]
    assert no_epoch.at == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # the earlier (CDT) reading
    assert no_epoch.flags == frozenset({Flag.AMBIGUOUS_LOCAL_TIME})
    assert ("local-time", "2024-11-03T01:30:00") in no_epoch.extra


def test_interim_and_release() -> None:
    events = _events(_run())
    active, release = events[2], events[3]
    assert active.kind is EventKind.NAT_ALLOCATE
    assert ("interim", "true") in active.extra
    assert active.starts == datetime(2024, 11, 3, 5, 59, 58, tzinfo=UTC)
    assert Flag.AMBIGUOUS_LOCAL_TIME in active.flags
    assert release.kind is EventKind.NAT_RELEASE
    assert release.at == datetime(2024, 11, 3, 8, 15, tzinfo=UTC)  # 02:15 CST, unambiguous
    assert release.starts == active.starts
    assert release.flags == frozenset()


def test_nat64_and_disagreeing_clock() -> None:
    events = _events(_run())
    nat64, off = events[4], events[5]
    assert nat64.inside_address == ipaddress.ip_network("2001:db8:100::5/128")
    assert nat64.address == ipaddress.ip_network("198.51.100.9/32")
    assert off.at == datetime(2024, 11, 3, 8, 0, tzinfo=UTC)  # the epoch, an hour before
    assert off.flags == frozenset({Flag.CLOCK_DISAGREES})


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    packed = tmp_path / "cgn.log.1"  # no .gz suffix: detection is by magic bytes
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    items = list(parse(open_text(packed), Source(str(packed), ZONE), year=2024))
    assert items == [_with_path(i, str(packed)) for i in _run()]


def _with_path(item: Event | Quarantined, path: str) -> Event | Quarantined:
    from dataclasses import replace
    if isinstance(item, Quarantined):
        return replace(item, file=path)
    return replace(item, evidence=replace(item.evidence, file=path))


def test_year_rolls_over_at_new_year() -> None:
    lines = [f"Dec 31 23:59:00 {HEAD}ALLOC: 10.0.0.5 -> 192.0.2.7:1024-1279",
             f"Jan  1 00:01:00 {HEAD}RELEASE: 10.0.0.5 -> 192.0.2.7:1024-1279"]
    alloc, release = _events(_run(lines, year=2023))
    assert alloc.at == datetime(2024, 1, 1, 5, 59, tzinfo=UTC)
    assert release.at == datetime(2024, 1, 1, 6, 1, tzinfo=UTC)


def test_year_from_file_mtime(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(f"Dec 31 23:59:00 {HEAD}ALLOC: 10.0.0.5 -> 192.0.2.7:1024-1279\n"
                   f"Jan  1 00:01:00 {HEAD}RELEASE: 10.0.0.5 -> 192.0.2.7:1024-1279\n")
    stamp = datetime(2024, 1, 1, 12, tzinfo=UTC).timestamp()
    os.utime(log, (stamp, stamp))
    alloc, release = _events(list(parse(open_text(log), Source(str(log), ZONE))))
    assert alloc.at == datetime(2024, 1, 1, 5, 59, tzinfo=UTC)  # 31 Dec 2023, local
    assert release.at == datetime(2024, 1, 1, 6, 1, tzinfo=UTC)
    assert ("year-source", "file-mtime") in alloc.extra


def test_no_year_anywhere_is_a_configuration_error() -> None:
    lines = [f"Jun  1 12:00:00 {HEAD}ALLOC: 10.0.0.5 -> 192.0.2.7:1024-1279"]
    with pytest.raises(ValueError, match="pass year="):
        list(parse(lines, Source("/nonexistent/messages", ZONE)))
    assert list(parse(["Jun  1 12:00:00 r1 sshd[1]: hello"], Source("/nonexistent", ZONE))) == []


def test_rfc3339_header_needs_no_year() -> None:
    lines = [f"2024-06-01T12:00:00.250-05:00 {HEAD}ALLOC: 10.0.0.5 -> 192.0.2.7:1024-1279"]
    (event,) = _events(list(parse(lines, Source("/nonexistent", ZONE))))
    assert event.at == datetime(2024, 6, 1, 17, 0, 0, 250000, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([
    f"Feb 30 01:00:00 {HEAD}ALLOC: 10.0.0.5 -> 192.0.2.7:1-2",
    f"Nov  3 01:30:00 {HEAD}RELEASE: ::1 -> 192.0.2.7:1-99999 0xffffffff",
    f"{HEAD}ACTIVE: 10.0.0.5 -> 192.0.2.7:1024-1279",
    "JSERVICES_NAT_PORT_BLOCK_ALLOC:", "Xyz  1 00:00:00 JSERVICES_NAT_PORT_BLOCK_ALLOC: x"])),
    max_size=8))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    for item in _run(lines):
        assert isinstance(item, Event | Quarantined)
