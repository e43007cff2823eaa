"""Offline verification of an exported audit bundle: standard library plus `cryptography`.

This file is copied verbatim into every export bundle, so an auditor can check the trail with
no database, no Django and no cpniguard installed:

    python verify_bundle.py BUNDLE_DIR

The package imports the same functions, so the writer and the checker cannot disagree on how an
entry is encoded or hashed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64

# The fields of an entry, in the order they are documented; the hash covers all of them.
ENTRY_FIELDS = (
    "seq", "time", "actor", "role", "channel", "event", "purpose", "reference", "subject",
    "categories", "fields", "outcome", "rule", "reason", "request_id", "policy_version",
    "prev_hash",
)


def canonical(entry: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed: sorted-key compact JSON of the documented fields."""
    body = {name: entry[name] for name in ENTRY_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()
