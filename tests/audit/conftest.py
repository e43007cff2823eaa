"""A real trail to attack: entries written through the access gate, a signed checkpoint, and the
tools of an attacker who can run SQL (and so can drop the append-only triggers)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from cpniguard import cli
from cpniguard.access import AccessRefused, Actor, Channel
from cpniguard.audit.checkpoints import create_checkpoint
from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers import services
from cpniguard.subscribers.models import Subscriber

_triggers: Any = importlib.import_module("cpniguard.audit.migrations.0002_append_only_triggers")

TRAIL = 30
CHECKPOINTED = 20


def write_entries(subscriber: Subscriber, count: int) -> None:
    """`count` entries as staff really make them: reads, refusals, a search."""
    support = Actor("support1", "support", Channel.WEB)
    for i in range(count):
        if i % 7 == 3:
            with pytest.raises(AccessRefused):
                services.detail(support, subscriber.pk, purpose="marketing")
        elif i % 5 == 4:
            services.search(support, subscriber.account_number, purpose="troubleshooting",
                            reference=f"TKT-{100000 + i}")
        else:
            services.detail(support, subscriber.pk, purpose="troubleshooting",
                            reference=f"TKT-{100000 + i}")


@pytest.fixture
def trail(subscriber: Subscriber) -> int:
    """30 entries; a signed checkpoint over the first 20. Returns the number of entries."""
    write_entries(subscriber, CHECKPOINTED)
    assert create_checkpoint() is not None
    write_entries(subscriber, TRAIL - CHECKPOINTED)
    assert AuditEntry.objects.count() == TRAIL
    return TRAIL


def drop_triggers() -> None:
    """What an attacker with the database password does first."""
    with connection.cursor() as cursor:
        for table in _triggers.TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


@pytest.fixture
def verify(run_cli: Callable[..., tuple[int, str]]) -> Callable[[], tuple[int, dict[str, Any]]]:
    """`cpniguard audit verify --json`: (exit code, report)."""

    def run() -> tuple[int, dict[str, Any]]:
        code, out = run_cli("audit", "verify", "--json")
        return code, json.loads(out)

    return run
