"""Kea legal log parser. The Kea fixtures hold entry strings without the timestamp the file
writer adds (see SOURCES.md), so tests prefix synthetic timestamps to them."""

from __future__ import annotations

import gzip
import ipaddress
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Flag, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.kea_legal import parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connectivity"


def _stamped(name: str, stamp: str = "2024-03-01 10:00:00 +0100") -> list[str]:
    return [f"{stamp} {line}" for line in (FIXTURES / name).read_text().splitlines()]


def _run(lines: list[str], zone: str = "UTC") -> list[Event | Quarantined]:
    return list(parse(lines, Source("kea-legal4.20240301.txt", zone)))


def _events(items: list[Event | Quarantined]) -> list[Event]:
    assert all(isinstance(i, Event) for i in items), [i for i in items if not isinstance(i, Event)]
    return [i for i in items if isinstance(i, Event)]


AT = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_dhcp4_entries_all_parse() -> None:
    events = _events(_run(_stamped("unittest-entries-dhcp4.txt")))
    assert len(events) == 24
    first, released = events[0], events[1]
    assert first.kind is EventKind.LEASE_ASSIGN
    assert first.at == AT
    assert first.address == ipaddress.ip_network("192.2.1.100/32")
    assert first.ends == datetime(2024, 3, 1, 10, 52, 15, tzinfo=UTC)  # 1 hrs 52 mins 15 secs
    assert first.mac == "08:00:2b:02:3f:4e"
    assert released.kind is EventKind.LEASE_RELEASE
    assert released.ends is None
    full = events[6]
    assert full.client_id == "1734e2ff099254"
    assert full.device == "192.2.16.33"
    assert full.circuit_id == "686f776479"
    assert full.remote_id == "87f67977ef"
    assert ("circuit-id-text", "howdy") in full.extra
    assert ("subscriber-id", "1a2b3c4d5e6f") in full.extra
    assert events[8].ends == first.ends  # "6735 seconds" (custom format) is the same lease
    assert events[13].circuit_id == "686f776479"  # comma-separated custom-format ids
    assert ("context", '{ "foo": true }') in events[7].extra


def test_dhcp6_entries_addresses_prefixes_duids() -> None:
    events = _events(_run(_stamped("unittest-entries-dhcp6.txt")))
    assert len(events) == 41
    assert events[0].address == ipaddress.ip_network("2001:db8:1::/128")
    assert events[0].duid == "1734e2ff099254"
    assert events[2].mac == "08:00:2b:02:3f:4e"
    assert ("hwaddr-source", "Raw Socket") in events[2].extra
    assert events[6].device == "fe80::abcd"
    assert events[6].remote_id == "010203040a0b0c0d0e0f"
    assert ("link-address", "3001::1") in events[6].extra
    prefix = events[16]
    assert prefix.address == ipaddress.ip_network("2001:db8:1::/64")
    assert prefix.ends == datetime(2024, 3, 1, 9, 11, 53, tzinfo=UTC)
    assert events[17].kind is EventKind.LEASE_RELEASE


def test_command_entries() -> None:
    items = _run(_stamped("unittest-entries-commands.txt"))
    events = _events(items)
    added = events[2]
    assert added.kind is EventKind.LEASE_ASSIGN
    assert ("actor", "Administrator") in added.extra
    assert added.ends == datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
    assert events[1].client_id == "1234567890"
    assert events[5].address == ipaddress.ip_network("2001:db8:abcd::/48")
    by_device = events[10]
    assert by_device.kind is EventKind.LEASE_RELEASE
    assert by_device.address is None
    assert by_device.mac == "1a:1b:1c:1d:1e:1f"
    assert ("actor", "HA partner") in events[-1].extra


def test_manual_examples_tolerated_renewed_is_a_renew() -> None:
    lines = (FIXTURES / "arm-doc-examples.txt").read_text().splitlines()
    events = _events(_run(lines[:2], zone="Europe/Paris"))
    assert events[0].kind is EventKind.LEASE_RENEW
    assert events[0].at == datetime(2018, 1, 6, 0, 2, 3, tzinfo=UTC)  # CET is UTC+1
    assert events[0].ends == datetime(2018, 1, 6, 1, 54, 18, tzinfo=UTC)
    assert events[0].flags == frozenset()
    pst = _events(_run(lines[6:7], zone="Europe/Paris"))[0]
    assert Flag.CLOCK_DISAGREES in pst.flags  # PST is not a Paris abbreviation
    assert pst.address == ipaddress.ip_network("2001:db8:1::/128")  # `Address:2001` (no space)


def test_fall_back_hour_is_flagged_not_guessed() -> None:
    line = ("2024-11-03 01:30:00 {} Address: 192.0.2.55 has been assigned for 0 hrs 30 mins "
            "0 secs to a device with hardware address: hwtype=1 02:00:00:00:00:55")
    cdt, cst = (_events(_run([line.format(a)], zone="America/Chicago"))[0] for a in ("CDT", "CST"))
    for event in (cdt, cst):
        assert Flag.AMBIGUOUS_LOCAL_TIME in event.flags
        assert event.at == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # earlier reading
    assert ("abbreviation-reading", "2024-11-03T07:30:00+00:00") in cst.extra
    assert Flag.CLOCK_DISAGREES not in cdt.flags


def test_offset_timestamps_and_continuation_lines() -> None:
    lines = ["2024-03-01 10:00:00 -0500 Administrator added a lease of address: 192.0.2.9 to a "
             'device with hardware address: 02:00:00:00:00:09, context: { "note":',
             '- "two lines" }',
             "2024-03-01 10:00:05 -0500 Address: 192.0.2.9 has been released from a device "
             "with hardware address: hwtype=1 02:00:00:00:00:09"]
    added, released = _events(_run(lines))
    assert added.at == datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    assert added.evidence.line == 1
    assert ("context", '{ "note":\n"two lines" }') in added.extra
    assert released.evidence.line == 3
    assert released.kind is EventKind.LEASE_RELEASE


def test_malformed_lines_quarantined_with_line_numbers(tmp_path: Path) -> None:
    lines = ["- orphan continuation",
             "2024-03-01 10:00:00 +0000 Address: 192.0.2.300 has been released from a device "
             "with hardware address: hwtype=1 02:00:00:00:00:01",
             "Mar  1 10:00:00 kea: something else",
             "2024-03-01 10:00:00 +0000 Address: 192.0.2.1 has been assigned for 1 hrs 0 mins "
             "0 secs to a device with hardware address: hwtype=1 02:00:00:00:00:01 trailing"]
    target = tmp_path / "kea-legal.20240301.txt"
    target.write_bytes(gzip.compress("\n".join(lines).encode()))
    items = list(parse(open_text(target), Source(str(target))))
    assert [(i.line, isinstance(i, Quarantined)) for i in items] == [
        (1, True), (2, True), (3, True), (4, True)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([
    "2024-11-03 01:30:00 CST Address: 192.0.2.1 has been released from a device with ",
    "- continued", "2024-03-01 10:00:00 +9999 x", "2024-02-30 10:00:00 UTC y"])), max_size=8))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    for item in _run(lines, zone="America/Chicago"):
        assert isinstance(item, Event | Quarantined)
