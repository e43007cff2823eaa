"""Seeding the demo database with a believable, entirely fictional rural ISP.

The same `seed` gives the same customers, services and interactions (dates are relative to
the day of seeding). Records are created with bulk inserts in one transaction: creating data
is not a read of anyone's record, so it does not pass the access gate per row; the whole seed
is recorded as one `demo:seed` audit entry instead.
"""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import models, transaction

from cpniguard.access import Actor, record_event
from cpniguard.audit.models import Outcome
from cpniguard.demo import places
from cpniguard.demo.staff import Credential, create_staff
from cpniguard.policy import current_policy
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

# Subscribers built and inserted per round: bounds memory and paces the progress bar.
CHUNK = 1000
HISTORY_DAYS = 270  # about nine months of interactions
CHILD_MODELS: tuple[type[models.Model], ...] = (Address, Phone, Email, BillingInfo, Service,
                                                Equipment, Interaction)
TOKEN_ALPHABET = string.ascii_letters + string.digits
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass
class SeedResult:
    subscribers: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    staff: list[Credential] = field(default_factory=list)


class Generator:
    """Builds unsaved records; every random choice comes from one seeded generator."""

    def __init__(self, seed: int, today: date, staff: dict[str, list[str]]) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.staff = staff
        self.account = 1_000_000 + self.rng.randrange(1000)
        self.ticket = 100_000 + self.rng.randrange(5000)
        self.mac = 0
        self.emails: set[str] = set()
        self.static_pool = [f"{block}.{host}" for block in places.STATIC_BLOCKS
                            for host in range(1, 255)]
        self.rng.shuffle(self.static_pool)
        self.town_weights = [town.weight for town in places.TOWNS]
        # The current subscriber's equipment, speed and kinds of service, for its notes.
        self._gear, self._speed, self._features = "router", 0, frozenset({""})

    def _token(self, prefix: str) -> str:
        while True:  # redraw the rare token that could be mistaken for an account number
            token = prefix + "".join(self.rng.choices(TOKEN_ALPHABET, k=20))
            if not looks_like_full_account_number(token):
                return token

    def _serial(self, prefix: str) -> str:
        letters = "".join(self.rng.choices(SERIAL_LETTERS, k=4))
        return f"{prefix}{self.rng.randrange(19, 26)}{letters}{self.rng.randrange(1000):03d}"

    def _next_mac(self) -> str:
        # 02: locally administered, so never a real vendor's address; a counter keeps it unique.
        self.mac += 1
        value = self.mac
        return "02:c9:" + ":".join(f"{value >> shift & 255:02x}" for shift in (24, 16, 8, 0))

    def _phone(self, town: places.Town) -> str:
        # Mostly the town's own area code; in Kansas a mobile is sometimes from the other half.
        codes = {t.area_code for t in places.TOWNS if t.state == town.state} - {town.area_code}
        area = town.area_code
        if codes and self.rng.random() < 0.2:
            area = self.rng.choice(sorted(codes))
        return f"+1{area}55501{self.rng.randrange(100):02d}"

    def _email(self, local: str, domain: str) -> str:
        local = re.sub(r"[^a-z0-9.]+", "", local.lower().replace(" ", "."))
        address, n = f"{local}@{domain}", 1
        while address in self.emails:
            n += 1
            address = f"{local}{n}@{domain}"
        self.emails.add(address)
        return address

    def _street(self, town: places.Town) -> str:
        return f"{self.rng.randrange(2, 2400)} {self.rng.choice(places.STREETS[town.state])}"

    def _address(self, subscriber: Subscriber, kind: str, town: places.Town, line1: str,
                 line2: str = "") -> Address:
        return Address(subscriber=subscriber, kind=kind, line1=line1, line2=line2,
                       city=town.name, state=town.state, postal_code=town.postal_code)

    def subscriber(self) -> tuple[Subscriber, list[models.Model]]:
        rng, today = self.rng, self.today
        town = rng.choices(places.TOWNS, weights=self.town_weights)[0]
        business = rng.random() < 0.12
        first, last = rng.choice(places.FIRST_NAMES), rng.choice(places.LAST_NAMES)
        span = (today - date(2006, 1, 1)).days - 20
        started = date(2006, 1, 1) + timedelta(days=int(rng.triangular(0, span, span * 0.85)))
        status = rng.choices(["active", "suspended", "closed"], weights=[93, 4, 3])[0]
        self.account += rng.randrange(1, 10)
        sub = Subscriber(
            account_number=f"A{self.account}", status=status,
            kind="business" if business else "residential", first_name=first, last_name=last,
            business_name=rng.choice(places.BUSINESSES).format(town=town.name, last=last)
            if business else "",
            service_started=started)
        children: list[models.Model] = []
        suite = ""
        if rng.random() < (0.15 if business else 0.04):
            suite = (f"Suite {rng.randrange(1, 4)}0{rng.randrange(1, 9)}" if business
                     else f"Apt {rng.randrange(1, 12)}")
        service_line = self._street(town)
        children.append(self._address(sub, "service", town, service_line, suite))
        roll = rng.random()
        if roll < 0.10:  # bills to a post office box in town
            box = f"PO Box {rng.randrange(1, 900)}"
            children.append(self._address(sub, "billing", town, box))
        elif roll < 0.15:  # bills to another address in the state: a landlord, a second home
            other = rng.choice([t for t in places.TOWNS if t.state == town.state])
            children.append(self._address(sub, "billing", other, self._street(other)))
        else:
            children.append(self._address(sub, "billing", town, service_line, suite))
        labels = ("office", "mobile", "fax") if business else ("mobile", "home", "work")
        for n in range(rng.choices([1, 2, 3], weights=[70, 25, 5])[0]):
            children.append(Phone(subscriber=sub, number=self._phone(town), label=labels[n],
                                  primary=n == 0))
        if business:
            slug = re.sub(r"[^a-z0-9]+", "-", sub.business_name.lower()).strip("-")
            emails = [self._email("office", f"{slug}.example.com")]
        else:
            emails = [self._email(f"{first}.{last}", rng.choice(places.EMAIL_DOMAINS))
                      for _ in range(rng.choices([0, 1, 2], weights=[7, 85, 8])[0])]
        children += [Email(subscriber=sub, address=address, primary=n == 0)
                     for n, address in enumerate(emails)]
        children.append(self._billing(sub, business))
        services = self._services(sub, town, business, started, status)
        ended = next((s.ended for s in services if isinstance(s, Service) and s.ended), None)
        children += services
        children += self._interactions(sub, ended)
        return sub, children

    def _billing(self, sub: Subscriber, business: bool) -> BillingInfo:
        rng = self.rng
        method = rng.choices(["card", "bank", "invoice"],
                             weights=[35, 20, 45] if business else [65, 25, 10])[0]
        owes = rng.random() < (0.5 if method == "invoice" else 0.15)
        return BillingInfo(
            subscriber=sub, method=method,
            processor={"card": "ExamplePay", "bank": "ExampleACH"}.get(method, ""),
            processor_token=self._token("tok_" if method == "card" else "ba_")
            if method != "invoice" else "",
            last4=f"{rng.randrange(10000):04d}" if method != "invoice" else "",
            balance_cents=rng.randrange(1500, 40000) if owes else 0,
            autopay=method != "invoice" and rng.random() < 0.7)

    def _services(self, sub: Subscriber, town: places.Town, business: bool, started: date,
                  status: str) -> list[models.Model]:
        rng = self.rng
        names = [p for p in town.plans if p.startswith("Business") == business]
        weights = [places.RESIDENTIAL_WEIGHTS.get(p, 1) for p in names]
        plan = places.PLANS[rng.choices(names, weights=weights)[0]]
        ended = started + timedelta(days=rng.randrange(1, max(2, (self.today - started).days))) \
            if status == "closed" else None
        out: list[models.Model] = [Service(
            subscriber=sub, kind="broadband", plan=plan.name, down_mbps=plan.down_mbps,
            up_mbps=plan.up_mbps, started=started, ended=ended)]
        if rng.random() < (0.6 if business else 0.25):
            out.append(Service(subscriber=sub, kind="voip",
                               plan="Business Voice" if business else "Home Voice",
                               voip_number=self._phone(town), started=started, ended=ended))
            out.append(Equipment(subscriber=sub, kind="ata", model="EX-ATA2",
                                 serial=self._serial("EXA"), mac=self._next_mac()))
        if business and self.static_pool and rng.random() < 0.85:
            out.append(Service(subscriber=sub, kind="static_ip", plan="Static IP",
                               static_ip=self.static_pool.pop(), started=started, ended=ended))
        out.append(Equipment(subscriber=sub, kind="router", model=rng.choice(places.ROUTERS),
                             serial=self._serial("EXR"), mac=self._next_mac()))
        if plan.technology in places.TECHNOLOGY_EQUIPMENT:
            kind, model = places.TECHNOLOGY_EQUIPMENT[plan.technology]
            out.append(Equipment(subscriber=sub, kind=kind, model=model,
                                 serial=self._serial("EXO" if kind == "ont" else "EXM"),
                                 mac=self._next_mac()))
        self._gear = {"fiber": "ONT", "dsl": "modem"}.get(plan.technology, "radio")
        self._speed = plan.down_mbps
        kinds = {"", plan.technology, "wired" if plan.technology != "wireless" else ""}
        voip = {"voip" for s in out if isinstance(s, Service) and s.kind == "voip"}
        self._features = frozenset(kinds | voip)
        return out

    def _note(self, text: str) -> str:
        rng = self.rng
        return text.format(
            gear=self._gear, speed=int(self._speed * rng.uniform(0.9, 0.99)),
            channel=rng.choice((36, 44, 149, 157)), incident=rng.randrange(2000, 9999),
            hours=rng.randrange(2, 9), years=rng.randrange(2, 15), months=rng.randrange(2, 6),
            snr=round(rng.uniform(2.0, 6.5), 1), crc=rng.randrange(200, 5000),
            sector=rng.choice("ABCD"), rssi=rng.randrange(58, 66),
            firmware=f"2.{rng.randrange(3, 9)}.{rng.randrange(20)}")

    def _interactions(self, sub: Subscriber, ended: date | None) -> list[models.Model]:
        """Support cases within the last nine months while the account was open, each on its
        own ticket, some with follow-ups a few days later, at office hours (stored in UTC)."""
        rng = self.rng
        first = max(self.today - timedelta(days=HISTORY_DAYS), sub.service_started)
        days = ((ended or self.today) - first).days
        cases = rng.choices(range(6), weights=[38, 30, 17, 8, 4, 3])[0] if days > 2 else 0
        notes = [note for note in places.NOTES if note[2] in self._features]
        out: list[models.Model] = []
        for _ in range(cases):
            role, channel, _, text = rng.choice(notes)
            self.ticket += rng.randrange(1, 4)
            ticket = f"TKT-{self.ticket}" if rng.random() < 0.9 else ""
            # 12:00-23:59 UTC is 7:00-18:59 Central time, when the office answers.
            moment = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(
                days=rng.randrange(days - 1), hours=rng.randrange(12, 24),
                minutes=rng.randrange(60), seconds=rng.randrange(60))
            staff = rng.choice(self.staff[role])
            out.append(Interaction(subscriber=sub, ticket=ticket, channel=channel,
                                   summary=self._note(text), staff=staff, created=moment))
            for _ in range(rng.choices([0, 1, 2], weights=[65, 28, 7])[0] if ticket else 0):
                moment += timedelta(days=rng.randrange(1, 4), minutes=rng.randrange(-90, 90))
                if moment.date() >= (ended or self.today):
                    break
                channel, text = rng.choice(places.FOLLOW_UPS)
                out.append(Interaction(subscriber=sub, ticket=ticket, channel=channel,
                                       summary=text, staff=staff, created=moment))
        return out


def _insert(built: list[tuple[Subscriber, list[models.Model]]], rows: dict[str, int]) -> None:
    # The returned primary keys are set on each Subscriber; each child's foreign key picks
    # its parent's key up when the child is inserted.
    Subscriber.objects.bulk_create([sub for sub, _ in built])
    by_model: dict[type[models.Model], list[models.Model]] = {m: [] for m in CHILD_MODELS}
    for _, children in built:
        for child in children:
            by_model[type(child)].append(child)
    rows["subscriber"] = rows.get("subscriber", 0) + len(built)
    for model, objects in by_model.items():
        model._default_manager.bulk_create(objects, batch_size=CHUNK)
        name = model._meta.model_name or model.__name__
        rows[name] = rows.get(name, 0) + len(objects)


def seed_demo(count: int, seed: int, *, link_os_user: bool = True,
              progress: Callable[[int], None] | None = None,
              today: date | None = None) -> SeedResult:
    """Create the staff and `count` subscribers in one transaction, audited as `demo:seed`."""
    begun = time.perf_counter()
    policy = current_policy()
    actor = Actor.for_os_user()  # before the demo links this OS user to a staff member
    with transaction.atomic():
        credentials = create_staff(policy, link_os_user=link_os_user)
        by_role: dict[str, list[str]] = {}
        for credential in credentials:
            by_role.setdefault(credential.role, []).append(credential.username)
        generator = Generator(seed, today or datetime.now(UTC).date(), by_role)
        result = SeedResult(count, 0.0, staff=credentials)
        for start in range(0, count, CHUNK):
            size = min(CHUNK, count - start)
            _insert([generator.subscriber() for _ in range(size)], result.rows)
            if progress is not None:
                progress(size)
        record_event(actor, "demo:seed", Outcome.SUCCEEDED,
                     subject=f"demo:seed:{seed}/subscribers:{count}/staff:{len(credentials)}",
                     reason=f"{policy.organization.name} demo data created")
    result.seconds = time.perf_counter() - begun
    return result
