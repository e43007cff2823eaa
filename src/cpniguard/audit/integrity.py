"""Verifying the stored trail: the hash chain, the chain head, and every signed checkpoint.

Finds an edit, deletion, insertion, reordering or truncation anywhere, and names the first
entry that is wrong. A chain break names the exact entry. A trail rewritten consistently (every
hash recomputed) is caught by the signed checkpoints and located to the entries between the
last checkpoint that still matches and the first that does not.

The limits of a log that lives in the database it protects: someone able to rewrite the
database can append entries after the newest checkpoint that cannot be told from real ones
(checkpoints are signed often, every 1000 entries and on every verify and export, to keep that
window small), and can delete the checkpoints themselves and then rewrite everything. Against
that, only a tree head kept elsewhere helps: an export bundle, or the SIZE:ROOT its README
names, checked with `cpniguard audit verify --pin SIZE:ROOT`.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection, connections

from cpniguard.audit.checkpoints import checkpoint_dict
from cpniguard.audit.keys import public_keys
from cpniguard.audit.models import ChainHead, Checkpoint
from cpniguard.audit.rows import check_stored, entry_hash_at, next_seq
from cpniguard.audit.verifier import (
    GENESIS,
    ChainBroken,
    MerkleTree,
    node_hash,
    signature_problem,
    verify_consistency,
)

PARALLEL_FROM = 100_000  # entries; below this, starting worker processes is not worth it
CHUNK = 1 << 16  # entries per piece of work; a power of two (see _chunks)


@dataclass
class Report:
    ok: bool = True
    entries: int = 0
    head: int | None = None
    checkpoints: int = 0
    first_bad_seq: int | None = None
    problem: str = ""
    problems: list[dict[str, Any]] = field(default_factory=list)
    tree_size: int = 0
    root_hash: str = ""
    seconds: float = 0.0
    entries_per_second: float = 0.0

    def fail(self, seq: int, reason: str) -> None:
        self.ok = False
        self.problems.append({"seq": seq, "reason": reason})

    def finish(self, started: float) -> Report:
        self.seconds = round(time.perf_counter() - started, 3)
        self.entries_per_second = round(self.entries / self.seconds) if self.seconds else 0
        if self.problems:
            first = min(self.problems, key=lambda p: p["seq"])
            self.first_bad_seq, self.problem = first["seq"], first["reason"]
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_head(report: Report, count: int, last_hash: str, before: int) -> None:
    """The chain head against the last entry. `before` is the head read before the entries
    were streamed: entries up to it had all been committed, so any of them missing was
    removed. Entries beyond it may be new, if the head moved on with them meanwhile."""
    head = ChainHead.objects.filter(pk=1).values_list("seq", "entry_hash").first()
    if head is None:
        if count:
            report.fail(count + 1, "the chain head record is missing, so entries after "
                        f"#{count} may have been deleted")
        return
    seq, digest = head
    report.head = seq
    if count < before or seq < before:
        report.fail(count + 1, f"missing: the chain head is #{max(seq, before)}, the last "
                    f"entry #{count} (entries deleted from the end)")
    elif count > seq:
        report.fail(seq + 1, f"beyond the chain head #{seq} (inserted)")
    elif count == seq and seq and digest != last_hash:
        report.fail(seq, "its hash does not match the chain head (replaced)")


def _check_checkpoints(report: Report, tree: MerkleTree, broken_at: int | None,
                       checkpoints: list[dict[str, Any]]) -> None:
    """Signatures, roots and consistency. Past a chain break (`broken_at`), which already
    names the exact entry, a covering checkpoint could only add a vaguer report."""
    keys = public_keys()
    report.checkpoints = len(checkpoints)
    previous: dict[str, Any] | None = None
    for cp in checkpoints:
        size, start = cp["tree_size"], (previous["tree_size"] + 1 if previous else 1)
        where = f"checkpoint {size} (entries {start}..{size})"
        problem = signature_problem(cp, keys)
        if problem is None and broken_at is not None and size >= broken_at:
            return
        if problem is None and size > tree.size:
            report.fail(tree.size + 1, f"missing: {where} covers entries up to #{size} "
                        "(entries deleted from the end)")
            return
        if problem is None and tree.root(size).hex() != cp["root_hash"]:
            problem = "the entries no longer match the signed root (rewritten)"
        if problem is None and previous is not None:
            first = previous["tree_size"]
            if not verify_consistency(first, size, bytes.fromhex(previous["root_hash"]),
                                      bytes.fromhex(cp["root_hash"]),
                                      tree.consistency_proof(first, size)):
                problem = f"not consistent with checkpoint {first}"
        if problem:
            report.fail(start, f"{where}: {problem}")
        else:
            report.tree_size, report.root_hash = size, cp["root_hash"]
        previous = cp


def join(tree: MerkleTree, size: int, levels: Sequence[bytes]) -> None:
    """Append to `tree` a tree of `size` leaves given by its levels (built by a worker). Costs
    no hashing below the top when tree.size is a multiple of 2**(len(levels) - 1), as it is
    for chunks cut by _chunks; otherwise the leaves are appended one by one."""
    base = tree.size
    if base % (1 << (len(levels) - 1)):
        for i in range(size):
            tree.append(bytes(levels[0][i * 32:i * 32 + 32]))
        return
    for j, level in enumerate(levels):
        if j == len(tree.levels):
            tree.levels.append(bytearray())
        tree.levels[j] += level
    tree.size += size
    j = 0
    while j < len(tree.levels) and len(tree.levels[j]) >= 64:  # the nodes above both parts
        if j + 1 == len(tree.levels):
            tree.levels.append(bytearray())
        below, above = tree.levels[j], tree.levels[j + 1]
        for k in range(len(above) // 32, len(below) // 64):
            above += node_hash(below[k * 64:k * 64 + 32], below[k * 64 + 32:k * 64 + 64])
        j += 1


def _chunk(bounds: tuple[int, int | None]) -> tuple[int, list[bytes], tuple[int, str] | None,
                                                     str]:
    """Check the entries after < seq <= upto (a worker's share): (number checked, their
    tree's levels, first problem, last hash). The link into the chunk is checked against the
    stored hash of entry `after`; if that entry is wrong, an earlier chunk reports it first."""
    after, upto = bounds
    tree = MerkleTree()
    prev = GENESIS if after == 0 else (entry_hash_at(after) or "")
    problem, last = None, prev
    try:
        expected, last = check_stored(tree, after, upto, prev=prev)
        if upto is not None and expected <= upto:
            following = next_seq(expected)
            reason = "missing" + (f" (the next entry is #{following})" if following else "")
            problem = (expected, reason)
    except ChainBroken as broken:
        problem = (broken.seq, broken.reason)
    return tree.size, [bytes(level) for level in tree.levels], problem, last


def _chunks(head: int, workers: int, chunk: int | None) -> list[tuple[int, int | None]]:
    """Cut (0, head] into pieces of a power-of-two size, so that the workers' trees join
    without rehashing, and small enough to share out evenly; the last piece is open-ended so
    that entries beyond the head are seen too."""
    if workers <= 1 and chunk is None:
        return [(0, None)]
    size = chunk or CHUNK
    starts = list(range(0, max(head, 1), size))
    return [(a, a + size) for a in starts[:-1]] + [(starts[-1], None)]


def _run(bounds: list[tuple[int, int | None]], workers: int) -> list[Any]:
    if workers <= 1 or len(bounds) == 1 or connection.in_atomic_block:
        return [_chunk(b) for b in bounds]
    connections.close_all()  # each forked worker opens its own connection
    with multiprocessing.get_context("fork").Pool(min(workers, len(bounds))) as pool:
        return pool.map(_chunk, bounds, chunksize=1)  # in order; each worker keeps its connection


def _check_pins(report: Report, tree: MerkleTree, pins: Sequence[tuple[int, str]]) -> None:
    """Tree heads recorded outside the database (from an export's README, a ticket...): the
    one defence against someone who deletes the signed checkpoints and rewrites the trail."""
    for size, root in pins:
        if size > tree.size:
            report.fail(tree.size + 1, f"missing: the recorded tree head {size} covers entries "
                        f"up to #{size}")
        elif tree.root(size).hex() != root.lower():
            report.fail(1, f"entries 1..{size} do not match the tree head recorded for them "
                        "(rewritten)")


def verify_trail(workers: int = 1, chunk: int | None = None,
                 pins: Sequence[tuple[int, str]] = ()) -> Report:
    """Check the whole trail; `report.ok` is False after any tampering.

    With workers > 1 a trail of PARALLEL_FROM entries or more is checked by that many forked
    processes taking contiguous pieces of CHUNK (or `chunk`) entries in turn; not inside a
    transaction, whose uncommitted rows a worker could not see. `chunk` with one worker (tests)
    cuts the trail the same way but checks the pieces in this process. `pins` are (tree size,
    root hex) pairs recorded elsewhere that the trail must still match.
    """
    started = time.perf_counter()
    report = Report()
    # Checkpoints, then the head, then the entries: each was complete when the one before was
    # written, so nothing written meanwhile by a live system looks like a deletion.
    checkpoints = [checkpoint_dict(cp) for cp in Checkpoint.objects.order_by("tree_size")]
    head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    if head < PARALLEL_FROM and chunk is None:
        workers = 1
    tree, last_hash, intact = MerkleTree(), GENESIS, True
    for size, levels, problem, last in _run(_chunks(head, workers, chunk), workers):
        if not intact:
            break
        join(tree, size, levels)
        last_hash = last
        if problem is not None:
            intact = False
            report.fail(*problem)
    report.entries = tree.size
    if intact:
        _check_head(report, tree.size, last_hash, head)
    broken_at = None if intact else report.problems[0]["seq"]
    _check_checkpoints(report, tree, broken_at, checkpoints)
    _check_pins(report, tree, [(size, root) for size, root in pins
                               if broken_at is None or size < broken_at])
    return report.finish(started)
