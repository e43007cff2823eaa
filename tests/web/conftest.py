"""Fixtures for the web UI tests, and the one allowance browser tests need from the audit trail.

Browser tests run against pytest-django's `live_server`, whose requests come from another
thread and connection, so their data must be committed: such tests are transactional and
Django empties every table when they end ("flush": DELETE on SQLite, TRUNCATE on PostgreSQL).
The audit tables refuse exactly that, by trigger, which is the point of them. So for the
teardown of a transactional test only, the hook below lifts those triggers and restores them
straight after the flush, before the next test starts; production schema is untouched and no
other test ever sees the trail deletable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from pytest_django.plugin import blocking_manager_key

from cpniguard.accounts.models import StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.policy import current_policy

_triggers: Any = importlib.import_module("cpniguard.audit.migrations.0002_append_only_triggers")
# The disclosure log refuses DELETE and TRUNCATE the same way (kept as long as the policy says).
_kept: Any = importlib.import_module("cpniguard.legal.migrations.0003_disclosure_log_kept")


def _flushes(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if names & {"live_server", "transactional_db"}:
        return True
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


def _lift_audit_triggers() -> None:
    with connection.cursor() as cursor:
        for table in _triggers.TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_truncate")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {_kept.TABLE} DISABLE TRIGGER {_kept.TABLE}_no_truncate")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {_kept.TABLE}_kept")


def _restore_audit_triggers(test_database: str) -> None:
    # After the session's last test the test database is usually destroyed and the connection
    # points back at the real one, which must not be touched; with --reuse-db it is kept,
    # and gets its triggers back.
    if connection.settings_dict["NAME"] != test_database:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in _triggers.TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_truncate")
            cursor.execute(f"ALTER TABLE {_kept.TABLE} ENABLE TRIGGER {_kept.TABLE}_no_truncate")
        else:
            # CREATE TRIGGER IF NOT EXISTS: idempotent
            for statement in [*_triggers.SQLITE, *_kept.SQLITE]:
                cursor.execute(statement)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    if not _flushes(item):
        return (yield)
    blocker = item.config.stash[blocking_manager_key]
    test_database = connection.settings_dict["NAME"]
    with blocker.unblock():
        _lift_audit_triggers()
    try:
        return (yield)
    finally:
        with blocker.unblock():
            _restore_audit_triggers(test_database)


@pytest.fixture
def staff_client(make_staff: Callable[..., StaffUser]) -> Callable[..., tuple[Client, StaffUser]]:
    """A client signed in as a new staff member of `role`, second factor passed if needed.

    The session is forced (no password hashing); the sign-in pages have their own tests.
    """

    def make(role: str, username: str | None = None) -> tuple[Client, StaffUser]:
        user = make_staff(role, username)
        client = Client()
        client.force_login(user)
        if current_policy().roles[role].second_factor:
            session = client.session
            session[SESSION_KEY] = True
            session.save()
        return client, user

    return make
