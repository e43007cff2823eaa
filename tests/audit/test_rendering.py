"""On SQLite the verifier's fast path lets the database render each entry's canonical JSON. It
must render real entries byte for byte as Python does (or the fast path would be dead weight),
and no change to a stored value may render back to the original bytes (or it would hide the
change). The attacks run on PostgreSQL too, against its raw-column path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpniguard.audit.models import AuditEntry, ChainHead
from cpniguard.audit.rows import _canonical_sql
from cpniguard.audit.trail import format_time, record, recorded_values
from cpniguard.audit.verifier import GENESIS, canonical, entry_hash
from tests.audit.conftest import drop_triggers, sql

pytestmark = pytest.mark.django_db
Verify = Callable[[], tuple[int, dict[str, Any]]]

# Any text PostgreSQL can store (no NUL, no lone surrogates): quotes, backslashes, control
# characters, DEL, U+2028, accents, emoji...
texts = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                max_size=20)
# Category and field names are identifiers. SQLite keeps the \uXXXX escapes Django stores them
# with for other characters, so such a list takes the slow path there (still verified: below).
names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=20)


def rendered() -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, {_canonical_sql()} FROM audit_auditentry")
        return dict(cursor.fetchall())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actor=texts, reason=texts, subject=texts, reference=texts,
       categories=st.lists(names, max_size=3), fields=st.lists(names, max_size=3))
def test_the_database_renders_entries_exactly_as_python(
        db: None, actor: str, reason: str, subject: str, reference: str,
        categories: list[str], fields: list[str]) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite renders entries in SQL")
    with transaction.atomic():
        entry = record(actor=actor, role="support", channel="web", event="e", outcome="allowed",
                       reason=reason, subject=subject, reference=reference,
                       categories=categories, fields=fields)
        text = rendered()[entry.seq]
        assert text.encode() == canonical(recorded_values(entry))
        transaction.set_rollback(True)


def test_entries_the_database_renders_otherwise_still_verify(verify: Verify) -> None:
    with transaction.atomic():
        for odd in ("\x7f", "é", "\u2028", "\\\"", "\x1f"):
            record(actor=odd, role="support", channel="web", event="e", outcome="allowed",
                   categories=[odd], fields=[odd, "x"], reason=odd)
    code, report = verify()
    assert code == 0, report
    assert report["entries"] == 5


def test_an_entry_written_on_a_whole_second_verifies(verify: Verify) -> None:
    # SQLite stores such a time without its ".000000"; the hashed text always has it.
    moment = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    values = {"seq": 1, "time": format_time(moment), "actor": "support1", "role": "support",
              "channel": "web", "event": "e", "purpose": "", "reference": "", "subject": "",
              "categories": [], "fields": [], "outcome": "allowed", "rule": "", "reason": "",
              "request_id": "", "policy_version": "", "prev_hash": GENESIS}
    AuditEntry.objects.create(**{**values, "time": moment}, entry_hash=entry_hash(values))
    ChainHead.objects.create(pk=1, seq=1, entry_hash=entry_hash(values))
    code, report = verify()
    assert code == 0, report


def write(count: int) -> None:
    with transaction.atomic():
        for i in range(count):
            record(actor="support1", role="support", channel="web", event="e",
                   outcome="allowed", categories=[] if i == 3 else ["name"],
                   fields=["name.last_name"], reason="ok")


SAME_LOOKING = [
    ("UPDATE audit_auditentry SET categories = '[null]' WHERE seq = 4", 4),
    ("UPDATE audit_auditentry SET categories = '{}' WHERE seq = 4", 4),
    ("UPDATE audit_auditentry SET categories = '[\"name\", null]' WHERE seq = 5", 5),
    ("UPDATE audit_auditentry SET fields = '\"name.last_name\"' WHERE seq = 6", 6),
    ("UPDATE audit_auditentry SET fields = '[\"name.last_name\", \"\"]' WHERE seq = 7", 7),
]
SQLITE_ONLY = [
    ("UPDATE audit_auditentry SET seq = '6x' WHERE seq = 6", 6),
    ("UPDATE audit_auditentry SET reason = X'6f6b' WHERE seq = 2", 2),  # the bytes of "ok"
    ("UPDATE audit_auditentry SET categories = 'not json' WHERE seq = 3", 3),
    ("UPDATE audit_auditentry SET time = 12345 WHERE seq = 8", 8),
    ("UPDATE audit_auditentry SET actor = 5 WHERE seq = 9", 9),
]


@pytest.mark.parametrize(("statement", "first_bad"), SAME_LOOKING + SQLITE_ONLY)
def test_a_changed_value_never_renders_back(verify: Verify, statement: str,
                                            first_bad: int) -> None:
    if (statement, first_bad) in SQLITE_ONLY and connection.vendor != "sqlite":
        pytest.skip("SQLite lets a column hold a value of another type")
    write(10)
    assert verify()[0] == 0
    drop_triggers()
    if connection.vendor == "sqlite":  # and the JSON_VALID check on the list columns
        sql("PRAGMA ignore_check_constraints = ON")
    try:
        sql(statement)
    finally:
        if connection.vendor == "sqlite":
            sql("PRAGMA ignore_check_constraints = OFF")
    code, report = verify()
    assert code == 1
    assert report["first_bad_seq"] == first_bad, report
