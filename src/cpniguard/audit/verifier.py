"""Offline verification of the audit trail: standard library plus `cryptography`, nothing else.

Copied verbatim into every export bundle as verify_bundle.py, so an auditor can check the trail
with no database, no Django and no cpniguard installed:   python verify_bundle.py BUNDLE_DIR
(exit 0: intact; exit 1: the first problem is printed). The package imports the same code, so
the writer and the checker cannot disagree on how an entry is encoded or hashed.

Hash chain: entry_hash = hex SHA-256(canonical(entry)); canonical() is sorted-key compact UTF-8
JSON of ENTRY_FIELDS, whose prev_hash is the previous entry's entry_hash ("0"*64 for seq 1).

Merkle tree (RFC 9162 §2.1): the leaves are the canonical entry bytes in seq order; leaf hash
SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right), the empty tree's hash
SHA-256(""). Inclusion proofs follow §2.1.3, consistency proofs §2.1.4.

Checkpoint: an Ed25519 signature by the installation's audit key over the UTF-8 text
    "cpniguard audit checkpoint\n{tree_size}\n{root_hex}\n{time}\n"
with root_hex the lowercase hex Merkle tree head of the first tree_size entries and time in
UTC as 2026-01-31T12:00:00.000000Z. key_id = hex SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
EMPTY_ROOT = hashlib.sha256(b"").digest()
BUNDLE_FORMAT = "cpniguard-audit-bundle/1"
CHECKPOINT_HEADER = "cpniguard audit checkpoint"

# The fields of an entry, in the order they are documented; the hash covers all of them.
ENTRY_FIELDS = (
    "seq", "time", "actor", "role", "channel", "event", "purpose", "reference", "subject",
    "categories", "fields", "outcome", "rule", "reason", "request_id", "policy_version",
    "prev_hash",
)
# A row as the verifiers stream it: ENTRY_FIELDS then entry_hash, with `time` as the text that
# was hashed and `categories`/`fields` as their canonical JSON text (see list_json).
ROW_FIELDS = (*ENTRY_FIELDS, "entry_hash")
TEMPLATE = "{%s}" % ",".join(f'"{name}":%s' for name in sorted(ENTRY_FIELDS))  # noqa: UP031
_ORDER = tuple(ENTRY_FIELDS.index(name) for name in sorted(ENTRY_FIELDS))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(entry: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed: sorted-key compact JSON of the documented fields."""
    body = {name: entry[name] for name in ENTRY_FIELDS}
    return _json(body).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def list_json(value: Any) -> str:
    """Canonical JSON of a value, fast for the usual list of strings."""
    if value.__class__ is list and all(item.__class__ is str for item in value):
        return "[" + ",".join(map(encode_basestring, value)) + "]"
    return _json(value)


def canonical_row(row: Sequence[Any]) -> bytes:
    """canonical() of a row (ROW_FIELDS layout, lists already canonical JSON)."""
    return (TEMPLATE % tuple(row[i] if i in (9, 10) else _json(row[i]) for i in _ORDER)).encode()


# ---------------------------------------------------------------- Merkle tree (RFC 9162)

def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes | bytearray, right: bytes | bytearray) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:  # the largest power of two smaller than n (n > 1)
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Every perfect aligned subtree root (level j: 32-byte nodes packed in a bytearray), kept
    as leaves are appended, so the head of any prefix and any inclusion or consistency proof
    costs O(log^2 n) hashes."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.size = 0
        self.levels: list[bytearray] = [bytearray()]
        for h in leaf_hashes:
            self.append(h)

    def append(self, leaf: bytes) -> None:
        i, levels, j, h = self.size, self.levels, 0, leaf
        levels[0] += h
        while i & 1:
            h = hashlib.sha256(b"\x01" + levels[j][-64:-32] + h).digest()
            j, i = j + 1, i >> 1
            if j == len(levels):
                levels.append(bytearray())
            levels[j] += h
        self.size += 1

    def node(self, level: int, index: int) -> bytes:
        return bytes(self.levels[level][index * 32:index * 32 + 32])

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges that the RFC's recursion visits."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:
            return self.node(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"tree has {self.size} leaves, not {size}")
        return self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1."""
        if not 0 <= index < size <= self.size:
            raise ValueError("leaf index out of range")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index - start < k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start += k
        return proof[::-1]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1."""
        if not 0 <= first <= second <= self.size:
            raise ValueError("tree sizes out of range")
        if first in (0, second):
            return []
        proof: list[bytes] = []
        start, end, m, whole = 0, second, first, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            proof.append(self.subtree(start, end))
        return proof[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `leaf` (a leaf hash) sit at `index` of the tree with `root`?"""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (second, second_root) an extension of (first, ...)?"""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


# ---------------------------------------------------------------- checkpoints and the chain

def checkpoint_message(tree_size: int, root_hex: str, time: str) -> bytes:
    return f"{CHECKPOINT_HEADER}\n{tree_size}\n{root_hex}\n{time}\n".encode()


def key_id(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def signature_problem(checkpoint: dict[str, Any], keys: dict[str, Any]) -> str | None:
    """None if the checkpoint's signature is valid under the key it names, else why not."""
    from cryptography.exceptions import InvalidSignature

    key = keys.get(checkpoint["key_id"])
    if key is None:
        return f"signed by unknown key {checkpoint['key_id'][:16]}"
    message = checkpoint_message(checkpoint["tree_size"], checkpoint["root_hash"],
                                 checkpoint["time"])
    try:
        key.verify(bytes.fromhex(checkpoint["signature"]), message)
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    return None


class ChainBroken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"entry #{seq}: {reason}")
        self.seq = seq
        self.reason = reason


class _Same(dict[Any, Any]):
    def __missing__(self, key: Any) -> Any:
        return key


def check_chain(rows: Iterable[Sequence[Any]], tree: Any, *,
                expected: int = 1, prev: str = GENESIS,
                lists: dict[Any, str] | None = None) -> tuple[int, str]:
    """Check rows (ROW_FIELDS layout, seq order) continue the chain after entry `expected - 1`
    whose hash is `prev`, adding their leaves to `tree`. Returns (next seq, last hash); raises
    ChainBroken at the first bad entry. `tree` is anything with append(leaf_hash); `lists`
    maps each row's categories and fields to canonical JSON (default: they are that already)."""
    sha256, append, e, template = hashlib.sha256, tree.append, encode_basestring, TEMPLATE
    copy_leaf = sha256(b"\x00").copy
    lists = _Same() if lists is None else lists
    for row in rows:
        (seq, time, actor, role, channel, event, purpose, reference, subject, categories,
         fields, outcome, rule, reason, request_id, policy_version, prev_hash, digest) = row
        if seq != expected:
            if isinstance(seq, int) and seq > expected:
                raise ChainBroken(expected, f"missing (the next entry is #{seq})")
            raise ChainBroken(expected, f"out of order (found seq {seq!r})")
        try:  # canonical_row(), inlined: this loop is the verifier's whole cost
            data = (template % (
                e(actor), lists[categories], e(channel), e(event), lists[fields], e(outcome),
                e(policy_version), e(prev_hash), e(purpose), e(reason), e(reference),
                e(request_id), e(role), e(rule), seq, e(subject), e(time))).encode()
            if seq.__class__ is not int:
                raise TypeError("seq")
        except TypeError:
            data = _slow_canonical(row, lists)
        except UnicodeError as error:
            raise ChainBroken(seq, f"cannot be encoded: {error}") from None
        if prev_hash != prev:
            if seq > 1 and sha256(data).hexdigest() == digest:  # as written: the one before
                raise ChainBroken(seq - 1, f"its entry_hash is not the one entry #{seq} "
                                  "was chained to (replaced, its hash recomputed)")
            raise ChainBroken(seq, "prev_hash does not match the previous entry's hash")
        if sha256(data).hexdigest() != digest:
            raise ChainBroken(seq, "content does not match its entry_hash (edited)")
        leaf = copy_leaf()
        leaf.update(data)
        append(leaf.digest())
        prev = digest
        expected += 1
    return expected, prev


def _slow_canonical(row: Sequence[Any], lists: dict[Any, str]) -> bytes:
    try:
        return canonical_row((*row[:9], lists[row[9]], lists[row[10]], *row[11:]))
    except (TypeError, ValueError, UnicodeError):
        return b""  # cannot be the hashed bytes of any entry: reported as edited


# ---------------------------------------------------------------- bundles

def _bundle_rows(path: Path) -> Iterable[tuple[Any, ...]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                yield (*(entry[name] for name in ENTRY_FIELDS[:9]),
                       list_json(entry["categories"]), list_json(entry["fields"]),
                       *(entry[name] for name in ROW_FIELDS[11:]))
            except (ValueError, KeyError, TypeError) as error:
                raise ChainBroken(number, f"line {number} is not a valid entry: {error}") from None


def load_public_keys(directory: Path) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys = [load_pem_public_key(pem.read_bytes()) for pem in directory.glob("public_key*.pem")]
    return {key_id(key): key for key in keys}


def verify_bundle(directory: str | Path, report: Any = print) -> bool:
    """Check an export bundle; `report` receives one line per finding. True if intact."""
    folder = Path(directory)
    manifest = json.loads((folder / "checkpoints.json").read_text(encoding="utf-8"))
    if manifest.get("format") != BUNDLE_FORMAT:
        report(f"FAILED: unknown bundle format {manifest.get('format')!r}")
        return False
    keys, checkpoints = load_public_keys(folder), manifest["checkpoints"]
    tree = MerkleTree()
    try:
        count = check_chain(_bundle_rows(folder / "entries.jsonl"), tree)[0] - 1
    except ChainBroken as broken:
        report(f"FAILED: {broken}")
        return False
    report(f"chain: {count} entries, seq 1..{count} contiguous, every hash recomputed")
    previous: dict[str, Any] | None = None
    for cp in checkpoints:
        size = cp["tree_size"]
        if previous is not None and size <= previous["tree_size"]:
            report(f"FAILED: checkpoints out of order at tree size {size}")
            return False
        if size > count:
            report(f"FAILED: entry #{count + 1}: missing (checkpoint {size} covers it)")
            return False
        problem = signature_problem(cp, keys)
        if problem is None and tree.root(size).hex() != cp["root_hash"]:
            problem = "root does not match the entries (rewritten)"
        if problem is None and previous is not None and not verify_consistency(
                previous["tree_size"], size, bytes.fromhex(previous["root_hash"]),
                bytes.fromhex(cp["root_hash"]), [bytes.fromhex(h) for h in cp["consistency"]]):
            problem = f"not consistent with checkpoint {previous['tree_size']}"
        if problem:
            start = previous["tree_size"] + 1 if previous else 1
            report(f"FAILED: entry #{start}: checkpoint {size} (entries {start}..{size}): "
                   f"{problem}")
            return False
        previous = cp
    last = previous["tree_size"] if previous else 0
    if count != last:
        report(f"FAILED: entry #{last + 1}: not covered by a signed checkpoint")
        return False
    report(f"checkpoints: {len(checkpoints)} signatures valid, roots recomputed, "
           "each consistent with the one before")
    if count and previous is not None:
        index = count // 2
        proof = tree.inclusion_proof(index, count)
        ok = verify_inclusion(index, count, tree.node(0, index), proof,
                              bytes.fromhex(previous["root_hash"]))
        report(f"inclusion: entry #{index + 1} in the tree of {count} "
               f"({len(proof)} proof hashes): {'ok' if ok else 'FAILED'}")
        if not ok:
            return False
        report(f"root of the last checkpoint: {previous['root_hash']}")
    report(f"OK: the bundle is intact ({count} entries, {len(checkpoints)} checkpoints)")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        return print("usage: python verify_bundle.py BUNDLE_DIR", file=sys.stderr) or 2
    try:
        return 0 if verify_bundle(args[0]) else 1
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"FAILED: cannot read the bundle: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
