"""Each IP-attribution pitfall of the legal requirements (§4), end to end: real log text
through the real parsers and ingest, asked through the gated service as staff would ask.

A wrong answer here can send police to an innocent person's door, so every test checks
the failure mode too: what the engine must NOT say.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cpniguard.access import Actor
from cpniguard.connectivity.answers import Ask, answer_one
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.question import Usage
from cpniguard.connectivity.store import EmbeddedLogStore
from tests.connectivity.test_continuity import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedLogStore:
    return EmbeddedLogStore(tmp_path / "store")


@pytest.fixture
def asker(store: EmbeddedLogStore, actor_for: Callable[[str], Actor]
          ) -> Callable[..., dict[str, Any]]:
    def ask(target: str, at: str, skew: float = 2.0) -> dict[str, Any]:
        return answer_one(actor_for("noc"), Ask(target, at), purpose="troubleshooting",
                          reference="TKT-20001", skew_seconds=skew, store=store)
    return ask


def ingest(store: EmbeddedLogStore, tmp_path: Path, name: str, text: str, fmt: str,
           zone: str = "UTC", **options: Any) -> None:
    path = tmp_path / name
    path.write_text(text)
    ingest_file(path, fmt, zone, store.root, **options)


def holders(answer: dict[str, Any]) -> list[str]:
    return [c["holder"].get("username") or c["holder"].get("mac", "")
            for c in answer["candidates"]]


def test_time_zones_one_instant_however_written(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    ingest(store, tmp_path, "d", record(datetime(2017, 3, 29, 20, 0, tzinfo=UTC), "Start",
                                        "alice", "S1", "198.51.100.9")
           + record(datetime(2017, 3, 29, 22, 0, tzinfo=UTC), "Stop", "alice", "S1",
                    "198.51.100.9"), "radius-detail")
    spellings = ["2017-03-29T14:05:03-07:00", "2017-03-29 14:05:03 America/Los_Angeles",
                 "2017-03-29T21:05:03Z", "2017-03-29T17:05:03-04:00"]
    answers = [asker("198.51.100.9", text) for text in spellings]
    assert {a["at"] for a in answers} == {"2017-03-29T21:05:03+00:00"}  # echoed in UTC
    assert {a["status"] for a in answers} == {"match"}
    # The same wall time read as UTC would be seven hours off: a different answer.
    assert asker("198.51.100.9", "2017-03-29T14:05:03+00:00")["status"] == "no_match"
    with pytest.raises(Usage, match="no offset or zone"):
        asker("198.51.100.9", "2017-03-29T14:05:03")


@pytest.mark.parametrize("text", ["2017-03-29 2:05:03 PM America/Los_Angeles",
                                  "2017-03-29 02:05:03PM -07:00", "03/29/2017 14:05:03 -07:00",
                                  "2017-03-29 2:05 pm UTC"])
def test_twelve_hour_and_locale_times_are_refused(
        asker: Callable[..., dict[str, Any]], text: str) -> None:
    with pytest.raises(Usage, match=r"24-hour ISO 8601|cannot read the instant"):
        asker("198.51.100.9", text)


def test_dst_repeated_hour_is_never_guessed(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    # A detail file without Timestamp attributes: only the local header time, in the hour
    # US Central time repeats on 2024-11-03 (01:00-02:00 happens twice).
    text = ("Sun Nov  3 01:30:00 2024\n\tAcct-Session-Id = \"S9\"\n\tAcct-Status-Type = Start\n"
            "\tUser-Name = \"dora\"\n\tNAS-IP-Address = 192.0.2.1\n"
            "\tFramed-IP-Address = 198.51.100.50\n\n"
            "Sun Nov  3 04:00:00 2024\n\tAcct-Session-Id = \"S9\"\n\tAcct-Status-Type = Stop\n"
            "\tUser-Name = \"dora\"\n\tNAS-IP-Address = 192.0.2.1\n"
            "\tFramed-IP-Address = 198.51.100.50\n\n")
    ingest(store, tmp_path, "detail-dst", text, "radius-detail", zone="America/Chicago")
    answer = asker("198.51.100.50", "2024-11-03T08:00:00Z")
    assert answer["status"] == "ambiguous"
    assert "ambiguous-local-time" in answer["reason"]
    with pytest.raises(Usage, match="ambiguous-local-time"):
        asker("198.51.100.50", "2024-11-03 01:30:00 America/Chicago")


def test_lease_handover_within_skew_names_both_sides(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    leases = ("lease 203.0.113.20 {\n  starts 1 2024/03/04 10:00:00;\n"
              "  ends 1 2024/03/04 11:00:00;\n  binding state free;\n"
              "  hardware ethernet 02:00:00:00:00:01;\n}\n"
              "lease 203.0.113.20 {\n  starts 1 2024/03/04 11:00:01;\n"
              "  ends 1 2024/03/04 12:00:00;\n  binding state active;\n"
              "  hardware ethernet 02:00:00:00:00:02;\n}\n")
    ingest(store, tmp_path, "dhcpd.leases", leases, "dhcpd-leases")
    boundary = asker("203.0.113.20", "2024-03-04T11:00:00Z")
    assert boundary["status"] == "ambiguous"
    assert sorted(holders(boundary)) == ["02:00:00:00:00:01", "02:00:00:00:00:02"]
    assert boundary["subscriber"] is None
    after = asker("203.0.113.20", "2024-03-04T11:30:00Z")
    assert (after["status"], holders(after)) == ("match", ["02:00:00:00:00:02"])


def test_lost_radius_stop_is_closed_by_accounting_on_not_invented(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    start = record(datetime(2024, 3, 4, 10, tzinfo=UTC), "Start", "erin", "S5", "198.51.100.60")
    interim = record(datetime(2024, 3, 4, 11, tzinfo=UTC), "Interim-Update", "erin", "S5",
                     "198.51.100.60")
    nas_on = ("Mon Mar  4 13:00:00 2024\n\tAcct-Status-Type = Accounting-On\n"
              "\tNAS-IP-Address = 192.0.2.1\n\tTimestamp = 1709557200\n\n")
    ingest(store, tmp_path, "detail", start + interim + nas_on, "radius-detail")
    assert asker("198.51.100.60", "2024-03-04T10:30:00Z")["status"] == "match"
    # After the last interim and before the NAS came back, the session was closed by the
    # restart: held until then, flagged, never extended past it.
    between = asker("198.51.100.60", "2024-03-04T12:00:00Z")
    assert "closed-by-nas-restart" in between["candidates"][0]["interval"]["flags"]
    assert asker("198.51.100.60", "2024-03-04T13:30:00Z")["status"] == "no_match"


def test_session_with_no_stop_at_all_is_not_extended(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    ingest(store, tmp_path, "detail", record(datetime(2024, 3, 4, 10, tzinfo=UTC), "Start",
                                             "finn", "S6", "198.51.100.61"), "radius-detail")
    later = asker("198.51.100.61", "2024-03-04T18:00:00Z")
    assert later["status"] == "ambiguous"
    assert "last seen alive" in later["reason"]


def test_cgnat_without_port_names_nobody_and_with_port_names_one(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    nat = ("Mar  4 10:00:00 cgn1.example.net (FPC Slot 2, PIC Slot 0) {sset2}[FWNAT]: "
           "JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.5 -> 192.0.2.70:2048-2303 0x65e59ba0\n"
           "Mar  4 10:00:00 cgn1.example.net (FPC Slot 2, PIC Slot 0) {sset2}[FWNAT]: "
           "JSERVICES_NAT_PORT_BLOCK_ALLOC: 100.64.0.6 -> 192.0.2.70:2304-2559 0x65e59ba0\n"
           "Mar  4 12:00:00 cgn1.example.net (FPC Slot 2, PIC Slot 0) {sset2}[FWNAT]: "
           "JSERVICES_NAT_PORT_BLOCK_RELEASE: 100.64.0.6 -> 192.0.2.70:2304-2559 0x65e59ba0\n")
    ingest(store, tmp_path, "messages", nat, "juniper-nat", year=2024)
    ingest(store, tmp_path, "detail", record(datetime(2024, 3, 4, 9, tzinfo=UTC), "Start",
                                             "gail", "S7", "100.64.0.6")
           + record(datetime(2024, 3, 4, 12, tzinfo=UTC), "Stop", "gail", "S7", "100.64.0.6"),
           "radius-detail")
    blind = asker("192.0.2.70", "2024-03-04T10:30:00Z")
    assert (blind["status"], blind["candidates"], blind["subscriber"]) == (
        "port_required", [], None)
    seen = asker("192.0.2.70:2400", "2024-03-04T10:30:00Z")
    assert seen["inside_address"] == "100.64.0.6", seen["reason"]
    assert holders(seen) == ["gail"]


def test_ipv6_privacy_address_is_attributed_to_its_delegated_prefix(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    text = ("Mon Mar  4 10:00:00 2024\n\tAcct-Session-Id = \"S8\"\n"
            "\tAcct-Status-Type = Start\n\tUser-Name = \"hana\"\n"
            "\tNAS-IP-Address = 192.0.2.1\n\tFramed-IP-Address = 198.51.100.70\n"
            "\tDelegated-IPv6-Prefix = 2001:db8:4400::/56\n\tTimestamp = 1709546400\n\n"
            "Mon Mar  4 12:00:00 2024\n\tAcct-Session-Id = \"S8\"\n"
            "\tAcct-Status-Type = Stop\n\tUser-Name = \"hana\"\n"
            "\tNAS-IP-Address = 192.0.2.1\n\tFramed-IP-Address = 198.51.100.70\n"
            "\tDelegated-IPv6-Prefix = 2001:db8:4400::/56\n\tTimestamp = 1709553600\n\n")
    ingest(store, tmp_path, "detail", text, "radius-detail")
    answer = asker("2001:db8:4400:12:a1b2:c3ff:fed4:e5f6", "2024-03-04T11:00:00Z")
    assert answer["status"] == "match"
    [candidate] = answer["candidates"]
    assert candidate["via_prefix"] == "2001:db8:4400::/56"  # and it says so
    assert holders(answer) == ["hana"]


def test_clock_skew_widens_the_window_and_shows_the_handover(
        store: EmbeddedLogStore, tmp_path: Path, asker: Callable[..., dict[str, Any]]) -> None:
    first = record(datetime(2024, 3, 4, 10, tzinfo=UTC), "Start", "ivan", "A", "198.51.100.80")
    stop = record(datetime(2024, 3, 4, 11, tzinfo=UTC), "Stop", "ivan", "A", "198.51.100.80")
    second = record(datetime(2024, 3, 4, 11, 0, 20, tzinfo=UTC), "Start", "jill", "B",
                    "198.51.100.80")
    ingest(store, tmp_path, "detail", first + stop + second, "radius-detail")
    at = "2024-03-04T11:00:10Z"
    assert holders(asker("198.51.100.80", at, skew=2)) == []  # nobody held it in between
    wide = asker("198.51.100.80", at, skew=30)
    assert wide["status"] == "ambiguous"
    assert sorted(holders(wide)) == ["ivan", "jill"]
