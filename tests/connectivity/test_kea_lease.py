"""Kea memfile lease CSV parser: the Kea dump reference files plus synthetic rows."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.kea_lease import parse, parse_v4, parse_v6

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connectivity"
V4 = ("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,"
      "state,user_context,pool_id\n")


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_v4_reference_file() -> None:
    path = FIXTURES / "lease4_dump_test.reference.csv"
    items = list(parse(open_text(path), Source(str(path))))
    assert all(isinstance(i, Event) for i in items)
    one, two, three = (i for i in items if isinstance(i, Event))
    assert one.kind is EventKind.LEASE_STATE
    assert one.evidence.line == 2
    assert one.address == ipaddress.ip_network("0.0.0.10/32")
    assert one.ends == datetime.fromtimestamp(1642000000, UTC)
    assert one.starts == one.at == datetime.fromtimestamp(1642000000 - 40, UTC)
    assert one.client_id == "3330"
    assert one.mac == ""
    assert ("hwaddr", "3230") in one.extra
    assert two.kind is EventKind.LEASE_EXPIRE
    assert ("state-name", "declined") in two.extra
    assert three.kind is EventKind.LEASE_EXPIRE
    assert ("hostname", "three,example,com") in three.extra  # &#x2c unescaped
    assert ("user_context", '{ "a": 1, "b": "c" }') in three.extra


def test_v6_reference_file() -> None:
    path = FIXTURES / "lease6_dump_test.reference.csv"
    events = [i for i in parse_v6(open_text(path), Source(str(path))) if isinstance(i, Event)]
    assert [str(e.address) for e in events] == ["::10/128", "::11/128", "::12/128", "::13/128"]
    assert events[0].duid == "323033"
    assert ("iaid", "60") in events[0].extra
    assert events[3].evidence.line == 5
    assert ("hostname", "no.hwaddr.only.duid") in events[3].extra


def test_prefix_delegation_delete_release_and_column_order() -> None:
    text = ("duid,address,expire,valid_lifetime,subnet_id,lease_type,iaid,prefix_len,hwaddr,"
            "state\n"
            "00:01:00:01:aa:bb,2001:db8:100::,1700003600,3600,1,2,7,56,02:00:00:00:00:02,0\n"
            "00:01:00:01:aa:bb,2001:db8:100::,1700003700,0,1,2,7,56,,0\n"
            "00:01:00:01:aa:bb,2001:db8::5,1700003600,3600,1,0,7,128,,3\n")
    pd, gone, released = (i for i in parse(_lines(text), Source("leases6.csv")))
    assert isinstance(pd, Event)
    assert isinstance(gone, Event)
    assert isinstance(released, Event)
    assert pd.address == ipaddress.ip_network("2001:db8:100::/56")
    assert pd.mac == "02:00:00:00:00:02"
    assert pd.duid == "00010001aabb"
    assert pd.starts == datetime.fromtimestamp(1700000000, UTC)
    assert gone.kind is EventKind.LEASE_RELEASE
    assert gone.at == datetime.fromtimestamp(1700003700, UTC)
    assert gone.evidence.line == 3
    assert released.kind is EventKind.LEASE_RELEASE
    assert ("state-name", "released") in released.extra


def test_older_header_without_state() -> None:
    text = ("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n"
            "192.0.2.7,02:00:00:00:00:07,,600,1700000600,1,0,0,host&#x2cexample.net\n")
    (event,) = parse_v4(_lines(text), Source("old.csv"))
    assert isinstance(event, Event)
    assert event.kind is EventKind.LEASE_STATE
    assert ("hostname", "host,example.net") in event.extra


def test_bad_rows_quarantined_with_physical_line() -> None:
    text = (V4 + "192.0.2.1,02:00:00:00:00:01,,600,1700000600,1,0,0,,0,,0\n\n"
            "192.0.2.2,02:00:00:00:00:01,,600\n"                          # short row
            "192.0.2.999,02:00:00:00:00:01,,600,1700000600,1,0,0,,0,,0\n"  # bad address
            "192.0.2.3,02:00:00:00:00:01,,600,1700000600,1,0,0,,9,,0\n")  # unknown state
    items = list(parse(_lines(text), Source("bad.csv")))
    assert isinstance(items[0], Event)
    assert [q.line for q in items if isinstance(q, Quarantined)] == [4, 5, 6]
    v6_only = list(parse_v6(_lines(text), Source("bad.csv")))
    assert all(isinstance(q, Quarantined) for q in v6_only)


def test_gzip_through_open_text(tmp_path: Path) -> None:
    import gzip
    target = tmp_path / "kea-leases4.csv.2"
    target.write_bytes(gzip.compress((FIXTURES / "lease4_dump_test.reference.csv").read_bytes()))
    assert sum(isinstance(i, Event) for i in parse(open_text(target), Source(str(target)))) == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=10))
def test_arbitrary_text_never_raises(rows: list[str]) -> None:
    for item in parse([V4, *rows], Source("fuzz.csv")):
        assert isinstance(item, Event | Quarantined)
