"""The files that come with a legal request, kept once each by SHA-256 and never altered.

`$CPNIGUARD_HOME/legal/attachments/<sha256>` holds the bytes exactly as received, read-only.
A second request bringing the same file shares it. The file is written under a temporary
name, flushed to disk, made read-only and only then given its final name, so a crash leaves
either nothing or the whole file; a file already there is checked, never rewritten.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cpniguard.home import home

MAX_BYTES = 64 * 1024 * 1024


class AttachmentDamaged(RuntimeError):
    """The stored bytes no longer hash to their name: someone altered the file."""


@dataclass(frozen=True, slots=True)
class Stored:
    name: str
    size: int
    content_type: str
    sha256: str


def attachment_dir() -> Path:
    path = home() / "legal" / "attachments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_name(name: str) -> str:
    """The file's own name, without any directory a sender put in front of it."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base[:255] or "attachment"


def store(name: str, data: bytes, content_type: str = "") -> Stored:
    if len(data) > MAX_BYTES:
        raise ValueError(f"{name}: larger than {MAX_BYTES // 2**20} MB")
    sha = _digest(data)
    final = attachment_dir() / sha
    if final.exists():
        read(sha)  # raises if the kept copy was altered; the new bytes are identical anyway
    else:
        fd, temporary = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).chmod(0o444)
            Path(temporary).replace(final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    guessed = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Stored(safe_name(name), len(data), guessed[:100], sha)


def read(sha256: str) -> bytes:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    data = (attachment_dir() / sha256).read_bytes()
    if _digest(data) != sha256:
        raise AttachmentDamaged(f"attachment {sha256} has been altered on disk")
    return data
