"""Shared fixtures: staff in every role, a small set of subscribers, actors per channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cpniguard.access import Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.policy import Policy, current_policy
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

ROLES = ("support", "billing", "noc", "custodian", "compliance", "auditor", "admin")
STAFF_PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def policy() -> Policy:
    return current_policy()


@pytest.fixture
def make_staff(db: None) -> Callable[..., StaffUser]:
    def make(role: str, username: str | None = None, **extra: object) -> StaffUser:
        user = StaffUser(username=username or f"{role}1", role=role, **extra)
        user.set_password(STAFF_PASSWORD)
        user.save()
        return user

    return make


@pytest.fixture
def actor_for() -> Callable[[str], Actor]:
    def make(role: str, channel: Channel = Channel.CLI) -> Actor:
        return Actor(f"{role}1", role, channel)

    return make


@pytest.fixture
def subscriber(db: None) -> Subscriber:
    """One fully populated fictional subscriber."""
    sub = Subscriber.objects.create(
        account_number="A1000001", first_name="Dana", last_name="Whitfield",
        service_started=dt.date(2019, 4, 2),
    )
    Address.objects.create(subscriber=sub, kind="billing", line1="PO Box 118",
                           city="Millbrook", state="VT", postal_code="05660")
    Address.objects.create(subscriber=sub, kind="service", line1="42 Orchard Hill Rd",
                           city="Millbrook", state="VT", postal_code="05660")
    Phone.objects.create(subscriber=sub, number="+18025550142", primary=True)
    Email.objects.create(subscriber=sub, address="dana.whitfield@example.net", primary=True)
    BillingInfo.objects.create(subscriber=sub, method="card", processor="ExamplePay",
                               processor_token="tok_8f3b2a", last4="4242")
    Service.objects.create(subscriber=sub, kind="broadband", plan="Fiber 300", down_mbps=300,
                           up_mbps=300, started=dt.date(2019, 4, 2))
    Service.objects.create(subscriber=sub, kind="voip", plan="Home Voice",
                           voip_number="+18025550199", started=dt.date(2020, 1, 15))
    Equipment.objects.create(subscriber=sub, kind="router", model="EX-AX1800",
                             serial="SN0042", mac="02:00:5e:10:00:42")
    Interaction.objects.create(subscriber=sub, ticket="TKT-100042", channel="phone",
                               summary="Intermittent drops in the evening", staff="support1")
    return sub


@pytest.fixture(scope="session", autouse=True)
def _end_stray_database_sessions(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Let the test database be dropped at the end on PostgreSQL.

    Live-server threads and forked verify workers can leave a backend that PostgreSQL has not
    reaped yet when pytest-django drops the database, which then fails the whole run.
    """
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
