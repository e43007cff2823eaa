"""Connectivity logs for a subscriber named by account or phone: every address they had inside
the named dates, cut at the range's edges, only while an identity was linked to them, and
nothing at all when the request names no dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.legal.production import produce
from cpniguard.subscribers.models import Subscriber
from tests.legal.desk_setup import CUSTODIAN, RANGE, approved, link, session, store

pytestmark = pytest.mark.django_db
__all__ = ["store"]  # the fixture, used by name

NOV = datetime(2026, 11, 1, tzinfo=UTC)


def account_request(subpoena: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {**subpoena, "date_range": RANGE, "categories": ["name", "connectivity_logs"],
            "targets": [{"kind": "account", "value": "A1000001"}], **more}


def log_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    data = json.loads((Path(view["production"]["directory"]) / "data.json").read_text())
    return [r for r in data["rows"] if r["category"] == "connectivity_logs"]


def test_an_account_target_gets_its_addresses_inside_the_range_cut_at_its_edges(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    link(subscriber, "alice", since=datetime(2026, 10, 1, tzinfo=UTC))
    session(store, "192.0.2.31", "alice", start=NOV - timedelta(hours=2), hours=4, line=1)
    session(store, "192.0.2.32", "alice", start=NOV + timedelta(days=5), line=2)
    session(store, "192.0.2.33", "alice", start=NOV - timedelta(days=10), line=3)  # before
    session(store, "192.0.2.34", "alice", start=NOV + timedelta(days=40), line=4)  # after
    session(store, "192.0.2.35", "erin", start=NOV + timedelta(days=6), line=5)  # not theirs
    view = produce(CUSTODIAN, approved(account_request(subpoena)))

    rows = log_rows(view)
    addresses = sorted(r["value"] for r in rows if r["field"] == "assigned_address")
    assert addresses == ["192.0.2.31", "192.0.2.32"]
    starts = {r["value"] for r in rows if r["field"] == "session_start"}
    assert starts == {"2026-11-01T00:00:00Z (in progress when the named range begins)",
                      "2026-11-06T00:00:00Z"}
    assert all("2026-11-01T00:00:00Z" <= r["at"] <= "2026-11-28T00:00:00Z" for r in rows)
    assert {r["clause"] for r in rows} == {
        "target 1: account A1000001; category connectivity_logs; allowed by 18 U.S.C. "
        "2703(c)(2) for a grand jury subpoena"}
    evidence = {r["value"] for r in rows if r["field"] == "evidence"}
    assert evidence == {f"/logs/radius-detail.log:{n} sha256 {'cd' * 32}" for n in (1, 2)}


def test_an_identity_counts_only_while_it_was_linked_to_the_subscriber(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    link(subscriber, "alice", since=NOV + timedelta(days=3))  # the login moved to them later
    session(store, "192.0.2.41", "alice", start=NOV + timedelta(days=1), line=1)
    session(store, "192.0.2.42", "alice", start=NOV + timedelta(days=4), line=2)
    rows = log_rows(produce(CUSTODIAN, approved(account_request(subpoena))))
    assert [r["value"] for r in rows if r["field"] == "assigned_address"] == ["192.0.2.42"]


def test_without_a_named_date_range_no_log_row_is_produced_and_the_answer_says_why(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    link(subscriber, "alice")
    session(store, "192.0.2.51", "alice", start=NOV + timedelta(days=1))
    document = account_request(subpoena)
    del document["date_range"]
    view = produce(CUSTODIAN, approved(document))
    assert log_rows(view) == []
    [answer] = view["production"]["answers"]
    assert answer["status"] == "records"
    assert "names no date range" in answer["note"]


def test_no_linked_identity_means_no_log_rows_and_a_plain_note(
        store: EmbeddedLogStore, subscriber: Subscriber, subpoena: dict[str, Any]) -> None:
    session(store, "192.0.2.61", "alice", start=NOV + timedelta(days=1))
    view = produce(CUSTODIAN, approved(account_request(subpoena)))
    assert log_rows(view) == []
    [answer] = view["production"]["answers"]
    assert "no connectivity logs for this subscriber" in answer["note"]
