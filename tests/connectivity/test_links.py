"""Identity links: dated, normalised, never chosen between; answers masked per purpose."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.access import AccessRefused, Actor
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.answers import Ask, answer_batch, answer_one
from cpniguard.connectivity.links import BadLink, normalize
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.question import Usage
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.subscribers.models import Subscriber
from tests.connectivity.test_attribution import AT, T0, row
from tests.connectivity.test_attribution import as_role as as_role  # the fixture

AT_TEXT = "2017-03-29T14:05:03-07:00"  # == AT
HOUR = timedelta(hours=1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedLogStore:
    return EmbeddedLogStore(tmp_path / "logstore")


def other_subscriber() -> Subscriber:
    return Subscriber.objects.create(account_number="A1000002", first_name="Rafael",
                                     last_name="Okafor", service_started=dt.date(2016, 1, 5))


def link(subscriber: Subscriber, kind: str, value: str, start: datetime = T0 - 100 * HOUR,
         end: datetime | None = None) -> IdentityLink:
    return IdentityLink.objects.create(subscriber=subscriber, kind=kind,
                                       value=normalize(kind, value), valid_from=start,
                                       valid_to=end)


def noc(actor_for: Callable[[str], Actor], store: EmbeddedLogStore, target: str,
        at: str = AT_TEXT) -> dict[str, object]:
    return answer_one(actor_for("noc"), Ask(target, at), purpose="troubleshooting",
                      reference="TKT-10001", store=store)


def test_normalize_spellings() -> None:
    assert normalize("mac", "AA-BB-CC-DD-EE-0F") == "aa:bb:cc:dd:ee:0f"
    assert normalize("mac", "aabb.ccdd.ee0f") == "aa:bb:cc:dd:ee:0f"
    assert normalize("client_id", "01:AA:bb:CC:dd:EE:ff") == "01aabbccddeeff"
    assert normalize("static_ip", "192.0.2.7") == "192.0.2.7/32"
    assert normalize("username", "  alice@example.net ") == "alice@example.net"
    for kind, value in [("mac", "aabbccddeeff"), ("static_ip", "192.0.2.7/24"),
                        ("duid", "zz"), ("colour", "red"), ("username", "  ")]:
        with pytest.raises(BadLink):
            normalize(kind, value)


def test_match_names_the_linked_subscriber_masked_for_noc(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + HOUR, username="alice@example.net",
                             mac="aa:bb:cc:dd:ee:0f")])
    link(subscriber, "username", "alice@example.net")
    answer = noc(actor_for, store, "192.0.2.10")
    assert answer["status"] == "match"
    assert answer["at"] == "2017-03-29T21:05:03+00:00"
    person = answer["subscriber"]
    assert isinstance(person, dict)
    # NOC troubleshooting may see the account and the town, not the name.
    assert (person["id"], person["account_number"], person["name"]) == (
        subscriber.pk, "A1000001", None)
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert entry.subject == f"attribution:match subscriber:{subscriber.pk}"
    assert "name" not in entry.categories
    assert "connectivity_logs" in entry.categories


def test_custodian_sees_the_name(store: EmbeddedLogStore, subscriber: Subscriber,
                                 actor_for: Callable[[str], Actor]) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + HOUR, username="alice@example.net")])
    link(subscriber, "username", "alice@example.net")
    answer = answer_one(actor_for("custodian"), Ask("192.0.2.10", AT_TEXT),
                        purpose="legal_process", reference="LR-2026-0042", store=store)
    assert answer["subscriber"]["name"] == "Dana Whitfield"  # type: ignore[index]


def test_link_outside_its_validity_names_nobody(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + HOUR, mac="aa:bb:cc:dd:ee:0f")])
    link(subscriber, "mac", "AA:BB:CC:DD:EE:0F", end=AT)  # returned the router at AT exactly
    answer = noc(actor_for, store, "192.0.2.10")
    assert answer["status"] == "match"
    assert answer["subscriber"] is None
    assert "no subscriber is linked" in str(answer["reason"])


def test_identity_linked_to_two_subscribers_is_ambiguous(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + HOUR, username="u1",
                             mac="aa:bb:cc:dd:ee:0f")])
    link(subscriber, "username", "u1")
    link(other_subscriber(), "mac", "aa:bb:cc:dd:ee:0f")  # records disagree: never pick one
    answer = noc(actor_for, store, "192.0.2.10")
    assert answer["status"] == "ambiguous"
    assert answer["subscriber"] is None
    [candidate] = answer["candidates"]  # type: ignore[misc]
    assert {s["subscriber"]["account_number"] for s in candidate["subscribers"]} == {
        "A1000001", "A1000002"}


def test_static_assignment_answers_when_no_log_does(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    link(subscriber, "static_ip", "198.51.100.0/29")
    answer = noc(actor_for, store, "198.51.100.5")
    assert answer["status"] == "match"
    assert "statically" in str(answer["reason"])
    assert answer["subscriber"]["account_number"] == "A1000001"  # type: ignore[index]
    # A log naming somebody else for the same address makes it ambiguous.
    store.add("radius", [row("198.51.100.5/32", T0, T0 + HOUR, username="u2")])
    link(other_subscriber(), "username", "u2")
    assert noc(actor_for, store, "198.51.100.5")["status"] == "ambiguous"


def test_port_required_names_nobody_even_through_records(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    store.add("cgnat", [row("203.0.113.9/32", T0, T0 + HOUR, ports=(1024, 2047),
                            session_id="inside=100.64.0.7", source="cgnat")])
    store.add("radius", [row("100.64.0.7/32", T0, T0 + HOUR, username="u1")])
    link(subscriber, "username", "u1")
    link(subscriber, "static_ip", "203.0.113.9")
    blind = noc(actor_for, store, "203.0.113.9")
    assert blind["status"] == "port_required"
    assert blind["subscriber"] is None
    assert blind["static_assignments"] == []
    assert blind["candidates"] == []
    seen = noc(actor_for, store, "203.0.113.9:1500")
    assert seen["status"] == "match"
    assert seen["inside_address"] == "100.64.0.7"
    assert seen["subscriber"]["account_number"] == "A1000001"  # type: ignore[index]


def test_role_without_connectivity_logs_is_refused(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    # Billing may read account and name, but attribution without the logs is nothing.
    with pytest.raises(AccessRefused) as refused:
        answer_one(actor_for("billing"), Ask("192.0.2.10", AT_TEXT), purpose="billing",
                   reference=None, store=store)
    assert refused.value.decision.rule == "grant:billing-billing:missing-category"
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert entry.outcome == "refused"


def test_batch_validates_every_row_first_and_audits_once(
        store: EmbeddedLogStore, subscriber: Subscriber,
        actor_for: Callable[[str], Actor]) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + HOUR, username="u1")])
    link(subscriber, "username", "u1")
    before = AuditEntry.objects.count()
    with pytest.raises(Usage) as bad:
        answer_batch(actor_for("noc"), [Ask("192.0.2.10", AT_TEXT, "a"),
                                        Ask("192.0.2.10", "2017-03-29 14:05:03", "b"),
                                        Ask("not-an-ip", AT_TEXT, "c")],
                     purpose="troubleshooting", reference="TKT-10001", store=store)
    assert "row 2 (b)" in str(bad.value)
    assert "row 3 (c)" in str(bad.value)
    assert AuditEntry.objects.count() == before  # nothing asked, nothing decided
    asks = [Ask("192.0.2.10", AT_TEXT, "a"), Ask("192.0.2.11", AT_TEXT, "b"),
            Ask("192.0.2.10", "2017-03-29T23:00:00+00:00", "c")]
    results = answer_batch(actor_for("noc"), asks, purpose="troubleshooting",
                           reference="TKT-10001", store=store)
    assert [r["status"] for r in results] == ["match", "no_match", "no_match"]
    assert [r["label"] for r in results] == ["a", "b", "c"]
    single = noc(actor_for, store, "192.0.2.10")
    assert {**results[0], "label": None} == {**single, "label": None}
    entries = list(AuditEntry.objects.filter(event="connectivity:attribution-batch:read"))
    assert len(entries) == 1
    assert entries[0].subject.startswith("attribution-batch rows=3 match=1 no_match=2 ")


def test_cli_batch_and_links_commands(
        store: EmbeddedLogStore, subscriber: Subscriber, tmp_path: Path,
        as_role: Callable[[str], None], capsys: pytest.CaptureFixture[str]) -> None:
    from cpniguard.cli import main

    store.add("radius", [row("192.0.2.10/32", T0, T0 + HOUR, username="u1")])
    as_role("noc")
    assert main(["links", "add", "--account", "A1000001", "--kind", "username", "--value",
                 "u1", "--from", "2017-01-01T00:00:00Z"]) == 3  # noc may not change links
    link(subscriber, "username", "u1")
    batch = tmp_path / "asks.csv"
    batch.write_text("id,address,port,at\nq1,192.0.2.10,,2017-03-29T14:05:03-07:00\n")
    capsys.readouterr()
    assert main(["attribute", "--batch", str(batch), "--format", "jsonl", "--purpose",
                 "troubleshooting", "--reference", "TKT-10001", "--store",
                 str(store.root)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["subscriber"]["account_number"] == "A1000001"
    assert main(["links", "list", "--account", "A1000001", "--json", "--purpose",
                 "troubleshooting", "--reference", "TKT-10001"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["value"]) for r in listed] == [("username", "u1")]


def test_sync_derives_dated_links_and_keeps_history(subscriber: Subscriber) -> None:
    from cpniguard.connectivity.links_sync import sync_derived_links
    from cpniguard.subscribers.models import Equipment, Service

    Equipment.objects.filter(subscriber=subscriber).delete()
    service = Service.objects.create(subscriber=subscriber, kind="static_ip", plan="Static /32",
                                     static_ip="198.51.100.20", started=dt.date(2020, 3, 8))
    router = Equipment.objects.create(subscriber=subscriber, kind="router", model="EX-100",
                                      serial="SN1", mac="aa:bb:cc:dd:ee:01")
    report = sync_derived_links("America/New_York", now=datetime(2021, 1, 1, tzinfo=UTC))
    assert (report.opened, report.closed) == (2, 0)
    static = IdentityLink.objects.get(kind="static_ip")
    assert static.valid_from == datetime(2020, 3, 8, 5, 0, tzinfo=UTC)  # EST midnight
    service.ended = dt.date(2020, 11, 1)  # the day the clocks fall back: ends at EDT->EST
    service.save()
    moved = other_subscriber()
    router.subscriber = moved
    router.save()
    now = datetime(2021, 2, 1, tzinfo=UTC)
    report = sync_derived_links("America/New_York", now=now)
    assert (report.updated, report.closed, report.opened) == (1, 1, 1)
    static.refresh_from_db()
    assert static.valid_to == datetime(2020, 11, 2, 5, 0, tzinfo=UTC)
    macs = list(IdentityLink.objects.filter(kind="mac").order_by("pk"))
    assert [(m.subscriber_id, m.valid_to) for m in macs] == [(subscriber.pk, now),
                                                             (moved.pk, None)]
    assert macs[1].valid_from == now  # nobody recorded the handover: it starts when seen
    again = sync_derived_links("America/New_York", now=now + HOUR)
    assert (again.opened, again.closed, again.updated, again.unchanged) == (0, 0, 0, 2)


def test_declared_cgnat_pool_needs_a_port_even_without_logs(
        store: EmbeddedLogStore, actor_for: Callable[[str], Actor],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cpniguard.connectivity.network import cgnat_pools, write_config

    # No port-block logs at all for this instant: the store alone would say no_match.
    assert noc(actor_for, store, "192.0.2.70")["status"] == "no_match"
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    write_config(["192.0.2.64/26"], tmp_path)
    assert [str(p) for p in cgnat_pools()] == ["192.0.2.64/26"]
    assert noc(actor_for, store, "192.0.2.70")["status"] == "port_required"
    assert noc(actor_for, store, "192.0.2.70:4000")["status"] == "no_match"
    assert noc(actor_for, store, "192.0.2.10")["status"] == "no_match"  # outside the pool
    monkeypatch.setenv("CPNIGUARD_CGNAT_POOLS", "192.0.2.0/33")
    with pytest.raises(Usage, match="network configuration is invalid"):
        noc(actor_for, store, "192.0.2.70")
