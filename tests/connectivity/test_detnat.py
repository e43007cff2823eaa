"""Deterministic NAT (RFC 7422) configurations: expansion and the arithmetic both ways."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.detnat import DetNat, config, parse
from cpniguard.connectivity.parsers.freeradius_common import BadValue

FIXTURE = Path(__file__).parent.parent / "fixtures" / "connectivity" / "synthetic-detnat.toml"
V4 = ipaddress.IPv4Address
BASE = {"inside": "100.64.8.0/24", "outside": "203.0.113.32/30", "first_port": 1024,
        "ports_per_subscriber": 1008, "valid_from": datetime(2024, 1, 1, tzinfo=UTC)}


def _run(lines: list[str] | None = None) -> list[Event | Quarantined]:
    return list(parse(open_text(FIXTURE) if lines is None else lines, Source("detnat.toml")))


def test_fixture_expands_per_inside_address() -> None:
    items = _run()
    events = [i for i in items if isinstance(i, Event)]
    assert len(events) == 512
    assert {e.kind for e in events} == {EventKind.NAT_MAPPING}
    (bad,) = [i for i in items if isinstance(i, Quarantined)]
    assert (bad.line, bad.reason) == (22, "valid_from must be a date-time with an offset")
    assert bad.text.startswith("[[mapping]]\ndevice =")
    first = events[5]
    assert first.evidence.line == 3
    assert first.inside_address == ipaddress.ip_network("100.64.8.5/32")
    assert first.address == ipaddress.ip_network("203.0.113.32/32")
    assert (first.port_first, first.port_last) == (6064, 7071)
    assert first.starts == first.at == datetime(2024, 1, 1, 6, tzinfo=UTC)
    assert first.ends == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
    assert first.device == "cgn3.example.net"
    later = events[256 + 17]
    assert later.evidence.line == 12
    assert later.inside_address == ipaddress.ip_network("100.64.8.17/32")
    assert later.address == ipaddress.ip_network("203.0.113.49/32")  # 17 // 16 blocks
    assert (later.port_first, later.port_last) == (1024 + 4032, 1024 + 2 * 4032 - 1)
    assert later.ends is None


def test_known_values_both_ways() -> None:
    rule = config(dict(BASE))
    assert rule.blocks_per_address == 64
    assert rule.outside_for(V4("100.64.8.64")) == (V4("203.0.113.33"), 1024, 2031)
    assert rule.outside_for(V4("100.64.8.255")) == (V4("203.0.113.35"), 64528, 65535)
    assert rule.inside_for(V4("203.0.113.35"), 65535) == V4("100.64.8.255")
    assert rule.inside_for(V4("203.0.113.33"), 2031) == V4("100.64.8.64")
    assert rule.outside_for(V4("100.64.9.0")) is None
    assert rule.outside_for(ipaddress.IPv6Address("::1")) is None
    assert rule.inside_for(V4("203.0.113.36"), 2000) is None
    assert rule.inside_for(V4("203.0.113.32"), 1023) is None


def test_expansion_is_lazy() -> None:
    huge = ["[[mapping]]", 'inside = "10.0.0.0/16"', 'outside = "198.51.100.0/24"',
            "first_port = 1024", "ports_per_subscriber = 252",
            "valid_from = 2024-01-01T00:00:00Z"]
    head = list(islice(parse(huge, Source("big.toml")), 3))  # 65536 mappings, 3 made
    assert [i.inside_address for i in head if isinstance(i, Event)] == [
        ipaddress.ip_network(f"10.0.0.{n}/32") for n in range(3)]


@pytest.mark.parametrize(("change", "reason"), [
    ({"outside": "203.0.113.32/31"}, "256 inside addresses need more blocks than the 128"),
    ({"ports_per_subscriber": 0}, "ports_per_subscriber does not fit"),
    ({"inside": "100.64.8.1/24"}, "inside: 100.64.8.1/24 has host bits set"),
    ({"outside": "2001:db8::/126"}, "outside must be IPv4"),
    ({"valid_until": datetime(2023, 1, 1, tzinfo=UTC)}, "valid_until is not after"),
    ({"colour": "red"}, "unknown keys: colour"),
    ({"protocol": "gre"}, "device must be a string"),
])
def test_invalid_configs(change: dict[str, object], reason: str) -> None:
    with pytest.raises(BadValue, match=reason):
        config({**BASE, **change})


def test_not_toml_is_quarantined_at_its_line() -> None:
    (q,) = _run(["[[mapping]]", 'inside = "10.0.0.0/30"', "outside = ", "first_port = 1"])
    assert isinstance(q, Quarantined)
    assert q.line == 3
    assert q.reason.startswith("not TOML")


def test_ranges_let_boundaries_be_skipped() -> None:
    rule = config({**BASE, "inside": "100.64.8.1-100.64.8.254"})
    assert rule.inside_count == 254
    assert rule.outside_for(V4("100.64.8.1")) == (V4("203.0.113.32"), 1024, 2031)
    assert rule.outside_for(V4("100.64.8.0")) is None


@st.composite
def rules(draw: st.DrawFn) -> DetNat:
    block = draw(st.integers(1, 4096))
    first = draw(st.integers(0, 65535 - block + 1))
    last = draw(st.integers(first + block - 1, 65535))
    per = (last - first + 1) // block
    n_out = draw(st.integers(1, 64))
    n_in = draw(st.integers(1, min(n_out * per, 1 << 20)))
    inside = V4(draw(st.integers(0, (1 << 32) - n_in)))
    outside = V4(draw(st.integers(0, (1 << 32) - n_out)))
    return DetNat(inside, n_in, outside, n_out, first, last, block,
                  datetime(2024, 1, 1, tzinfo=UTC))


@settings(max_examples=300, deadline=None)
@given(rules(), st.data())
def test_round_trip_inside_to_outside_and_back(rule: DetNat, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, rule.inside_count - 1))
    inside = rule.inside_first + index
    found = rule.outside_for(inside)
    assert found is not None
    public, lo, hi = found
    assert hi - lo + 1 == rule.block
    assert rule.first_port <= lo <= hi <= rule.last_port
    port = data.draw(st.integers(lo, hi))
    assert rule.inside_for(public, port) == inside


@settings(max_examples=300, deadline=None)
@given(rules(), st.data())
def test_round_trip_outside_to_inside_and_back(rule: DetNat, data: st.DataObject) -> None:
    public = rule.outside_first + data.draw(st.integers(0, rule.outside_count - 1))
    port = data.draw(st.integers(0, 65535))
    inside = rule.inside_for(public, port)
    if inside is None:
        return
    found = rule.outside_for(inside)
    assert found is not None
    assert found[0] == public
    assert found[1] <= port <= found[2]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.sampled_from([
    "[[mapping]]", 'inside = "10.0.0.0/30"', 'outside = "192.0.2.1/32"', "first_port = 1024",
    "ports_per_subscriber = 99999", "valid_from = 2024-01-01T00:00:00Z", "[other]",
    'inside = "10.0.0.9-10.0.0.1"', "valid_until = 2020-01-01"])), max_size=10))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    for item in islice(parse(lines, Source("x.toml")), 2000):
        assert isinstance(item, Event | Quarantined)
