"""Attribution: one clean holder is a match; anything that casts doubt is ambiguous, with all
candidates; a shared CGNAT address without a port names nobody; the CLI is gated and audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.attribution import Status, attribute
from cpniguard.connectivity.events import Evidence, Flag
from cpniguard.connectivity.question import Usage, parse_instant, parse_target
from cpniguard.connectivity.store import OPEN_END, EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.schema import address_key, to_us

T0 = datetime(2017, 3, 29, 21, 0, tzinfo=UTC)
AT = datetime(2017, 3, 29, 21, 5, 3, tzinfo=UTC)
SKEW = timedelta(seconds=2)
OS_USER = "nocdesk"


def row(network: str, start: datetime, end: datetime | None, *, username: str = "",
        mac: str = "", flags: tuple[Flag, ...] = (), last_seen: datetime | None = None,
        ports: tuple[int, int] | None = None, session_id: str = "", source: str = "radius",
        line: int = 1) -> StoredInterval:
    hi, lo, plen = address_key(network)
    first, last = ports or (-1, -1)
    stop = OPEN_END if end is None else to_us(end)
    return StoredInterval(
        hi=hi, lo=lo, plen=plen, start=to_us(start), end=stop, original_start=to_us(start),
        original_end=stop, source=source,
        last_seen=None if last_seen is None else to_us(last_seen), port_first=first,
        port_last=last, username=username, mac=mac, session_id=session_id,
        flags=",".join(sorted(flags)),
        evidence=(Evidence(f"/logs/{source}.log", line, "ab" * 32),))


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedLogStore:
    return EmbeddedLogStore(tmp_path / "logstore")


def ask(store: EmbeddedLogStore, address: str, port: int | None = None,
        at: datetime = AT) -> tuple[Status, list[str]]:
    answer = attribute(store, address, at, port=port, skew=SKEW)
    return answer.status, [c.holder.username or c.holder.inside for c in answer.candidates]


def test_one_clean_holder_is_a_match(store: EmbeddedLogStore) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + timedelta(hours=1), username="alice")])
    answer = attribute(store, "192.0.2.10", AT.astimezone(timezone(timedelta(hours=-7))),
                       port=None, skew=SKEW)
    assert answer.status is Status.MATCH
    assert answer.at == AT
    assert answer.at.utcoffset() == timedelta(0)
    data = answer.to_dict()
    assert data["at"] == "2017-03-29T21:05:03+00:00"
    [candidate] = data["candidates"]
    assert candidate["holder"] == {"username": "alice"}
    assert candidate["interval"]["start"] == "2017-03-29T21:00:00+00:00"
    assert candidate["evidence"] == [{"file": "/logs/radius.log", "line": 1,
                                      "sha256": "ab" * 32}]
    json.dumps(data)


def test_nobody_is_no_match(store: EmbeddedLogStore) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + timedelta(hours=1), username="alice")])
    assert ask(store, "192.0.2.11") == (Status.NO_MATCH, [])
    assert ask(store, "192.0.2.10", at=T0 - timedelta(minutes=5)) == (Status.NO_MATCH, [])


def test_handover_within_skew_lists_both_sides(store: EmbeddedLogStore) -> None:
    handover = AT + timedelta(seconds=1)
    store.add("radius", [row("192.0.2.10/32", T0, handover, username="alice"),
                         row("192.0.2.10/32", handover, None, username="bob",
                             last_seen=handover + timedelta(minutes=5), line=2)])
    answer = attribute(store, "192.0.2.10", AT, port=None, skew=SKEW)
    assert answer.status is Status.AMBIGUOUS
    assert "2 holders" in answer.reason
    assert {c.holder.username for c in answer.candidates} == {"alice", "bob"}
    # Outside the skew window the same data is a clean match.
    assert ask(store, "192.0.2.10", at=AT - timedelta(seconds=10)) == (Status.MATCH, ["alice"])


@pytest.mark.parametrize("flag", [Flag.AMBIGUOUS_LOCAL_TIME, Flag.NONEXISTENT_LOCAL_TIME,
                                  Flag.OVERLAP, Flag.CLOCK_DISAGREES])
def test_flagged_interval_is_ambiguous(store: EmbeddedLogStore, flag: Flag) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + timedelta(hours=1), username="alice",
                             flags=(flag,))])
    answer = attribute(store, "192.0.2.10", AT, port=None, skew=SKEW)
    assert answer.status is Status.AMBIGUOUS
    assert str(flag) in answer.reason
    assert [c.holder.username for c in answer.candidates] == ["alice"]


def test_address_change_only_matters_near_the_change(store: EmbeddedLogStore) -> None:
    change = T0 + timedelta(minutes=30)
    store.add("radius", [row("192.0.2.10/32", T0, change, username="alice",
                             flags=(Flag.ADDRESS_CHANGED,),
                             last_seen=T0 + timedelta(minutes=20))])
    assert ask(store, "192.0.2.10")[0] is Status.MATCH  # well inside the proven part
    assert ask(store, "192.0.2.10", at=T0 + timedelta(minutes=25))[0] is Status.AMBIGUOUS


def test_open_interval_past_last_seen_is_ambiguous(store: EmbeddedLogStore) -> None:
    seen = AT - timedelta(minutes=1)
    store.add("radius", [row("192.0.2.10/32", T0, None, username="alice", last_seen=seen,
                             flags=(Flag.NO_STOP,))])
    answer = attribute(store, "192.0.2.10", AT, port=None, skew=SKEW)
    assert answer.status is Status.AMBIGUOUS
    assert "last seen alive at 2017-03-29T21:04:03+00:00" in answer.reason
    assert ask(store, "192.0.2.10", at=seen)[0] is Status.MATCH


def _cgnat(store: EmbeddedLogStore) -> None:
    end = T0 + timedelta(hours=1)
    store.add("cgnat", [
        row("203.0.113.7/32", T0, end, ports=(1024, 2047), session_id="inside=100.64.0.5/32",
            source="cgnat"),
        row("203.0.113.7/32", T0, end, ports=(2048, 3071), session_id="inside=100.64.0.6",
            source="cgnat", line=2)])
    store.add("radius", [row("100.64.0.5/32", T0, end, username="carol", line=3),
                         row("100.64.0.6/32", T0, end, username="dave", line=4)])


def test_cgnat_without_port_names_nobody(store: EmbeddedLogStore) -> None:
    _cgnat(store)
    answer = attribute(store, "203.0.113.7", AT, port=None, skew=SKEW)
    assert answer.status is Status.PORT_REQUIRED
    assert answer.candidates == ()
    assert answer.translation is None
    assert "carol" not in json.dumps(answer.to_dict())
    # A public pool address known only from configuration is refused the same way.
    bare = attribute(store, "203.0.113.9", AT, port=None, skew=SKEW,
                     cgnat_public=lambda a: str(a).startswith("203.0.113."))
    assert bare.status is Status.PORT_REQUIRED


def test_cgnat_with_port_follows_both_hops(store: EmbeddedLogStore) -> None:
    _cgnat(store)
    answer = attribute(store, "203.0.113.7", AT, port=2050, skew=SKEW)
    assert answer.status is Status.MATCH
    assert answer.inside_address == "100.64.0.6"
    assert [c.holder.username for c in answer.candidates] == ["dave"]
    assert answer.translation is not None
    assert answer.translation.ports == (2048, 3071)
    chain = answer.to_dict()["evidence_chain"]
    assert [(e["file"], e["line"]) for e in chain] == [("/logs/cgnat.log", 2),
                                                      ("/logs/radius.log", 4)]
    assert ask(store, "203.0.113.7", port=1500)[1] == ["carol"]


def test_ipv6_via_delegated_prefix(store: EmbeddedLogStore) -> None:
    store.add("dhcp", [row("2001:db8:1200::/56", T0, T0 + timedelta(hours=1),
                           mac="02:00:5e:10:00:42", source="dhcp")])
    answer = attribute(store, "2001:db8:1200:ff::1", AT, port=None, skew=SKEW)
    assert answer.status is Status.MATCH
    assert answer.candidates[0].via_prefix == "2001:db8:1200::/56"
    assert answer.to_dict()["candidates"][0]["via_prefix"] == "2001:db8:1200::/56"


def test_naive_instant_is_refused(store: EmbeddedLogStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        attribute(store, "192.0.2.10", datetime(2017, 3, 29, 14, 5, 3), port=None, skew=SKEW)
    with pytest.raises(Usage, match="no offset or zone"):
        parse_instant("2017-03-29T14:05:03")
    with pytest.raises(Usage, match="ambiguous-local-time"):
        parse_instant("2017-11-05 01:30:00 America/Los_Angeles")
    assert parse_instant("2017-03-29 14:05:03 America/Los_Angeles") == AT
    assert parse_instant("2017-03-29T14:05:03-07:00") == AT


def test_targets() -> None:
    assert parse_target("192.0.2.10:443") == ("192.0.2.10", 443)
    assert parse_target("[2001:db8::1]:443") == ("2001:db8::1", 443)
    assert parse_target("2001:db8::1") == ("2001:db8::1", None)
    with pytest.raises(Usage):
        parse_target("192.0.2.10:99999")


# --- the CLI, through the gate ---------------------------------------------------------------

@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch,
            make_staff: Callable[..., StaffUser]) -> Callable[[str], None]:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)

    def link(role: str) -> None:
        make_staff(role, os_username=OS_USER)

    return link


def cli(store: EmbeddedLogStore, *argv: str) -> int:
    return main(["attribute", *argv, "--store", str(store.root)])


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "reference"), [("support", "TKT-100042"), ("noc", None)])
def test_cli_refusals_are_audited(store: EmbeddedLogStore, as_role: Callable[[str], None],
                                  capsys: pytest.CaptureFixture[str], role: str,
                                  reference: str | None) -> None:
    as_role(role)
    extra = ["--reference", reference] if reference else []
    code = cli(store, "192.0.2.10", "--at", "2017-03-29T14:05:03-07:00",
               "--purpose", "troubleshooting", *extra)
    assert code == 3
    assert "refused:" in capsys.readouterr().err
    entry = AuditEntry.objects.get()
    assert entry.outcome == "refused"
    assert "192.0.2.10" not in entry.subject + entry.reason


@pytest.mark.django_db
def test_cli_answers_noc_with_a_ticket(store: EmbeddedLogStore, as_role: Callable[[str], None],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    store.add("radius", [row("192.0.2.10/32", T0, T0 + timedelta(hours=1), username="alice")])
    as_role("noc")
    args = ("192.0.2.10", "--at", "2017-03-29 14:05:03 America/Los_Angeles",
            "--purpose", "troubleshooting", "--reference", "TKT-100042")
    assert cli(store, *args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "instant (UTC): 2017-03-29T21:05:03+00:00"
    assert "status: match" in out
    assert "username=alice" in out
    assert cli(store, *args, "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "match"
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [(e.outcome, e.subject) for e in entries] == [("allowed", "attribution:match")] * 2
    assert all("192.0.2.10" not in e.reason for e in entries)


@pytest.mark.django_db
def test_cli_refuses_a_naive_instant(store: EmbeddedLogStore, as_role: Callable[[str], None],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    as_role("noc")
    code = cli(store, "192.0.2.10", "--at", "2017-03-29T14:05:03", "--purpose",
               "troubleshooting", "--reference", "TKT-100042")
    assert code == 2
    assert "no offset or zone" in capsys.readouterr().err
    assert not AuditEntry.objects.exists()
