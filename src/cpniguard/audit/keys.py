"""The installation's Ed25519 audit key: `$CPNIGUARD_HOME/keys/audit-ed25519.pem` (mode 0600).

Created on first use. Its public half is also written beside it as `audit-ed25519.pub.pem`.
A retired key's public half can be kept as `audit-ed25519-<anything>.pub.pem` in the same
directory, so checkpoints it signed still verify after a rotation.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cpniguard.audit.verifier import key_id
from cpniguard.home import home

PRIVATE_NAME = "audit-ed25519.pem"
PUBLIC_NAME = "audit-ed25519.pub.pem"


def keys_dir() -> Path:
    path = home() / "keys"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _publish(private: Ed25519PrivateKey, directory: Path) -> None:
    """Write the public half beside the key. A different one already there belonged to a key
    that was replaced: keep it as a retired key, so what it signed still verifies."""
    public = directory / PUBLIC_NAME
    pem = public_pem(private.public_key())
    if public.exists() and public.read_bytes() != pem:
        old = serialization.load_pem_public_key(public.read_bytes())
        public.rename(directory / f"audit-ed25519-{key_id(old)[:16]}.pub.pem")
    if not public.exists():
        public.write_bytes(pem)


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


@cache
def _load(path: str, mtime_ns: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def signing_key() -> Ed25519PrivateKey:
    """The audit signing key, generated (mode 0600) the first time it is needed.

    Two processes racing to create it both end up with the one that was linked first: each
    writes a private temporary file and links it into place, which fails if the key exists.
    """
    directory = keys_dir()
    path = directory / PRIVATE_NAME
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".audit-key-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    key = _load(str(path), path.stat().st_mtime_ns)
    _publish(key, directory)
    return key


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every public key checkpoints may be signed with, by key_id. Never creates a key."""
    directory = keys_dir()
    found: dict[str, Ed25519PublicKey] = {}
    private = directory / PRIVATE_NAME
    if private.exists():
        key = _load(str(private), private.stat().st_mtime_ns).public_key()
        found[key_id(key)] = key
    for pem in sorted(directory.glob("audit-ed25519*.pub.pem")):
        public = serialization.load_pem_public_key(pem.read_bytes())
        if isinstance(public, Ed25519PublicKey):
            found[key_id(public)] = public
    return found
