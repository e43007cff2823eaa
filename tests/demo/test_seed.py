"""The demo seeder: plausible, consistent and strictly fictional data, staff in every role."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.demo.seed import HISTORY_DAYS, Generator, SeedResult, seed_demo
from cpniguard.policy import Policy
from cpniguard.subscribers.models import (
    Address,
    BillingInfo,
    Email,
    Equipment,
    Interaction,
    Phone,
    Service,
    Subscriber,
)
from cpniguard.subscribers.validators import looks_like_full_account_number

pytestmark = pytest.mark.django_db
OS_USER = "demo-operator"
TODAY = date(2026, 11, 20)
FICTIONAL_PHONE = re.compile(r"^\+1[2-9][0-9]{2}55501[0-9]{2}$")
RFC2606_EMAIL = re.compile(r"^[^@\s]+@([a-z0-9-]+\.)*example\.(com|net|org)$")
RFC5737 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24",
                                             "203.0.113.0/24")]
ZIP_PREFIX = {"VT": "05", "KS": "67"}


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> SeedResult:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)
    return seed_demo(300, seed=11, today=TODAY)


def test_counts_validation_and_one_audit_entry(seeded: SeedResult) -> None:
    assert Subscriber.objects.count() == 300
    assert Address.objects.filter(kind="service").count() == 300
    assert Address.objects.filter(kind="billing").count() == 300
    assert BillingInfo.objects.count() == 300
    assert Service.objects.filter(kind="broadband").count() == 300
    assert seeded.rows["subscriber"] == 300
    assert seeded.rows["interaction"] == Interaction.objects.count() > 150
    entry = AuditEntry.objects.get()
    assert (entry.event, entry.outcome, entry.actor) == ("demo:seed", "succeeded",
                                                          f"os:{OS_USER}")
    assert entry.subject == "demo:seed:11/subscribers:300/staff:12"
    # A sample of the records, with everything attached to them, passes model validation.
    for subscriber in Subscriber.objects.all()[::15]:
        subscriber.full_clean()
        for related in ("addresses", "phones", "emails", "services", "equipment",
                        "interactions"):
            for record in getattr(subscriber, related).all():
                record.full_clean()
        subscriber.billing.full_clean()


def test_contact_data_is_fictional(seeded: SeedResult) -> None:
    numbers = list(Phone.objects.values_list("number", flat=True)) + list(
        Service.objects.exclude(voip_number="").values_list("voip_number", flat=True))
    assert numbers
    assert all(FICTIONAL_PHONE.match(n) for n in numbers)
    emails = list(Email.objects.values_list("address", flat=True))
    assert len(emails) > 250
    assert all(RFC2606_EMAIL.match(e) for e in emails)
    assert len(set(emails)) == len(emails)
    addresses = Service.objects.filter(kind="static_ip")
    assert addresses.exists()
    for service in addresses.select_related("subscriber"):
        assert any(ipaddress.ip_address(service.static_ip or "") in net for net in RFC5737)
        assert service.subscriber.kind == "business"
    assert len({s.static_ip for s in addresses}) == addresses.count()
    macs = list(Equipment.objects.values_list("mac", flat=True))
    # Locally administered, unicast: never a real vendor's hardware address.
    assert all(int(mac[:2], 16) & 0b11 == 0b10 for mac in macs)
    assert len(set(macs)) == len(macs)
    # Billing keeps a processor token and the last four digits, never a full number.
    for billing in BillingInfo.objects.all():
        assert not looks_like_full_account_number(billing.processor_token)
        if billing.method == "invoice":
            assert (billing.processor_token, billing.last4) == ("", "")
        else:
            assert billing.processor_token.startswith(("tok_", "ba_"))
            assert re.fullmatch(r"[0-9]{4}", billing.last4)


def test_addresses_are_consistent(seeded: SeedResult) -> None:
    for address in Address.objects.all():
        assert address.postal_code.startswith(ZIP_PREFIX[address.state])
    differing = 0
    for subscriber in Subscriber.objects.prefetch_related("addresses"):
        by_kind = {a.kind: (a.line1, a.city) for a in subscriber.addresses.all()}
        differing += by_kind["billing"] != by_kind["service"]
    assert 0.05 * 300 < differing < 0.30 * 300


def test_interactions_are_recent_and_by_real_staff(seeded: SeedResult, policy: Policy) -> None:
    staff = set(StaffUser.objects.values_list("username", flat=True))
    ticket = policy.references["ticket"].pattern
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    earliest = midnight - timedelta(days=HISTORY_DAYS)
    tickets: Counter[str] = Counter()
    for note in Interaction.objects.select_related("subscriber"):
        assert note.staff in staff
        assert earliest <= note.created < midnight
        assert note.created.date() >= note.subscriber.service_started
        assert note.created.utcoffset() == timedelta(0)
        if note.ticket:
            assert ticket.fullmatch(note.ticket)
            tickets[note.ticket] += 1
    assert max(tickets.values()) > 1  # some tickets have follow-ups


def test_staff_in_every_role_with_second_factor_where_required(
    seeded: SeedResult, policy: Policy
) -> None:
    users = {u.username: u for u in StaffUser.objects.all()}
    assert {u.role for u in users.values()} == set(policy.roles)
    assert Counter(u.role for u in users.values())["support"] == 3
    for credential in seeded.staff:
        user = users[credential.username]
        assert user.check_password(credential.password)
        assert credential.password not in user.password
        needs_totp = policy.roles[user.role].second_factor
        assert bool(user.totp_secret) == user.totp_confirmed == needs_totp
    assert users["admin1"].os_username == OS_USER


def test_the_same_seed_gives_the_same_customers(seeded: SeedResult) -> None:
    def snapshot() -> list[tuple[object, ...]]:
        return list(Subscriber.objects.order_by(
            "account_number", "addresses__kind", "services__plan").values_list(
            "account_number", "last_name", "addresses__line1", "billing__processor_token",
            "services__plan"))

    first = snapshot()
    Subscriber.objects.all().delete()
    StaffUser.objects.all().delete()
    seed_demo(300, seed=11, today=TODAY, link_os_user=False)
    assert snapshot() == first
    staff = {"support": ["support1"], "billing": ["billing1"], "noc": ["noc1"]}
    accounts = [[Generator(seed, TODAY, staff).subscriber()[0].last_name for _ in range(20)]
                for seed in (11, 12)]
    assert accounts[0] != accounts[1]
