"""Signed checkpoints: the key, the signed text, incremental extension, automatic signing, and
the fast canonical encoding the verifier streams with."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.audit import keys
from cpniguard.audit.checkpoints import checkpoint_dict, create_checkpoint
from cpniguard.audit.integrity import verify_trail
from cpniguard.audit.models import AuditEntry, Checkpoint
from cpniguard.audit.rows import ListText, canonical_stored, stream_rows
from cpniguard.audit.trail import CHECKPOINT_EVERY, record, recorded_values
from cpniguard.audit.verifier import (
    ENTRY_FIELDS,
    GENESIS,
    MerkleTree,
    canonical,
    canonical_row,
    check_chain,
    checkpoint_message,
    entry_hash,
    key_id,
    leaf_hash,
    list_json,
    signature_problem,
)
from cpniguard.home import home
from tests.audit.conftest import drop_triggers

pytestmark = pytest.mark.django_db


def write(count: int) -> None:
    with transaction.atomic():
        for i in range(count):
            record(actor=f"staff{i % 3}", role="support", channel="web",
                   event="subscriber:record:read", outcome="allowed", purpose="troubleshooting",
                   reference=f"TKT-{100000 + i}", subject=f"subscriber:{i % 9 + 1}",
                   categories=["name", "account"], fields=["name.last_name"])


def test_the_key_is_private_and_named_by_its_public_half(db: None) -> None:
    private = keys.signing_key()
    path = home() / "keys" / keys.PRIVATE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    assert key_id(private.public_key()) == hashlib.sha256(raw).hexdigest()
    assert keys.signing_key().private_bytes_raw() == private.private_bytes_raw()  # reused
    assert key_id(private.public_key()) in keys.public_keys()


def test_a_replaced_key_still_verifies_what_it_signed(db: None, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    write(3)
    first = create_checkpoint()
    assert first is not None
    (tmp_path / "keys" / keys.PRIVATE_NAME).unlink()  # lost: a new key is made on next use
    write(2)
    second = create_checkpoint()
    assert second is not None
    assert first.key_id != second.key_id
    assert {first.key_id, second.key_id} <= set(keys.public_keys())
    assert verify_trail().ok


def test_a_checkpoint_signs_the_documented_text_over_the_tree_head(db: None) -> None:
    write(13)
    checkpoint = create_checkpoint()
    assert checkpoint is not None
    assert checkpoint.tree_size == 13
    tree = MerkleTree(leaf_hash(canonical(recorded_values(entry)))
                      for entry in AuditEntry.objects.order_by("seq"))
    assert checkpoint.root_hash == tree.root().hex()
    signed = checkpoint_dict(checkpoint)
    assert checkpoint_message(13, checkpoint.root_hash, signed["time"]) == (
        f"cpniguard audit checkpoint\n13\n{checkpoint.root_hash}\n{signed['time']}\n".encode())
    assert signature_problem(signed, keys.public_keys()) is None
    assert signature_problem({**signed, "tree_size": 12}, keys.public_keys())
    assert create_checkpoint() == checkpoint  # nothing new: the same checkpoint


def full_tree() -> MerkleTree:
    tree = MerkleTree()
    check_chain(stream_rows(), tree, lists=ListText())
    return tree


def test_checkpoints_extend_the_last_one_and_match_a_full_rebuild(db: None) -> None:
    write(5)
    first = create_checkpoint()
    write(17)
    second = create_checkpoint()
    assert first is not None
    assert second is not None
    stored = json.loads(second.frontier or "")
    assert len(stored["hashes"]) == bin(22).count("1")
    tree = full_tree()
    assert (tree.root(5).hex(), tree.root(22).hex()) == (first.root_hash, second.root_hash)
    # Without a usable frontier the next checkpoint is rebuilt from the first entry, and the
    # rebuilt tree must still match the last signed root.
    drop_triggers()
    Checkpoint.objects.filter(pk=second.pk).update(frontier="[]")
    write(3)
    third = create_checkpoint()
    assert third is not None
    assert third.tree_size == 25
    assert third.root_hash == full_tree().root().hex()
    assert verify_trail().ok


def test_every_thousandth_entry_schedules_a_checkpoint_after_commit(
        db: None, django_capture_on_commit_callbacks: Any) -> None:
    write(CHECKPOINT_EVERY - 1)
    assert not Checkpoint.objects.exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        write(1)
    assert len(callbacks) == 1
    assert Checkpoint.objects.get().tree_size == CHECKPOINT_EVERY
    report = verify_trail()
    assert report.ok
    assert report.tree_size == CHECKPOINT_EVERY


def test_parallel_pieces_give_the_same_verdict(db: None) -> None:
    write(70)
    create_checkpoint()
    whole = verify_trail(workers=1)
    pieces = verify_trail(workers=1, chunk=16)
    assert whole.ok
    assert pieces.ok
    assert (whole.entries, whole.root_hash) == (pieces.entries, pieces.root_hash) == (
        70, Checkpoint.objects.get().root_hash)


texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(values=st.fixed_dictionaries(dict.fromkeys(ENTRY_FIELDS, texts)),
       seq=st.integers(min_value=1, max_value=2**62),
       categories=st.lists(texts, max_size=4), fields=st.lists(texts, max_size=4))
def test_the_fast_encoding_is_the_canonical_one(values: dict[str, Any], seq: int,
                                               categories: list[str],
                                               fields: list[str]) -> None:
    entry = {**values, "seq": seq, "categories": categories, "fields": fields}
    row = tuple(entry[name] for name in ENTRY_FIELDS)
    assert canonical_row((*row[:9], list_json(categories), list_json(fields),
                          *row[11:])) == canonical(entry)
    # As streamed from the database: lists as stored JSON text (ASCII-escaped, spaced).
    entry.update(seq=1, prev_hash=GENESIS)
    stored = (*(entry[name] for name in ENTRY_FIELDS[:9]), json.dumps(categories),
              json.dumps(fields), *(entry[name] for name in ENTRY_FIELDS[11:]),
              entry_hash(entry))
    assert canonical_stored(stored, ListText()) == canonical(entry)
    tree = MerkleTree()
    assert check_chain([stored], tree, lists=ListText()) == (2, entry_hash(entry))
    assert tree.root() == leaf_hash(canonical(entry))
