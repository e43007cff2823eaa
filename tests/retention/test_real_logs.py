"""Retention over real sample logs ingested the ordinary way: held rows of one RADIUS file
survive beside unheld ones, and quarantined lines expire with their file's data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.models import IngestedFile, OpenInterval, QuarantinedLine
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.retention.models import LegalHold, PurgeRecord
from tests.retention.conftest import FIXTURES, content

pytestmark = pytest.mark.django_db

V3 = FIXTURES / "synthetic-v3-detail.txt"             # 4 sessions on 2024-03-04
JUNIPER = FIXTURES / "synthetic-juniper-pba.log"       # 4 port blocks, 4 quarantined lines
MALFORMED = FIXTURES / "synthetic-detail-malformed.txt"  # no usable record: 7 quarantined
Cli = Callable[..., tuple[int, str, str]]


def ingest(path: Path, fmt: str, store: EmbeddedLogStore) -> IngestedFile:
    ingest_file(path, fmt, "UTC", store.root, year=2017)
    return IngestedFile.objects.get(sha256__isnull=False, path=str(path.resolve()))


def place(cli: Cli, identifier: str, *extra: str, start: str = "2024-03-04T00:00:00Z",
          end: str = "2024-03-05T00:00:00Z") -> int:
    code, out, err = cli("hold", "create", "--identifier", identifier, *extra, "--from", start,
                         "--to", end, "--expires", "2099-01-01T00:00:00Z",
                         "--reference", "LR-2026-0042", "--json")
    assert code == 0, err
    return int(json.loads(out)["holds"][0]["id"])


def test_a_held_subscriber_survives_beside_the_others_of_the_same_file(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    as_role("custodian")
    ingest(V3, "radius-detail", store)
    [partition] = store.partitions()
    before = content(store)
    alice = [seen for seen in before if seen[1] == "alice@example.net"]
    assert alice
    assert len(alice) < len(before)  # alice and others, in one partition
    held = place(cli, "alice@example.net", "--kind", "username")
    as_role("admin")
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert code == 0
    [day] = json.loads(out)["days"]
    assert (day["day"], day["partitions"], day["removed"], day["kept"], day["holds"]) == (
        "2024-03-04", [partition.part], len(before) - len(alice), len(alice), [held])
    assert content(store) == alice
    # Attribution still answers for the held subscriber, and no longer for the others.
    at = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)
    assert [m.interval.username for m in store.lookup("198.51.100.23", at)] == [
        "alice@example.net"]
    assert store.lookup("203.0.113.7", at) == []


def test_quarantined_lines_expire_with_their_file(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    as_role("admin")
    juniper = ingest(JUNIPER, "juniper-nat", store)
    malformed = ingest(MALFORMED, "radius-detail", store)
    assert (juniper.quarantine.count(), malformed.quarantine.count()) == (4, 7)
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert code == 0
    data = json.loads(out)
    assert [(f["sha256"], f["lines"], f["holds"]) for f in data["files"]] == [
        (juniper.sha256, 4, [])]
    # The lines of the NAT log are gone; the file's row stays, marked purged.
    assert not QuarantinedLine.objects.filter(file=juniper).exists()
    assert IngestedFile.objects.filter(pk=juniper.pk, status="complete").exists()
    record = PurgeRecord.objects.get(kind="file")
    assert (record.file_id, record.lines_removed, record.source) == (juniper.pk, 4,
                                                                     "juniper-nat")
    entry = AuditEntry.objects.get(event="connectivity:quarantine:purge")
    assert (entry.subject, entry.outcome) == (f"logfile:{juniper.sha256}", "succeeded")
    assert content(store, "juniper-nat") == []
    # The malformed file gave no rows, so its ingest (today) bounds its age: it stays...
    assert malformed.quarantine.count() == 7
    # ...until that is past the retention period too.
    IngestedFile.objects.filter(pk=malformed.pk).update(
        started=datetime.now(UTC) - timedelta(days=200))
    assert cli("retention", "run", "--store", str(store.root))[0] == 0
    assert malformed.quarantine.count() == 0
    # Re-ingesting a purged file is still recognised: the expired data does not come back.
    result = ingest_file(JUNIPER, "juniper-nat", "UTC", store.root, year=2017)
    assert result.already_ingested
    assert content(store, "juniper-nat") == []


def test_a_hold_keeps_a_files_quarantine_and_its_cgnat_block(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli) -> None:
    as_role("custodian")
    juniper = ingest(JUNIPER, "juniper-nat", store)
    # The inside address leads from the public port block to the subscriber's line.
    held = place(cli, "100.64.0.5", start="2024-11-03T06:00:00Z", end="2024-11-03T07:00:00Z")
    as_role("admin")
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert code == 0
    data = json.loads(out)
    assert [(f["sha256"], f["holds"]) for f in data["files"]] == [(juniper.sha256, [held])]
    assert juniper.quarantine.count() == 4
    assert content(store, "juniper-nat") == [("2024-11-03", "inside=100.64.0.5/32")]
    # Released, it protects nothing: the next run takes the block and the quarantine.
    as_role("custodian")
    assert cli("hold", "release", str(held), "--reference", "LR-2026-0042")[0] == 0
    as_role("admin")
    assert cli("retention", "run", "--store", str(store.root))[0] == 0
    assert content(store, "juniper-nat") == []
    assert juniper.quarantine.count() == 0
    assert LegalHold.objects.get(pk=held).released is not None



def _open_session_log(path: Path) -> Path:
    """A detail file whose one session is still open at its end (2024, long expired)."""
    lines = []
    for status, minute in (("Start", 0), ("Interim-Update", 50)):
        at = datetime(2024, 3, 4, 23, minute, tzinfo=UTC)
        lines.append("\n".join([
            at.strftime("%a %b %d %H:%M:%S %Y"), '\tAcct-Session-Id = "S-OPEN-1"',
            f"\tAcct-Status-Type = {status}", '\tUser-Name = "alice@example.net"',
            "\tNAS-IP-Address = 192.0.2.1", "\tFramed-IP-Address = 198.51.100.9",
            f"\tTimestamp = {int(at.timestamp())}"]) + "\n\n")
    path.write_text("".join(lines))
    return path


def test_the_open_session_registry_expires_with_its_file(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli,
        tmp_path: Path) -> None:
    """The registry holds device, session id, address and times: log data, kept no longer."""
    as_role("admin")
    record = ingest(_open_session_log(tmp_path / "detail-open"), "radius-detail", store)
    [entry] = OpenInterval.objects.filter(file=record)
    assert (entry.session_id, entry.address) == ("S-OPEN-1", "198.51.100.9/32")
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--dry-run", "--json")
    assert code == 0
    assert [(f["sha256"], f["open_sessions"]) for f in json.loads(out)["files"]] == [
        (record.sha256, 1)]
    assert OpenInterval.objects.filter(file=record).exists()  # a dry run deletes nothing
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["totals"]["open_sessions_removed"] == 1
    assert not OpenInterval.objects.exists()
    assert content(store, "radius-detail") == []
    audit = AuditEntry.objects.get(event="connectivity:quarantine:purge")
    assert "1 open-session registry rows" in audit.reason
    # Nothing is left for a later run to take.
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert json.loads(out)["files"] == []


def test_registry_rows_left_by_an_earlier_file_purge_go_at_the_next_run(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli,
        tmp_path: Path) -> None:
    """Files purged before the registry was purged with them are taken again for it alone."""
    as_role("admin")
    record = ingest(_open_session_log(tmp_path / "detail-open"), "radius-detail", store)
    left = OpenInterval.objects.get(file=record)
    assert cli("retention", "run", "--store", str(store.root))[0] == 0
    left.pk = None  # as an earlier release's purge left it
    left.save()
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert code == 0
    assert [(f["sha256"], f["lines"], f["open_sessions"]) for f in json.loads(out)["files"]] == [
        (record.sha256, 0, 1)]
    assert not OpenInterval.objects.exists()
    assert PurgeRecord.objects.filter(kind="file", file=record).count() == 1  # one per file
    last = AuditEntry.objects.filter(event="connectivity:quarantine:purge").order_by("seq").last()
    assert last is not None
    assert "removed 0 quarantined lines and 1 open-session registry rows" in last.reason


def test_a_hold_keeps_a_files_open_session_registry(
        store: EmbeddedLogStore, as_role: Callable[[str], StaffUser], cli: Cli,
        tmp_path: Path) -> None:
    as_role("custodian")
    record = ingest(_open_session_log(tmp_path / "detail-open"), "radius-detail", store)
    held = place(cli, "alice@example.net", "--kind", "username")
    as_role("admin")
    code, out, _ = cli("retention", "run", "--store", str(store.root), "--json")
    assert code == 0
    assert [(f["sha256"], f["holds"]) for f in json.loads(out)["files"]] == [
        (record.sha256, [held])]
    # The held row still needs its registry entry to be attributed as the open row it is.
    assert OpenInterval.objects.filter(file=record).count() == 1
    assert content(store, "radius-detail")
