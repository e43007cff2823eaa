"""DHCP intervals: lease files through the real parsers, hand-built histories, properties."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Evidence,
    Flag,
    Network,
    Source,
    open_text,
)
from cpniguard.connectivity.intervals import Interval, UnusableEvent
from cpniguard.connectivity.intervals_dhcp import dhcp_intervals, same_client
from cpniguard.connectivity.parsers import dhcpd_leases, kea_lease

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "connectivity"
T0 = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
A = ipaddress.ip_network("192.0.2.10/32")
MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


_line = iter(range(1, 1_000_000))


def lease(kind: EventKind, minutes: float, mac: str = MAC1, *, ends: float | None = None,
          starts: float | None = None, state: str | None = None,
          address: Network = A) -> Event:
    return Event(kind=kind, at=at(minutes), evidence=Evidence("t", next(_line)),
                 address=address, mac=mac, ends=None if ends is None else at(ends),
                 starts=None if starts is None else at(starts),
                 extra=(("binding state", state),) if state else ())


ASSIGN, RENEW = EventKind.LEASE_ASSIGN, EventKind.LEASE_RENEW
RELEASE, EXPIRE, STATE = EventKind.LEASE_RELEASE, EventKind.LEASE_EXPIRE, EventKind.LEASE_STATE


def parsed(module: object, lines: list[str], name: str) -> list[Event]:
    parse = module.parse  # type: ignore[attr-defined]
    return [e for e in parse(lines, Source(name)) if isinstance(e, Event)]


def fixture(module: object, name: str) -> list[Event]:
    return parsed(module, list(open_text(FIXTURES / name)), name)


def build(events: list[Event]) -> list[Interval]:
    return list(dhcp_intervals(events))


# --- fixtures through the parsers ---------------------------------------------------------


def test_dhcpd6_addresses_and_prefixes() -> None:
    got = {str(i.address): i for i in build(fixture(dhcpd_leases, "dhcpd6-4.3.3.leases"))}
    assert set(got) == {"2001:10:10::106/128", "2001:10:10:ff00::/56", "2001:10:30::1fe/128",
                        "2001:10:30:ff00::/56"}
    na = got["2001:10:10::106/128"]
    assert (na.start, na.end) == (utc(2016, 1, 6, 14, 50, 34), utc(2016, 1, 6, 15, 4, 58))
    assert na.duid == "000100011cf710a5002722332b34"
    assert na.flags == frozenset()
    assert [e.line for e in na.evidence] == [8]
    # The same client holds an address and a delegated prefix: identified by the same DUID.
    assert got["2001:10:10:ff00::/56"].duid == na.duid


def test_dhcpd4_free_blocks_are_finished_leases_and_abandoned_is_reported() -> None:
    skipped: list[tuple[Event, str]] = []
    got = list(dhcp_intervals(fixture(dhcpd_leases, "debian7.leases"), skipped=skipped))
    first = next(i for i in got if str(i.address) == "10.0.0.10/32")
    assert (first.start, first.end) == (utc(2013, 12, 10, 12, 57, 4), utc(2013, 12, 10, 13, 7, 4))
    assert first.mac == "60:a4:4c:b5:6a:dd"
    assert len(got) == 5
    assert [(e.evidence.line, str(e.address)) for e, _ in skipped] == [(50, "10.0.0.17/32")]


def test_backup_blocks_name_no_holder() -> None:
    skipped: list[tuple[Event, str]] = []
    assert list(dhcp_intervals(fixture(dhcpd_leases, "backup.leases"), skipped=skipped)) == []
    assert len(skipped) == 2


def test_kea_memfile_rows() -> None:
    skipped: list[tuple[Event, str]] = []
    got = list(dhcp_intervals(fixture(kea_lease, "lease4_dump_test.reference.csv"),
                              skipped=skipped))
    # Row 0.0.0.11 was declined (the client found it in use), 0.0.0.12 names no client.
    assert [str(i.address) for i in got] == ["0.0.0.10/32"]
    assert (got[0].start, got[0].end) == (utc(2022, 1, 12, 15, 6, 0), utc(2022, 1, 12, 15, 6, 40))
    assert sorted(str(e.address) for e, _ in skipped) == ["0.0.0.11/32", "0.0.0.12/32"]


LEASES = """\
lease 192.0.2.10 {
  starts 1 2024/03/04 12:00:00;
  ends 1 2024/03/04 13:00:00;
  cltt 1 2024/03/04 12:00:00;
  binding state active;
  hardware ethernet 02:00:00:00:00:01;
}
lease 192.0.2.10 {
  starts 1 2024/03/04 12:30:00;
  ends 1 2024/03/04 13:30:00;
  cltt 1 2024/03/04 12:30:00;
  binding state active;
  hardware ethernet 02:00:00:00:00:01;
}
lease 192.0.2.10 {
  starts 1 2024/03/04 12:30:00;
  ends 1 2024/03/04 12:45:00;
  tstp 1 2024/03/04 12:45:00;
  cltt 1 2024/03/04 12:45:00;
  binding state free;
  hardware ethernet 02:00:00:00:00:01;
}
lease 192.0.2.10 {
  starts 1 2024/03/04 14:00:00;
  ends 1 2024/03/04 15:00:00;
  cltt 1 2024/03/04 14:00:00;
  binding state active;
  hardware ethernet 02:00:00:00:00:02;
}
"""


def test_dhcpd_later_blocks_win() -> None:
    first, second = build(parsed(dhcpd_leases, LEASES.splitlines(), "dhcpd.leases"))
    # The renewal extended the lease, the free block then ended it at its recorded time.
    assert (first.mac, first.start, first.end) == (MAC1, at(0), at(45))
    assert [e.line for e in first.evidence] == [1, 8, 15]
    assert (second.mac, second.start, second.end) == (MAC2, at(120), at(180))
    assert not (first.flags | second.flags)


# --- hand-built histories -----------------------------------------------------------------


def test_renew_extends_and_release_closes() -> None:
    [one] = build([lease(ASSIGN, 0, ends=60), lease(RENEW, 30, ends=90), lease(RELEASE, 50)])
    assert (one.start, one.end, len(one.evidence)) == (at(0), at(50), 3)


def test_new_client_after_expiry_is_disjoint() -> None:
    first, second = build([lease(ASSIGN, 0, ends=60), lease(ASSIGN, 70, MAC2, ends=130)])
    assert first.end == at(60)
    assert second.start == at(70)
    assert Flag.OVERLAP not in first.flags | second.flags


def test_new_client_inside_old_lease_is_flagged_not_trimmed() -> None:
    first, second = build([lease(ASSIGN, 0, ends=60), lease(ASSIGN, 30, MAC2, ends=90)])
    assert (first.end, second.start) == (at(60), at(30))  # kept as recorded
    assert Flag.OVERLAP in first.flags
    assert Flag.OVERLAP in second.flags


def test_infinite_lease_has_no_end() -> None:
    first, second = build([lease(ASSIGN, 0), lease(ASSIGN, 300, MAC2, ends=400)])
    assert first.end is None
    assert Flag.NO_STOP in first.flags
    assert Flag.OVERLAP in first.flags
    assert Flag.OVERLAP in second.flags


def test_same_client_after_a_gap_is_a_new_interval() -> None:
    first, second = build([lease(ASSIGN, 0, ends=60), lease(ASSIGN, 90, ends=150)])
    assert (first.end, second.start) == (at(60), at(90))


def test_release_without_assignment_is_an_empty_marked_interval() -> None:
    [one] = build([lease(RELEASE, 10)])
    assert one.start == one.end == at(10)
    assert Flag.NO_START in one.flags


def test_unusable_dhcp_events_are_reported() -> None:
    anonymous_release = lease(RELEASE, 10, mac="")
    with pytest.raises(UnusableEvent):
        build([anonymous_release])
    skipped: list[tuple[Event, str]] = []
    backwards = lease(ASSIGN, 10, ends=5)
    assert list(dhcp_intervals([backwards], skipped=skipped)) == []
    assert skipped == [(backwards, "lease record ends before it starts")]


def test_same_client_needs_a_shared_identifier_and_no_conflict() -> None:
    a = lease(ASSIGN, 0)
    assert same_client(a, lease(ASSIGN, 0))
    assert not same_client(a, lease(ASSIGN, 0, MAC2))
    assert not same_client(a, Event(kind=ASSIGN, at=T0, evidence=Evidence("t", 1),
                                    client_id="01020000000001"))


# --- properties ---------------------------------------------------------------------------

_dhcp_record = st.tuples(
    st.sampled_from([ASSIGN, RENEW, RELEASE, EXPIRE, STATE]), st.integers(0, 500),
    st.sampled_from([MAC1, MAC2, ""]), st.one_of(st.none(), st.integers(-60, 300)),
    st.sampled_from([None, "active", "free", "released", "abandoned"]),
    st.sampled_from([A, ipaddress.ip_network("192.0.2.11/32")]))


@given(st.lists(_dhcp_record, max_size=30))
@settings(max_examples=300, deadline=None)
def test_dhcp_no_silent_overlap(records: list[tuple[EventKind, int, str, int | None,
                                                    str | None, Network]]) -> None:
    events = [lease(kind, m, mac, ends=None if length is None else m + length,
                    starts=m if kind == STATE else None,
                    state=state if kind == STATE else None, address=address)
              for kind, m, mac, length, state, address in records]
    skipped: list[tuple[Event, str]] = []
    got = list(dhcp_intervals(events, skipped=skipped))
    used = {e for i in got for e in i.evidence} | {e.evidence for e, _ in skipped}
    assert used == {e.evidence for e in events}  # every record accounted for
    for i in got:
        assert i.evidence
        assert i.end is None or i.start <= i.end
    for x in got:
        for y in got:
            if x is y or x.address != y.address or same_client(x, y):
                continue
            x_end = x.end or datetime.max.replace(tzinfo=UTC)
            y_end = y.end or datetime.max.replace(tzinfo=UTC)
            nonempty = x.start < x_end and y.start < y_end
            if nonempty and x.start < y_end and y.start < x_end:
                assert Flag.OVERLAP in x.flags
                assert Flag.OVERLAP in y.flags
