"""Shared pieces for retention tests: a real store on tmp_path, rows, and the CLI as a role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.cli import main
from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.store import OPEN_END, EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.index import PartitionIndex
from cpniguard.connectivity.store.schema import address_key, to_us

OS_USER = "records"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"


def row(network: str, start: datetime, end: datetime | None, *, username: str = "",
        mac: str = "", session_id: str = "", source: str = "radius-detail",
        sha256: str = "ab" * 32, line: int = 1) -> StoredInterval:
    hi, lo, plen = address_key(network)
    stop = OPEN_END if end is None else to_us(end)
    return StoredInterval(
        hi=hi, lo=lo, plen=plen, start=to_us(start), end=stop, original_start=to_us(start),
        original_end=stop, source=source, username=username, mac=mac, session_id=session_id,
        evidence=(Evidence(f"/logs/{source}.log", line, sha256),))


def content(store: EmbeddedLogStore, source: str | None = None) -> list[tuple[str, str]]:
    """(day, username or session id) of every visible row, sorted: what readers can see."""
    seen = []
    for info in store.partitions(source):
        rows = PartitionIndex(info.manifest).read_rows(list(range(info.rows)))
        seen.extend((info.day, r.username or r.session_id or str(r.address))
                    for r in rows.values())
    return sorted(seen)


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedLogStore:
    return EmbeddedLogStore(tmp_path / "logstore")


@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch,
            make_staff: Callable[..., StaffUser]) -> Callable[[str], StaffUser]:
    """Link the OS user running the CLI to a fresh staff member of `role`."""
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)

    def link(role: str) -> StaffUser:
        StaffUser.objects.filter(os_username=OS_USER).update(os_username=None)
        return make_staff(role, username=f"{role}-{StaffUser.objects.count() + 1}",
                          os_username=OS_USER)

    return link


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
