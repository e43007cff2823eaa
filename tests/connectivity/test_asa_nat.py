"""Cisco ASA 305011/305012 translation syslog (synthetic fixture, Cisco message catalogue)."""

from __future__ import annotations

import gzip
import ipaddress
import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Flag, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.asa_nat import parse

FIXTURE = Path(__file__).parent.parent / "fixtures" / "connectivity" / "synthetic-asa-nat.log"


def _run(lines: list[str] | None = None) -> list[Event | Quarantined]:
    return list(parse(open_text(FIXTURE) if lines is None else lines,
                      Source("asa.log", "America/Chicago"), year=2024))


def _events(items: list[Event | Quarantined]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def test_fixture_lines() -> None:
    items = _run()
    assert [e.evidence.line for e in _events(items)] == [1, 3, 4, 5, 8]
    assert [(q.line, q.reason) for q in items if isinstance(q, Quarantined)] == [
        (6, "real address 'printer-3' is a name, not an IP (turn off `names` for logging)"),
        (7, "message 305012 with the wrong wording"),
    ]


def test_built_and_teardown() -> None:
    built, torn = _events(_run())[:2]
    assert built.kind is EventKind.NAT_ALLOCATE
    assert built.at == datetime(2024, 11, 3, 5, 59, 58, tzinfo=UTC)
    assert built.address == ipaddress.ip_network("198.51.100.20/32")
    assert built.inside_address == ipaddress.ip_network("10.1.2.5/32")
    assert (built.port_first, built.port_last, built.protocol) == (40001, 40001, "tcp")
    assert built.device == "fw1.example.net"
    assert ("real-port", "51000") in built.extra
    assert torn.kind is EventKind.NAT_RELEASE
    assert torn.at == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
    assert torn.flags == frozenset({Flag.AMBIGUOUS_LOCAL_TIME})
    assert torn.starts == datetime(2024, 11, 3, 5, 59, 58, tzinfo=UTC)  # at - 0:30:02


def test_acl_user_icmp_and_year_in_header() -> None:
    udp, icmp, static = _events(_run())[2:]
    assert udp.protocol == "udp"
    assert ("acl", "NAT-ACL") in udp.extra
    assert ("idfw-user", "EXAMPLE\\jdoe") in udp.extra
    assert icmp.protocol == "icmp"
    assert icmp.port_first == 21059
    assert static.at == datetime(2024, 11, 3, 8, 14, tzinfo=UTC)
    assert static.device == ""
    assert ("translation-type", "static") in static.extra
    assert ("year-source", "given") not in static.extra


def test_long_duration_and_ipv6_inside() -> None:
    line = ("Jun  1 12:00:00 fw1 %ASA-6-305012: Teardown dynamic UDP translation from "
            "inside:2001:db8::5/5000 to outside:198.51.100.20/40009 duration 26:00:01")
    (event,) = _events(_run([line]))
    assert event.inside_address == ipaddress.ip_network("2001:db8::5/128")
    assert event.starts == datetime(2024, 5, 31, 14, 59, 59, tzinfo=UTC)


def test_other_asa_messages_are_skipped() -> None:
    assert _run(["Jun  1 12:00:00 fw1 %ASA-6-302013: Built outbound TCP connection 1 for x"]) \
        == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([
    "%ASA-6-305011: Built dynamic TCP translation from a:1.2.3.4/1 to b:5.6.7.8/99999",
    "Feb 30 00:00:00 fw %ASA-6-305012: Teardown static ICMP translation from a:1.2.3.4/1 "
    "to b:5.6.7.8/2 duration 1:99:00", "%FTD-6-305011: ", "Jan 01 2024 99:00:00: "
    "%ASA-6-305011: Built dynamic TCP translation from a:1.2.3.4/1 to b:5.6.7.8/2"])),
    max_size=8))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    for item in _run(lines):
        assert isinstance(item, Event | Quarantined)


def test_gzip_and_year_from_mtime(tmp_path: Path) -> None:
    packed = tmp_path / "asa.log.2"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    stamp = datetime(2024, 11, 4, 12, tzinfo=UTC).timestamp()
    os.utime(packed, (stamp, stamp))
    items = list(parse(open_text(packed), Source(str(packed), "America/Chicago")))
    events = _events(items)
    assert [e.at for e in events] == [e.at for e in _events(_run())]
    assert ("year-source", "file-mtime") in events[0].extra
    assert [q.line for q in items if isinstance(q, Quarantined)] == [6, 7]
