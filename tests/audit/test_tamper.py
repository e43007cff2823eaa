"""Rewriting history: the database refuses it, and an attacker who drops the triggers first is
caught by `cpniguard audit verify`, which names the first bad entry. Runs on SQLite and on
PostgreSQL (scripts/with-postgres). Every change here is rolled back with the test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from cpniguard.audit.integrity import verify_trail
from cpniguard.audit.models import AuditEntry, ChainHead, Checkpoint
from cpniguard.audit.trail import recorded_values
from cpniguard.audit.verifier import entry_hash
from tests.audit.conftest import CHECKPOINTED, drop_triggers, sql

pytestmark = pytest.mark.django_db
Verify = Callable[[], tuple[int, dict[str, Any]]]


def refused(statement: str) -> bool:
    with pytest.raises(DatabaseError) as error, transaction.atomic():  # savepoint: PostgreSQL
        sql(statement)                                                 # aborts the rest else
    return "append-only" in str(error.value)


def test_the_database_refuses_update_delete_and_truncate(trail: int) -> None:
    assert refused("UPDATE audit_auditentry SET purpose = 'billing' WHERE seq = 3")
    assert refused("DELETE FROM audit_auditentry WHERE seq = 3")
    assert refused("DELETE FROM audit_auditentry")
    assert refused("UPDATE audit_checkpoint SET root_hash = 'x'")
    assert refused("DELETE FROM audit_checkpoint")
    if connection.vendor == "postgresql":
        assert refused("TRUNCATE audit_auditentry")
        assert refused("TRUNCATE audit_checkpoint")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(reason="nothing happened")
    assert AuditEntry.objects.count() == trail


def test_an_intact_trail_verifies(trail: int, verify: Verify) -> None:
    code, report = verify()
    assert (code, report["ok"], report["entries"], report["head"]) == (0, True, trail, trail)
    assert report["first_bad_seq"] is None
    assert report["checkpoint"]["tree_size"] == trail  # signed afterwards
    assert verify()[0] == 0


def rehash(seq: int, **changes: Any) -> str:
    """Rewrite entry `seq` with `changes`, recomputing its own hash; returns the new hash."""
    values = {**recorded_values(AuditEntry.objects.get(seq=seq)), **changes}
    digest = entry_hash(values)
    sql("UPDATE audit_auditentry SET purpose = %s, prev_hash = %s, entry_hash = %s "
        "WHERE seq = %s", [values["purpose"], values["prev_hash"], digest, seq])
    return digest


def rehash_only(seq: int) -> None:
    rehash(seq, purpose="billing")


def rewrite_from(seq: int, **changes: Any) -> None:
    """Edit entry `seq` and recompute every hash after it, and the chain head: a consistent
    forgery that only the signed checkpoints can catch."""
    digest = rehash(seq, **changes)
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]
    for later in range(seq + 1, last + 1):
        digest = rehash(later, prev_hash=digest)
    sql("UPDATE audit_chainhead SET entry_hash = %s", [digest])


def swap(a: int, b: int) -> None:
    sql("UPDATE audit_auditentry SET seq = -1 WHERE seq = %s", [a])
    sql("UPDATE audit_auditentry SET seq = %s WHERE seq = %s", [a, b])
    sql("UPDATE audit_auditentry SET seq = %s WHERE seq = -1", [b])


def insert_after(seq: int, fix_head: bool = True) -> None:
    """Make room after `seq` and insert a well-formed forged entry chained to it."""
    sql("UPDATE audit_auditentry SET seq = -seq WHERE seq > %s", [seq])
    sql("UPDATE audit_auditentry SET seq = 1 - seq WHERE seq < 0")
    forged = {**recorded_values(AuditEntry.objects.get(seq=seq)), "seq": seq + 1,
              "actor": "nobody", "prev_hash": AuditEntry.objects.get(seq=seq).entry_hash}
    entry = AuditEntry(**{k: v for k, v in forged.items() if k != "time"},
                       time=AuditEntry.objects.get(seq=seq).time, entry_hash=entry_hash(forged))
    entry.save(force_insert=True)
    if fix_head:
        ChainHead.objects.filter(pk=1).update(seq=AuditEntry.objects.count())


def delete_tail_fix_head(keep: int) -> None:
    sql("DELETE FROM audit_auditentry WHERE seq > %s", [keep])
    sql("UPDATE audit_chainhead SET seq = %s, entry_hash = %s",
        [keep, AuditEntry.objects.get(seq=keep).entry_hash])


def run(statement: str, *params: Any) -> Callable[[], None]:
    return lambda: sql(statement, list(params))


ATTACKS: dict[str, tuple[Callable[[], None], int, str]] = {
    "edit a field": (run("UPDATE audit_auditentry SET purpose = 'billing' WHERE seq = 12"),
                     12, "edited"),
    "edit the last entry": (run("UPDATE audit_auditentry SET actor = 'x' WHERE seq = 30"), 30,
                            "edited"),
    "edit and rehash one entry": (lambda: rehash_only(12), 12,
                                  "replaced"),
    "delete a middle entry": (run("DELETE FROM audit_auditentry WHERE seq = 15"), 15,
                              "missing"),
    "delete the first entry": (run("DELETE FROM audit_auditentry WHERE seq = 1"), 1,
                               "missing"),
    "insert a forged entry": (lambda: insert_after(10), 12, "does not match"),
    "append a forged entry": (lambda: insert_after(30, fix_head=False), 31,
                              "beyond the chain head"),
    "append a forged entry, move the head": (lambda: insert_after(30), 31,
                                             "does not match the chain head"),
    "swap two entries": (lambda: swap(5, 6), 5, "does not match"),
    "delete the tail": (run("DELETE FROM audit_auditentry WHERE seq > 24"), 25, "missing"),
    "delete the tail and fix the head": (lambda: delete_tail_fix_head(15), 16,
                                         f"covers entries up to #{CHECKPOINTED}"),
    "rewrite the chain consistently": (lambda: rewrite_from(7, purpose="billing"), 1,
                                       "no longer match the signed root"),
    "forge the checkpoint's root": (run("UPDATE audit_checkpoint SET root_hash = %s",
                                        "ab" * 32), 1, "signature does not verify"),
    "delete the chain head": (run("DELETE FROM audit_chainhead"), 31,
                              "chain head record is missing"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_tampering_is_found_and_located(trail: int, verify: Verify, attack: str) -> None:
    assert verify()[0] == 0
    assert Checkpoint.objects.filter(tree_size=trail).exists()  # verify signed one more
    tamper, first_bad, why = ATTACKS[attack]
    drop_triggers()
    tamper()
    code, report = verify()
    assert code == 1, report
    assert report["ok"] is False
    assert report["first_bad_seq"] == first_bad, report
    assert why in report["problem"], report
    assert report["checkpoint"] is None  # nothing is signed over a broken trail
    # Checked in pieces, as worker processes check a large trail: the same verdict.
    pieces = verify_trail(chunk=8)
    assert (pieces.ok, pieces.first_bad_seq, pieces.problem) == (
        False, report["first_bad_seq"], report["problem"])


def test_the_report_names_the_entry_in_plain_text(
        trail: int, run_cli: Callable[..., tuple[int, str]]) -> None:
    drop_triggers()
    sql("DELETE FROM audit_auditentry WHERE seq = 15")
    code, out = run_cli("audit", "verify")
    assert code == 1
    assert "first bad entry #15: missing (the next entry is #16)" in out


def test_a_rewritten_past_is_not_signed_over(trail: int, verify: Verify,
                                             run_cli: Callable[..., tuple[int, str]]) -> None:
    drop_triggers()
    rewrite_from(7, purpose="billing")
    code, out = run_cli("audit", "checkpoint")
    assert code == 1
    assert f"entry #{CHECKPOINTED}: changed since checkpoint {CHECKPOINTED}" in out
    assert not Checkpoint.objects.filter(tree_size=trail).exists()
    # Even with the stored frontier doctored too, a checkpoint signed now would not hide it.
    sql("UPDATE audit_checkpoint SET frontier = NULL")
    assert run_cli("audit", "checkpoint")[0] == 1
    assert verify()[1]["first_bad_seq"] == 1


def test_a_recorded_tree_head_catches_a_rewrite_whose_checkpoints_were_deleted(
        trail: int, verify: Verify, run_cli: Callable[..., tuple[int, str]]) -> None:
    # What an export's README tells the auditor to write down.
    pinned = Checkpoint.objects.get(tree_size=CHECKPOINTED)
    pin = f"{pinned.tree_size}:{pinned.root_hash}"
    assert run_cli("audit", "verify", "--pin", pin)[0] == 0
    drop_triggers()
    rewrite_from(7, purpose="billing")
    sql("DELETE FROM audit_checkpoint")
    # Nothing in the database is left to tell: this is the limit of any self-contained log.
    assert verify()[0] == 0
    code, out = run_cli("audit", "verify", "--pin", pin)
    assert code == 1
    assert "first bad entry #1: entries 1..20 do not match the tree head recorded" in out
    code, out = run_cli("audit", "verify", "--pin", f"{trail + 5}:{pinned.root_hash}")
    assert code == 1
    assert f"#{trail + 1}: missing" in out
    with pytest.raises(SystemExit):
        run_cli("audit", "verify", "--pin", "20:xyz")
