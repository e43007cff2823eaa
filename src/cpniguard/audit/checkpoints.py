"""Signed checkpoints: an Ed25519 signature over the Merkle tree head of the first N entries.

A checkpoint is cheap to extend: each stores its Merkle frontier (the O(log n) perfect-subtree
roots of its tree), so the next one only hashes the entries added since. The stored frontier
is trusted only after it folds back to the signed root of that checkpoint, and the new entries
must continue the hash chain, so a tampered trail is never signed over: `CheckpointRefused`.

Made by `cpniguard audit checkpoint`, before every `audit verify` report and `audit export`,
and automatically after every CHECKPOINT_EVERY entries (`trail.record` schedules it for after
the commit, so the write path stays O(1)).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from cpniguard.audit.keys import signing_key
from cpniguard.audit.models import ChainHead, Checkpoint
from cpniguard.audit.rows import check_stored, entry_hash_at
from cpniguard.audit.trail import CHECKPOINT_EVERY, format_time
from cpniguard.audit.verifier import (
    EMPTY_ROOT,
    GENESIS,
    ChainBroken,
    checkpoint_message,
    key_id,
    node_hash,
)

log = logging.getLogger(__name__)
__all__ = ["CHECKPOINT_EVERY", "CheckpointRefused", "Frontier", "create_checkpoint"]


class Frontier:
    """The roots of the perfect subtrees that make up a tree: enough to extend it and to compute
    its head, O(log n) hashes; each append costs one node hash on average."""

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError("frontier does not match its tree size")

    def append(self, leaf: bytes) -> None:
        n, stack, h = self.size, self.hashes, leaf
        while n & 1:
            h = hashlib.sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            root = node_hash(h, root)
        return root


class CheckpointRefused(RuntimeError):
    """The trail does not extend the last signed checkpoint; nothing was signed."""


def checkpoint_dict(cp: Checkpoint) -> dict[str, Any]:
    return {"tree_size": cp.tree_size, "root_hash": cp.root_hash, "time": format_time(cp.time),
            "key_id": cp.key_id, "signature": cp.signature}


def _frontier_of(cp: Checkpoint) -> tuple[Frontier, str] | None:
    """The checkpoint's stored frontier and last entry hash, if they fold to its signed root."""
    try:
        stored = json.loads(cp.frontier or "null")
        frontier = Frontier(cp.tree_size, [bytes.fromhex(h) for h in stored["hashes"]])
        last = str(stored["entry_hash"])
    except (TypeError, ValueError, KeyError):
        return None
    return (frontier, last) if frontier.root().hex() == cp.root_hash else None


def _extend(last: Checkpoint | None, size: int) -> tuple[Frontier, str]:
    """The tree of the first `size` entries, built on `last` where its frontier can be used."""
    start, prev = 0, GENESIS
    stored = _frontier_of(last) if last is not None else None
    try:
        if last is not None and stored is not None:
            frontier, start, prev = stored[0], last.tree_size, stored[1]
            if entry_hash_at(start) != prev:
                raise ChainBroken(start, f"changed since checkpoint {start} was signed")
        else:
            frontier = Frontier()
            if last is not None:  # no usable frontier: rebuild, and match the signed root
                start, prev = check_stored(frontier, 0, last.tree_size, prev=GENESIS)
                start -= 1
                if start != last.tree_size or frontier.root().hex() != last.root_hash:
                    raise CheckpointRefused(
                        f"entries 1..{last.tree_size} no longer match checkpoint "
                        f"{last.tree_size}")
        prev = check_stored(frontier, start, size, prev=prev)[1]
    except ChainBroken as broken:
        raise CheckpointRefused(f"not signing a broken chain: {broken}") from None
    if frontier.size != size:
        raise CheckpointRefused(f"not signing a broken chain: entry #{frontier.size + 1}: "
                                "missing below the chain head")
    return frontier, prev


def create_checkpoint(now: datetime | None = None) -> Checkpoint | None:
    """Sign the tree head of every entry up to the chain head; None if the trail is empty.

    Returns the existing checkpoint if the head has one already. Needs no lock: entries are
    immutable, so everything up to the head read at the start is stable.
    """
    # The last checkpoint first, then the head: the head only grows, so a checkpoint beyond
    # it means entries were removed, not that another signer overtook this one.
    last = Checkpoint.objects.order_by("-tree_size").first()
    head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    if head == 0 and last is None:
        return None
    if last is not None and last.tree_size >= head:
        if last.tree_size > head:
            raise CheckpointRefused(
                f"checkpoint {last.tree_size} is beyond the chain head #{head} (truncated)")
        return last
    frontier, last_hash = _extend(last, head)
    key = signing_key()
    root = frontier.root().hex()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    signature = key.sign(checkpoint_message(head, root, format_time(moment))).hex()
    checkpoint = Checkpoint(tree_size=head, root_hash=root, time=moment,
                            key_id=key_id(key.public_key()), signature=signature,
                            frontier=json.dumps({"hashes": [h.hex() for h in frontier.hashes],
                                                 "entry_hash": last_hash}))
    # A concurrent signer may have checkpointed the same size first: keep theirs.
    with transaction.atomic():
        Checkpoint.objects.bulk_create([checkpoint], ignore_conflicts=True)
    return Checkpoint.objects.get(tree_size=head)


def checkpoint_after_commit() -> None:
    """The automatic checkpoint run after a commit: never lets a failure reach the writer."""
    try:
        create_checkpoint()
    except Exception:  # the trail stays verifiable; `audit verify` reports what is wrong
        log.exception("automatic audit checkpoint failed")
