"""A small real log store and identity links for the attribution tests of every channel.

One evening in the store of `$CPNIGUARD_HOME/logstore` (the default store the web UI, the
API and the CLI all open), with one question of each kind:

- 192.0.2.10: one RADIUS session of `dana@example.net`, linked to the `subscriber` fixture
  (Dana Whitfield) -> match, naming her;
- 192.0.2.20: a handover from `alice` to `bob` one second after the instant -> ambiguous;
- 203.0.113.7 without a port: a CGNAT public address -> port_required, nobody named;
- 203.0.113.7:2050: the port block to inside 100.64.0.6, held by `dana-cgnat`, also linked to
  her -> match through the translation step;
- 198.51.100.99: nothing -> no_match.

The instant is asked as 2017-03-29 14:05:03 in Los Angeles (PDT, UTC-7): 21:05:03 UTC.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.store import OPEN_END, EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.schema import address_key, to_us
from cpniguard.subscribers.models import Subscriber

T0 = datetime(2017, 3, 29, 21, 0, tzinfo=UTC)
AT_TEXT = "2017-03-29T14:05:03-07:00"
AT_ZONED = "2017-03-29 14:05:03 America/Los_Angeles"
AT_NAIVE = "2017-03-29T14:05:03"
AT_UTC = "2017-03-29T21:05:03+00:00"
AT_SHOWN = "2017-03-29 21:05:03 +00:00"  # the UI's `when` filter
HANDOVER = T0 + timedelta(minutes=5, seconds=4)

MATCH, AMBIGUOUS, SHARED, CGNAT, NOBODY = (
    "192.0.2.10", "192.0.2.20", "203.0.113.7", "203.0.113.7:2050", "198.51.100.99")
QUESTIONS = {MATCH: "match", AMBIGUOUS: "ambiguous", SHARED: "port_required",
             CGNAT: "match", NOBODY: "no_match"}

RADIUS_LOG = "/var/log/freeradius/radacct/192.0.2.1/detail-20170329"
NAT_LOG = "/var/log/cgnat/nat-20170329.log"


def sha256_of(path: str) -> str:
    return hashlib.sha256(f"fictional contents of {path}\n".encode()).hexdigest()


def _row(network: str, start: datetime, end: datetime | None, *, source: str, file: str,
         line: int, username: str = "", ports: tuple[int, int] | None = None,
         session_id: str = "", last_seen: datetime | None = None) -> StoredInterval:
    hi, lo, plen = address_key(network)
    first, last = ports or (-1, -1)
    stop = OPEN_END if end is None else to_us(end)
    return StoredInterval(
        hi=hi, lo=lo, plen=plen, start=to_us(start), end=stop, original_start=to_us(start),
        original_end=stop, source=source,
        last_seen=None if last_seen is None else to_us(last_seen), port_first=first,
        port_last=last, username=username, session_id=session_id, flags="",
        evidence=(Evidence(file, line, sha256_of(file)),))


def build_store(root: Path) -> EmbeddedLogStore:
    store = EmbeddedLogStore(root)
    hour = T0 + timedelta(hours=1)
    store.add("radius", [
        _row("192.0.2.10/32", T0, hour, source="radius", file=RADIUS_LOG, line=14,
             username="dana@example.net"),
        _row("192.0.2.20/32", T0, HANDOVER, source="radius", file=RADIUS_LOG, line=40,
             username="alice"),
        _row("192.0.2.20/32", HANDOVER, None, source="radius", file=RADIUS_LOG, line=77,
             username="bob", last_seen=HANDOVER + timedelta(minutes=5)),
        _row("100.64.0.5/32", T0, hour, source="radius", file=RADIUS_LOG, line=91,
             username="carol"),
        _row("100.64.0.6/32", T0, hour, source="radius", file=RADIUS_LOG, line=118,
             username="dana-cgnat"),
    ])
    store.add("cgnat", [
        _row("203.0.113.7/32", T0, hour, source="cgnat", file=NAT_LOG, line=3,
             ports=(1024, 2047), session_id="inside=100.64.0.5"),
        _row("203.0.113.7/32", T0, hour, source="cgnat", file=NAT_LOG, line=4,
             ports=(2048, 3071), session_id="inside=100.64.0.6"),
    ])
    return store


def link(subscriber: Subscriber) -> None:
    since = datetime(2017, 1, 1, tzinfo=UTC)
    for value in ("dana@example.net", "dana-cgnat"):
        IdentityLink.objects.create(subscriber=subscriber, kind=IdentityLink.Kind.USERNAME,
                                    value=value, valid_from=since)


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            subscriber: Subscriber) -> EmbeddedLogStore:
    """The scene in a private `$CPNIGUARD_HOME`, so the default store is this one."""
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    link(subscriber)
    return build_store(tmp_path / "logstore")
