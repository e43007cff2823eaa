"""Export bundles: the trail and its signed checkpoints, checkable offline by anyone.

A bundle directory holds
  entries.jsonl      one entry per line: the hashed values and entry_hash, in seq order
  checkpoints.json   every signed checkpoint, each with the RFC 9162 consistency proof from the
                     one before it
  public_key*.pem    the Ed25519 public key(s) the checkpoints are signed with
  verify_bundle.py   a verbatim copy of cpniguard/audit/verifier.py (stdlib + cryptography)
  README.txt         what all this is and how to check it
Call through `services.export_bundle`, which asks the policy and audits the export.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from cpniguard.audit import verifier
from cpniguard.audit.checkpoints import checkpoint_dict
from cpniguard.audit.keys import public_keys, public_pem, signing_key
from cpniguard.audit.models import ChainHead, Checkpoint
from cpniguard.audit.rows import ListText, canonical_stored, stream_rows
from cpniguard.audit.trail import format_time
from cpniguard.audit.verifier import BUNDLE_FORMAT, MerkleTree, key_id

README = """\
cpniguard audit trail export
============================

Exported {exported} from the audit trail of this cpniguard installation: {entries} entries
(seq 1..{entries}) and {checkpoints} signed checkpoints. Newest signed tree head:

    tree size  {tree_size}
    root hash  {root_hash}
    key id     {key_id}

Write these values down somewhere the database administrator cannot change them (a ticket,
a signed letter, an email to the auditor). A later export whose checkpoint at this tree size
has a different root, or is not consistent with it, proves the trail was rewritten; so does

    cpniguard audit verify --pin {tree_size}:{root_hash}

failing on the live installation at any later time.

To check this bundle (Python 3.11+ and the `cryptography` package; nothing else):

    python verify_bundle.py .

It recomputes every entry's SHA-256 hash and the chain of prev_hash links, recomputes the
RFC 9162 Merkle tree head at every checkpoint and checks its Ed25519 signature, checks the
consistency proof between consecutive checkpoints, and checks an inclusion proof for a sample
entry. It exits 0 if everything holds, or 1 naming the first bad entry.

Files
-----
entries.jsonl     one JSON object per line: the hashed fields and entry_hash. The hash is
                  SHA-256 of the sorted-key compact UTF-8 JSON of every field except
                  entry_hash; prev_hash is the previous entry's entry_hash (64 zeros for seq 1).
checkpoints.json  the signed checkpoints, oldest first. Each signature is over the text
                  "cpniguard audit checkpoint\\n<tree_size>\\n<root_hash>\\n<time>\\n".
                  "consistency" is the RFC 9162 section 2.1.4 proof from the one before.
public_key*.pem   the Ed25519 public key(s); key_id = SHA-256 of the raw 32-byte key.
verify_bundle.py  the verifier (a copy of cpniguard/audit/verifier.py).

The entries name staff, purposes, references and subscriber numbers, never customer data
values. Still, treat this bundle as confidential.
"""


def _prepare(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty; export into a new directory")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _keys(directory: Path) -> list[str]:
    current = key_id(signing_key().public_key())
    written = []
    for kid, key in sorted(public_keys().items()):
        name = "public_key.pem" if kid == current else f"public_key-{kid[:16]}.pem"
        _write(directory / name, public_pem(key))
        written.append(kid)
    return written


def write_bundle(directory: Path) -> dict[str, Any]:
    """Write every entry up to the chain head, the checkpoints and the verifier to `directory`
    (which must be new or empty). Returns a summary."""
    _prepare(directory)
    head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    tree = MerkleTree()
    leaf_prefix = hashlib.sha256(b"\x00")
    entries_path = directory / "entries.jsonl"
    lists = ListText()
    with entries_path.open("wb") as out:
        for row in stream_rows(0, head):
            data = canonical_stored(row, lists)
            hashed = encode_basestring(str(row[17])).encode()
            out.write(data[:-1] + b',"entry_hash":' + hashed + b"}\n")
            leaf = leaf_prefix.copy()
            leaf.update(data)
            tree.append(leaf.digest())
    entries_path.chmod(0o600)
    checkpoints: list[dict[str, Any]] = []
    for cp in Checkpoint.objects.filter(tree_size__lte=tree.size).order_by("tree_size"):
        item = checkpoint_dict(cp)
        first = checkpoints[-1]["tree_size"] if checkpoints else 0
        item["consistency"] = [h.hex() for h in tree.consistency_proof(first, cp.tree_size)]
        checkpoints.append(item)
    exported = format_time(datetime.now(UTC))
    newest = checkpoints[-1] if checkpoints else {"tree_size": 0, "root_hash": "", "key_id": ""}
    key_ids = _keys(directory)
    manifest = {"format": BUNDLE_FORMAT, "exported": exported, "entries": tree.size,
                "key_ids": key_ids, "checkpoints": checkpoints}
    _write(directory / "checkpoints.json",
           (json.dumps(manifest, indent=1) + "\n").encode())
    _write(directory / "verify_bundle.py", Path(verifier.__file__).read_bytes())
    _write(directory / "README.txt", README.format(
        exported=exported, entries=tree.size, checkpoints=len(checkpoints),
        tree_size=newest["tree_size"], root_hash=newest["root_hash"] or "(none)",
        key_id=newest["key_id"] or "(none)").encode())
    return {"directory": str(directory), "entries": tree.size,
            "checkpoints": len(checkpoints), "tree_size": newest["tree_size"],
            "root_hash": newest["root_hash"], "key_id": newest["key_id"]}
