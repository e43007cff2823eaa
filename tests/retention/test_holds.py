"""Legal holds: what they match, how they are validated, and the audited `hold` commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.retention.holds import (
    HoldKind,
    HoldMatcher,
    HoldRule,
    InvalidHold,
    normalize_identifier,
)
from cpniguard.retention.models import LegalHold
from tests.retention.conftest import row

T = datetime(2026, 3, 4, 10, tzinfo=UTC)
CASE = "LR-2026-0042"
Cli = Callable[..., tuple[int, str, str]]


def rule(identifier: str, kind: HoldKind = HoldKind.ADDRESS, hold_id: int = 1,
         start: datetime = T, end: datetime = T + timedelta(hours=1)) -> HoldRule:
    return HoldRule.of(hold_id, kind, identifier, start, end)


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("192.0.2.7", None, (HoldKind.ADDRESS, "192.0.2.7/32")),
    ("2001:db8:1200::/56", None, (HoldKind.ADDRESS, "2001:db8:1200::/56")),
    ("02-00-5E-10-00-42", "mac", (HoldKind.MAC, "02:00:5e:10:00:42")),
    ("0200.5e10.0042", "mac", (HoldKind.MAC, "02:00:5e:10:00:42")),
    (" alice@example.net ", "username", (HoldKind.USERNAME, "alice@example.net")),
])
def test_identifiers_are_normalised(text: str, kind: str | None,
                                    expected: tuple[HoldKind, str]) -> None:
    assert normalize_identifier(text, kind) == expected


@pytest.mark.parametrize(("text", "kind"), [
    ("alice", None), ("", "username"), ("02005e100042", "mac"), ("2001:db8::1/56", None),
    ("::ffff:192.0.2.7", None), ("192.0.2.7", "phone"),
])
def test_bad_identifiers_are_refused(text: str, kind: str | None) -> None:
    with pytest.raises(InvalidHold):
        normalize_identifier(text, kind)


def test_address_holds_match_by_containment_either_way() -> None:
    inside = row("2001:db8:1200:10::/64", T, T + timedelta(minutes=5))
    around = row("2001:db8:1200::/48", T, T + timedelta(minutes=5))
    beside = row("2001:db8:1300::/56", T, T + timedelta(minutes=5))
    matcher = HoldMatcher([rule("2001:db8:1200::/56")])
    assert [matcher.holding(r) for r in (inside, around, beside)] == [[1], [1], []]
    v4 = HoldMatcher([rule("192.0.2.7/32")])
    assert v4.keeps(row("192.0.2.0/24", T, T + timedelta(minutes=5)))
    assert not v4.keeps(row("192.0.2.8/32", T, T + timedelta(minutes=5)))


def test_cgnat_block_is_held_by_its_inside_address() -> None:
    block = row("203.0.113.7/32", T, None, session_id="inside=100.64.0.6/32/tcp",
                source="juniper-nat")
    assert HoldMatcher([rule("100.64.0.6/32")]).keeps(block)
    assert HoldMatcher([rule("203.0.113.7/32")]).keeps(block)
    assert not HoldMatcher([rule("100.64.0.7/32")]).keeps(block)


def test_the_whole_original_interval_counts_not_the_days_piece() -> None:
    session = row("192.0.2.7/32", T - timedelta(days=3), T + timedelta(days=3),
                  username="alice")
    # The piece stored on the first day still carries the whole session as evidence.
    first_day = type(session)(**{**{s: getattr(session, s) for s in session.__slots__},
                                  "end": session.start + 3_600_000_000})
    held = HoldMatcher([rule("alice", HoldKind.USERNAME, start=T, end=T + timedelta(hours=1))])
    assert held.keeps(first_day)
    before = HoldMatcher([rule("alice", HoldKind.USERNAME, start=T - timedelta(days=9),
                               end=T - timedelta(days=3))])
    assert not before.keeps(first_day)  # the range ends where the session starts


def test_identity_holds_match_their_own_field_only() -> None:
    r = row("192.0.2.7/32", T, T + timedelta(minutes=5), username="Alice@Example.net",
            mac="02:00:5e:10:00:42")
    assert HoldMatcher([rule("alice@example.net", HoldKind.USERNAME)]).holding(r) == [1]
    assert HoldMatcher([rule("02:00:5e:10:00:42", HoldKind.MAC, hold_id=7)]).holding(r) == [7]
    assert not HoldMatcher([rule("02:00:5e:10:00:42", HoldKind.USERNAME)]).keeps(r)
    assert not HoldMatcher([]).keeps(r)


# --- the commands, through the gate ---------------------------------------------------------

CREATE = ("hold", "create", "--identifier", "192.0.2.7", "--from", "2026-03-04T00:00:00-06:00",
          "--to", "2026-03-05 00:00 America/Chicago", "--expires", "2036-01-01T00:00:00Z",
          "--reference", CASE)


@pytest.mark.django_db
def test_custodian_places_renews_and_releases_a_hold(as_role: Callable[[str], StaffUser],
                                                     cli: Cli) -> None:
    as_role("custodian")
    code, out, _ = cli(*CREATE)
    assert code == 0
    hold = LegalHold.objects.get()
    assert out.splitlines() == [
        f"hold {hold.pk} [active] {CASE}: address 192.0.2.7/32",
        "  range (UTC): 2026-03-04T06:00:00+00:00 .. 2026-03-05T06:00:00+00:00",
        "  expires (UTC): 2036-01-01T00:00:00+00:00",
        f"  placed by custodian-1 (os:records) at {hold.created.isoformat()}",
    ]
    code, out, _ = cli("hold", "renew", str(hold.pk), "--expires", "2037-01-01T00:00:00+00:00",
                       "--reference", CASE, "--json")
    assert code == 0
    assert json.loads(out)["holds"][0]["expires"] == "2037-01-01T00:00:00+00:00"
    code, out, _ = cli("hold", "release", str(hold.pk), "--reference", CASE, "--json")
    assert code == 0
    [view] = json.loads(out)["holds"]
    assert view["state"] == "released"
    assert view["released"] is not None
    assert LegalHold.objects.filter(pk=hold.pk).exists()  # kept as a record
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [(e.event, e.outcome, e.subject, e.reference, e.rule) for e in entries] == [
        ("connectivity:legal_hold:hold", "allowed", f"legal_hold:{hold.pk}", CASE,
         "grant:custodian-legal-hold")] * 3
    assert entries[2].fields == ["legal_hold.released"]
    assert all("192.0.2.7" not in e.subject + e.reason for e in entries)
    # A released hold stays released.
    code, _, err = cli("hold", "renew", str(hold.pk), "--expires", "2038-01-01T00:00:00Z",
                       "--reference", CASE)
    assert code == 2
    assert "released" in err


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "message"), [
    (("--from", "2026-03-04T00:00:00"), "no offset or zone"),
    (("--to", "2026-03-03T00:00:00Z"), "before it starts"),
    (("--expires", "2020-01-01T00:00:00Z"), "not in the future"),
    (("--identifier", "alice"), "--kind"),
    (("--kind", "mac"), "not a MAC"),
])
def test_bad_hold_input_is_refused_before_anything_is_written(
        as_role: Callable[[str], StaffUser], cli: Cli, change: tuple[str, str],
        message: str) -> None:
    as_role("custodian")
    argv = list(CREATE)
    if change[0] in argv:
        argv[argv.index(change[0]) + 1] = change[1]
    else:
        argv += change
    code, _, err = cli(*argv)
    assert code == 2
    assert message in err
    assert not LegalHold.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "reference", "rule"), [
    ("custodian", "see case 42", "grant:custodian-legal-hold:reference-malformed"),
    ("noc", CASE, "deny:default"),
    ("admin", CASE, "deny:default"),
])
def test_refusals_are_audited_and_place_nothing(as_role: Callable[[str], StaffUser], cli: Cli,
                                                role: str, reference: str, rule: str) -> None:
    as_role(role)
    argv = list(CREATE)
    argv[argv.index("--reference") + 1] = reference
    code, _, err = cli(*argv)
    assert code == 3
    assert "refused:" in err
    assert not LegalHold.objects.exists()
    entry = AuditEntry.objects.get()
    assert (entry.outcome, entry.rule) == ("refused", rule)


@pytest.mark.django_db
def test_a_hold_is_renewed_or_released_only_under_its_own_case(
        as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    as_role("custodian")
    assert cli(*CREATE)[0] == 0
    hold = LegalHold.objects.get()
    code, _, err = cli("hold", "release", str(hold.pk), "--reference", "LR-2026-0043")
    assert code == 3
    assert "another case" in err
    hold.refresh_from_db()
    assert hold.released is None
    last = AuditEntry.objects.order_by("-seq").first()
    assert last is not None
    assert (last.outcome, last.subject) == ("refused", f"legal_hold:{hold.pk}")
    code, _, err = cli("hold", "release", "9999", "--reference", CASE)
    assert code == 2
    assert AuditEntry.objects.order_by("-seq")[0].outcome == "not_found"


@pytest.mark.django_db
def test_listing_follows_the_policy(as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    as_role("custodian")
    assert cli(*CREATE)[0] == 0
    other = list(CREATE)
    other[other.index("--reference") + 1] = "LR-2026-0099"
    assert cli(*other)[0] == 0
    code, out, _ = cli("hold", "list", "--purpose", "legal_process", "--reference", CASE,
                       "--json")
    assert code == 0
    assert [h["reference"] for h in json.loads(out)["holds"]] == [CASE]  # its case only
    as_role("compliance")
    code, out, _ = cli("hold", "list", "--purpose", "compliance_review", "--json")
    assert code == 0
    assert len(json.loads(out)["holds"]) == 2
    as_role("admin")
    assert cli("hold", "list", "--purpose", "retention")[0] == 0
    as_role("support")
    code, _, _ = cli("hold", "list", "--purpose", "provide_service")
    assert code == 3
    outcomes = [e.outcome for e in AuditEntry.objects.filter(event__endswith=":search")]
    assert outcomes == ["allowed", "allowed", "allowed", "refused"]
