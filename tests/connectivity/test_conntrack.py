"""Linux `conntrack -E -o timestamp` events (synthetic fixture following conntrack(8))."""

from __future__ import annotations

import gzip
import ipaddress
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.conntrack import parse

FIXTURE = Path(__file__).parent.parent / "fixtures" / "connectivity" / "synthetic-conntrack.log"
PUBLIC = ipaddress.ip_network("203.0.113.20/32")


def _run(lines: list[str] | None = None) -> list[Event | Quarantined]:
    return list(parse(open_text(FIXTURE) if lines is None else lines,
                      Source("ct.log", "America/Chicago"), device="nat1.example.net"))


def _events(items: list[Event | Quarantined]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def test_fixture_events() -> None:
    items = _run()
    assert [(e.evidence.line, e.kind) for e in _events(items)] == [
        (1, EventKind.NAT_ALLOCATE), (3, EventKind.NAT_ALLOCATE), (4, EventKind.NAT_ALLOCATE),
        (8, EventKind.NAT_RELEASE)]
    assert [(q.line, q.reason) for q in items if isinstance(q, Quarantined)] == [
        (6, "tuple lacks dport"),
        (7, "no [epoch.usec] timestamp before the event (use -o timestamp)"),
    ]


def test_new_tcp_maps_reply_destination() -> None:
    new = _events(_run())[0]
    assert new.at == datetime(2024, 11, 3, 5, 59, 58, 123456, tzinfo=UTC)
    assert new.address == PUBLIC
    assert new.inside_address == ipaddress.ip_network("100.64.2.5/32")
    assert (new.port_first, new.port_last, new.protocol) == (61000, 61000, "tcp")
    assert new.device == "nat1.example.net"
    assert ("inside-port", "40000") in new.extra
    assert ("destination", "198.51.100.80") in new.extra
    assert ("tcp-state", "SYN_SENT") in new.extra
    assert new.flags == frozenset()  # epoch times are exact, even in the fall-back hour


def test_udp_icmp_and_destroy() -> None:
    udp, icmp, destroy = _events(_run())[1:]
    assert (udp.protocol, udp.port_first) == ("udp", 62000)
    assert (icmp.protocol, icmp.port_first, icmp.port_last) == ("icmp", 3001, 3001)
    assert destroy.at == datetime(2024, 11, 3, 6, 1, 0, 250000, tzinfo=UTC)
    assert destroy.inside_address == ipaddress.ip_network("100.64.2.5/32")
    assert destroy.port_first == 61000
    assert ("flag", "ASSURED") in destroy.extra


def test_extended_output_and_untranslated_flows() -> None:
    extended = ("[1700000000.000001]\t[NEW] ipv4     2 udp      17 30 src=10.0.0.5 "
                "dst=192.0.2.53 sport=5000 dport=53 [UNREPLIED] src=192.0.2.53 "
                "dst=198.51.100.3 sport=53 dport=1234 mark=0 zone=0 use=1")
    untranslated = ("[1700000000.000002]\t[DESTROY] tcp      6 src=198.51.100.3 "
                    "dst=192.0.2.1 sport=22 dport=5000 src=192.0.2.1 dst=198.51.100.3 "
                    "sport=5000 dport=22")
    (event,) = _run([extended, untranslated])
    assert isinstance(event, Event)
    assert event.at == datetime(2023, 11, 14, 22, 13, 20, 1, tzinfo=UTC)
    assert event.address == ipaddress.ip_network("198.51.100.3/32")


def test_protocol_number_must_match_name() -> None:
    (q,) = _run(["[1700000000.000001] [NEW] tcp 17 30 src=10.0.0.5 dst=192.0.2.1 sport=1 "
                 "dport=2 src=192.0.2.1 dst=198.51.100.3 sport=2 dport=3"])
    assert isinstance(q, Quarantined)
    assert q.reason == "protocol tcp 17 is not one conntrack prints"


def test_gzip(tmp_path: Path) -> None:
    packed = tmp_path / "ct.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    items = list(parse(open_text(packed), Source(str(packed))))
    assert len(_events(items)) == 4
    assert [q.line for q in items if isinstance(q, Quarantined)] == [6, 7]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([
    "[1.000001] [NEW] tcp 6 1 src=1.2.3.4 dst=1.2.3.4 sport=1 dport=1 src=a dst=b",
    "[99999999999.999999] [DESTROY] icmp 1 src=::1 dst=::2 id=1 src=::2 dst=::3 id=70000",
    "[1.000000] [NEW] sctp 132 src=x", "[NEW] [DESTROY] src=src=src="])), max_size=8))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    for item in _run(lines):
        assert isinstance(item, Event | Quarantined)


def test_summary_and_update_lines_are_skipped() -> None:
    lines = FIXTURE.read_text().splitlines()
    assert _run([lines[1], lines[-1]]) == []  # [UPDATE] and the closing summary


def test_quarantine_keeps_the_raw_line() -> None:
    items = _run()
    bad = next(q for q in items if isinstance(q, Quarantined) and q.line == 7)
    assert bad.text == FIXTURE.read_text().splitlines()[6]
