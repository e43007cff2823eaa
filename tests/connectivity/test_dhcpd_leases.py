"""ISC dhcpd.leases parser: real fixtures (see tests/fixtures/connectivity/SOURCES.md) and
synthetic edge cases with documentation addresses and locally administered MACs."""

from __future__ import annotations

import gzip
import ipaddress
import shutil
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Event, EventKind, Quarantined, Source, open_text
from cpniguard.connectivity.parsers.dhcpd_leases import parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connectivity"


def _run(name: str) -> list[Event | Quarantined]:
    path = FIXTURES / name
    return list(parse(open_text(path), Source(str(path))))


def _events(items: list[Event | Quarantined]) -> list[Event]:
    assert all(isinstance(i, Event) for i in items), items
    return [i for i in items if isinstance(i, Event)]


def _text(text: str) -> list[Event | Quarantined]:
    return list(parse(text.splitlines(keepends=True), Source("synthetic.leases")))


def test_debian7_every_block_in_order_with_octal_uid() -> None:
    events = _events(_run("debian7.leases"))
    assert [e.evidence.line for e in events] == [4, 14, 23, 32, 41, 50]
    first = events[0]
    assert first.kind is EventKind.LEASE_STATE
    assert first.address == ipaddress.ip_network("10.0.0.10/32")
    assert first.starts == datetime(2013, 12, 10, 12, 57, 4, tzinfo=UTC)
    assert first.ends == datetime(2013, 12, 10, 13, 7, 4, tzinfo=UTC)
    assert first.at == first.starts  # cltt
    assert first.mac == "60:a4:4c:b5:6a:dd"
    # "\377\000\000\000\002\000\001\000\001\0321\301\300\000#\213\360F\350"
    assert first.client_id == "ff00000002000100011a31c1c000238bf046e8"
    assert ("binding state", "free") in first.extra
    assert ("set:vendor-class-identifier", "Some Vendor Identifier") in first.extra
    # "\001lq\331!Uq": printable characters mixed with octal escapes
    assert events[4].client_id == "016c71d9215571"
    assert ("next binding state", "free") in events[5].extra


def test_options_relay_agent_and_hostname() -> None:
    (event,) = _events(_run("options.leases"))
    assert event.circuit_id == "000103e9"  # `0:1:3:e9`: dhcpd drops leading zeros
    assert event.remote_id == "a4a24a33dbe5"
    assert ("client-hostname", "KRONOS") in event.extra
    assert ("option:agent.DOCSIS-device-class", "2") in event.extra
    assert ("rewind binding state", "free") in event.extra


def test_epoch_dates_trust_the_number_not_the_comment() -> None:
    events = _events(_run("epoch.leases"))
    assert events[0].starts == datetime(2017, 10, 5, 15, 22, 29, tzinfo=UTC)
    # The comment says "Thu Oct 05"; 1508167349 is 16 Oct 15:22:29 UTC.
    assert events[0].at == datetime(2017, 10, 16, 15, 22, 29, tzinfo=UTC)
    assert events[1].evidence.line == 12
    assert events[1].ends is None


def test_backup_static_and_pfsense_load() -> None:
    assert len(_events(_run("backup.leases"))) == 2
    (static,) = _events(_run("static.leases"))
    assert static.ends is None
    assert ("binding state", "free") in static.extra
    pf = _events(_run("pfsense.leases"))
    assert [str(e.address) for e in pf] == ["10.0.10.72/32", "10.0.0.36/32"]


def test_v6_ia_na_and_prefix_delegation() -> None:
    na, pd = _events(_run("dhcpd6-4.2.4.leases"))  # server-duid skipped knowingly
    assert na.address == ipaddress.ip_network("2001:610:600:891d::60/128")
    assert na.at == datetime(2015, 8, 18, 16, 55, 37, tzinfo=UTC)
    assert na.ends == datetime(2015, 8, 18, 17, 5, 37, tzinfo=UTC)
    assert na.duid == "000100011d661fe20a0027000000"
    assert ("iaid", "346476ea") in na.extra
    assert na.evidence.line == 8
    assert pd.address == ipaddress.ip_network("2001:610:500:fff::/64")
    assert ("ia-type", "ia-pd") in pd.extra


def test_v6_433_nested_on_blocks_and_duid() -> None:
    events = _events(_run("dhcpd6-4.3.3.leases"))
    assert [str(e.address) for e in events] == [
        "2001:10:10::106/128", "2001:10:30:ff00::/56", "2001:10:30::1fe/128",
        "2001:10:10:ff00::/56"]
    assert events[0].duid == "000100011cf710a5002722332b34"
    assert ("set:pdnet", "2001:10:30:ff00:0:0:0:0/56") in events[1].extra
    assert all(not k.startswith("block:") for e in events for k, _ in e.extra)


SYNTHETIC = """\
authoring-byte-order little-endian;
failover peer "pair" {
  my state normal at 1 2024/01/01 00:00:00;
}
lease 192.0.2.10 {
  starts 1 2024/01/01 10:00:00;
  ends never;
  binding state active;
  hardware ethernet 2:0:0:0:0:1;
  uid 1:2:0:0:0:0:1;
  frobnicate 42;
}
lease 192.0.2.10 {
  starts 1 2024/01/01 11:00:00;
  ends 1 2024/01/01 12:00:00;
  binding state free;
}
"""


def test_last_block_wins_is_left_to_the_builder_and_never_ends() -> None:
    first, second = _events(_text(SYNTHETIC))
    assert (first.evidence.line, second.evidence.line) == (5, 13)
    assert first.ends is None
    assert ("ends", "never") in first.extra
    assert first.mac == "02:00:00:00:00:01"
    assert first.client_id == "01020000000001"
    assert ("frobnicate", "42") in first.extra
    assert second.ends == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def test_broken_blocks_quarantined_with_lines() -> None:
    text = ("lease 192.0.2.1 {\n  starts 1 2024/01/01 10:00:00\n}\n"   # missing ';'
            "lease 192.0.2.2 {\n  starts 3 2024/01/01 10:00:00;\n}\n"  # wrong weekday
            "lease 192.0.2.3 {\n  binding state active;\n"            # never closed
            "lease 192.0.2.4 {\n  uid \"\\001;\n}\n"                     # broken string
            "lease 192.0.2.5 {\n  ends 1 2024/01/01 10:00:00;\n}\n"
            "lease 192.0.2.6 {\n")
    items = _text(text)
    quarantined = [(q.line, q.reason) for q in items if isinstance(q, Quarantined)]
    assert [line for line, _ in quarantined] == [1, 4, 7, 10, 15]
    assert "weekday" in quarantined[1][1]
    events = [e for e in items if isinstance(e, Event)]
    assert [str(e.address) for e in events] == ["192.0.2.5/32"]
    assert events[0].evidence.line == 12


def test_gzip_through_open_text(tmp_path: Path) -> None:
    target = tmp_path / "dhcpd.leases.1"  # no .gz suffix: detected by magic bytes
    with (FIXTURES / "pfsense.leases").open("rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    events = _events(list(parse(open_text(target), Source(str(target)))))
    assert [e.evidence.line for e in events] == [4, 15]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(
    ["lease", "ia-na", "iaaddr", " 192.0.2.1", " 2001:db8::1", "{", "}", ";", '"', "\\", "#",
     "\n", "starts", " 1 2024/01/01 10:00:00", "epoch 99999999999999", "never", "uid",
     "hardware ethernet 2:0:0:0:0:1"]), max_size=60).map("".join)))
def test_arbitrary_text_never_raises(text: str) -> None:
    for item in _text(text):
        assert isinstance(item, Event | Quarantined)
