"""Pieces for production, preservation and transparency tests: a real log store the desk's
attribution reads (CPNIGUARD_LOGSTORE), identity links, and requests carried to `approved`
by two different people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cpniguard.access import Actor, Channel
from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.store import OPEN_END, EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.schema import address_key, to_us
from cpniguard.legal import workflow
from cpniguard.legal.intake import take_in
from cpniguard.subscribers.models import Subscriber

CUSTODIAN = Actor("dana", "custodian", Channel.CLI)
COUNSEL = Actor("casey", "counsel", Channel.API)
SESSION_START = datetime(2026, 11, 18, 19, 0, tzinfo=UTC)
ASKED_AT = "2026-11-18T14:05:03-06:00"  # 20:05:03 UTC, inside the session
RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-28T00:00:00Z"}


def interval(network: str, start: datetime, end: datetime | None, *, username: str = "",
             ports: tuple[int, int] | None = None, session_id: str = "",
             source: str = "radius-detail", line: int = 1) -> StoredInterval:
    hi, lo, plen = address_key(network)
    first, last = ports or (-1, -1)
    stop = OPEN_END if end is None else to_us(end)
    return StoredInterval(
        hi=hi, lo=lo, plen=plen, start=to_us(start), end=stop, original_start=to_us(start),
        original_end=stop, source=source, port_first=first, port_last=last,
        username=username, session_id=session_id,
        evidence=(Evidence(f"/logs/{source}.log", line, "cd" * 32),))


def session(store: EmbeddedLogStore, address: str, username: str,
            start: datetime = SESSION_START, hours: int = 2, line: int = 1) -> None:
    store.add("radius-detail", [interval(f"{address}/32", start, start + timedelta(hours=hours),
                                  username=username, line=line)])


def link(subscriber: Subscriber, username: str,
         since: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> IdentityLink:
    return IdentityLink.objects.create(subscriber=subscriber, kind="username", value=username,
                                       valid_from=since)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EmbeddedLogStore:
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", str(tmp_path / "logstore"))
    return EmbeddedLogStore(tmp_path / "logstore")


def approved(document: dict[str, Any], *, by: Actor = CUSTODIAN) -> str:
    """Take a request in and carry it to `approved`: custodian, then counsel."""
    reference = str(take_in(by, document)["reference"])
    workflow.transition(by, reference, "validating")
    workflow.approve(by, reference)
    workflow.approve(COUNSEL, reference)
    return reference
