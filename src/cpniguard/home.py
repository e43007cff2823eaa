"""Where cpniguard keeps its data: `$CPNIGUARD_HOME`, default `./var`."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    path = Path(os.environ.get("CPNIGUARD_HOME", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_file(name: str, length: int = 50) -> str:
    """Read a secret kept under the data directory, creating it (mode 0600) on first use.

    Secrets are generated per installation so that no two deployments share one and none is
    ever committed.
    """
    import secrets

    keys = home() / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    path = keys / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(length))
    return path.read_text().strip()
