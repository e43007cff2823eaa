"""Speed-test results in: the real iperf3 outputs, the CSV, errors, idempotency, the gate.

The iperf3 fixtures are real `iperf3 --json` results (tests/fixtures/speedtests/README.md);
imports run through `import_file` / the CLI on the real database, as the NOC would.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cpniguard.access import Actor
from cpniguard.access.gate import AccessRefused
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.question import Usage
from cpniguard.quality.models import SpeedTest, SpeedTestFile, SpeedTestQuarantine
from cpniguard.quality.speedtest_formats import Measurement, Rejected, parse_csv, parse_iperf3
from cpniguard.quality.speedtests import import_file
from cpniguard.subscribers.models import Subscriber
from tests.quality.conftest import OS_USER

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speedtests"
FORWARD = FIXTURES / "iperf3-3.21-tcp-forward-client.json"
REVERSE = FIXTURES / "iperf3-3.21-tcp-reverse-client.json"
BIDIR = FIXTURES / "iperf3-3.12-tcp-bidir-client.json"
REFUSED = FIXTURES / "iperf3-3.12-connection-refused.json"
SAMPLE_CSV = FIXTURES / "speedtests-sample.csv"
TICKET = "TKT-104233"


def only(items: list[Measurement | Rejected]) -> Measurement:
    assert len(items) == 1, items
    assert isinstance(items[0], Measurement), items
    return items[0]


def last_entry() -> AuditEntry:
    return AuditEntry.objects.order_by("-seq").first()  # type: ignore[return-value]


# ---------------------------------------------------------------- parsers (no database)

def test_a_real_forward_result_is_an_upload_at_its_utc_start() -> None:
    result = only(list(parse_iperf3(FORWARD.read_text())))
    assert result.measured_at == datetime(2026, 9, 26, 20, 14, 20, tzinfo=UTC)
    assert (result.down_mbps, result.up_mbps) == (None, 8.377)  # end.sum_received
    assert result.detail["sent_mbps"] == 8.378                   # end.sum_sent, kept beside
    assert result.server == "127.0.0.1"
    assert result.method == "iperf3"
    assert result.latency_ms == pytest.approx(0.0195, abs=0.001)  # mean_rtt 21 and 18 µs
    assert result.detail["direction"] == "upload"
    assert result.detail["streams"] == 2
    assert result.line == 1


def test_a_real_reverse_result_is_a_download_without_a_latency() -> None:
    result = only(list(parse_iperf3(REVERSE.read_text())))
    assert result.measured_at == datetime(2026, 9, 26, 20, 14, 21, tzinfo=UTC)
    assert (result.down_mbps, result.up_mbps) == (8.38, None)
    assert result.latency_ms is None  # the receiving client measured no RTT (0)
    assert result.detail["direction"] == "download"


def test_a_real_bidirectional_result_gives_both_directions() -> None:
    doc = json.loads(BIDIR.read_text())
    result = only(list(parse_iperf3(BIDIR.read_text())))
    assert result.up_mbps == round(doc["end"]["sum_received"]["bits_per_second"] / 1e6, 3)
    assert result.down_mbps == round(
        doc["end"]["sum_received_bidir_reverse"]["bits_per_second"] / 1e6, 3)
    assert result.detail["direction"] == "both"
    assert result.measured_at == datetime.fromtimestamp(doc["start"]["timestamp"]["timesecs"],
                                                        UTC)


def test_an_iperf3_error_is_rejected_with_its_message_not_read_as_zero() -> None:
    [item] = list(parse_iperf3(REFUSED.read_text()))
    assert isinstance(item, Rejected)
    assert item.line == 1
    assert item.reason == ("iperf3 reported an error: unable to connect to server: "
                           "Connection refused")


def test_documents_appended_to_one_file_each_keep_their_line() -> None:
    forward, reverse = FORWARD.read_text(), REVERSE.read_text()
    text = forward + "Warning: a line iperf3 printed\n" + reverse + '{\n  "start": {\n'
    items = list(parse_iperf3(text))
    warning_line = forward.count("\n") + 1
    reverse_line = warning_line + 1
    assert [(type(i).__name__, i.line) for i in items] == [
        ("Measurement", 1), ("Rejected", warning_line), ("Measurement", reverse_line),
        ("Rejected", reverse_line + reverse.count("\n") + 2)]
    assert items[1].reason == "text outside an iperf3 JSON document"  # type: ignore[union-attr]
    assert items[3].reason.startswith("malformed JSON")  # type: ignore[union-attr]


def test_the_csv_reads_offsets_and_zones_and_refuses_naive_times_by_line() -> None:
    items = list(parse_csv(SAMPLE_CSV.read_text().splitlines(keepends=True)))
    good = [i for i in items if isinstance(i, Measurement)]
    bad = {i.line: i.reason for i in items if isinstance(i, Rejected)}
    assert [(m.line, m.measured_at.isoformat(), m.down_mbps, m.up_mbps) for m in good] == [
        (2, "2026-11-28T20:05:00+00:00", 92.4, 88.1),
        (3, "2026-11-29T02:30:00+00:00", 101.0, 95.2),   # America/Chicago, CST
        (4, "2026-11-29T02:10:00+00:00", 88.7, None),
        (6, "2026-11-28T10:00:00+00:00", 50.0, 20.0)]    # the account is checked on import
    assert sorted(bad) == [5, 7, 8]
    assert "has no offset or zone" in bad[5]
    assert bad[7] == "down_mbps 'fast' is not a number"
    assert bad[8] == "neither down_mbps nor up_mbps is given"


def test_a_csv_without_the_documented_header_is_rejected_at_line_one() -> None:
    [item] = list(parse_csv(["account,when,down\n", "A1000001,x,1\n"]))
    assert isinstance(item, Rejected)
    assert item.line == 1
    assert item.reason.startswith("header lacks measured_at, down_mbps, up_mbps")


# ---------------------------------------------------------------- import through the gate

@pytest.mark.django_db
def test_a_technicians_iperf3_test_is_imported_once_and_audited(
        subscriber: Subscriber, actor_for: Callable[[str], Actor]) -> None:
    result = import_file(actor_for("noc"), FORWARD, "iperf3", account="A1000001",
                         purpose="troubleshooting", reference=TICKET)
    assert (result.imported, result.duplicates, result.quarantined) == (1, 0, 0)
    test = SpeedTest.objects.get()
    assert (test.subscriber_id, test.up_mbps, test.line) == (subscriber.pk, 8.377, 1)
    assert test.file.sha256 == result.sha256
    assert test.file.account == "A1000001"
    entry = last_entry()
    assert (entry.event, entry.outcome, entry.rule, entry.reference) == (
        "quality:speedtests:import", "allowed", "grant:noc-speedtest-ticket", TICKET)
    assert entry.subject == f"subscriber:{subscriber.pk}:speedtest-file:{result.sha256}"
    assert "speed_test.up_mbps" in entry.fields
    again = import_file(actor_for("noc"), FORWARD, "iperf3", account="A1000001",
                        purpose="troubleshooting", reference=TICKET)
    assert again.already_imported
    assert (again.imported, again.duplicates) == (0, 1)
    assert SpeedTest.objects.count() == 1
    assert SpeedTestFile.objects.count() == 1


@pytest.mark.django_db
def test_an_iperf3_error_file_is_quarantined_with_file_line_and_reason(
        subscriber: Subscriber, actor_for: Callable[[str], Actor]) -> None:
    result = import_file(actor_for("noc"), REFUSED, "iperf3", account="A1000001",
                         purpose="troubleshooting", reference=TICKET)
    assert (result.imported, result.quarantined) == (0, 1)
    kept = SpeedTestQuarantine.objects.select_related("file").get()
    assert (kept.file.path, kept.line) == (str(REFUSED), 1)
    assert "Connection refused" in kept.reason
    assert '"error"' in kept.text
    assert not SpeedTest.objects.exists()


@pytest.mark.django_db
def test_usage_errors_come_before_any_decision(actor_for: Callable[[str], Actor]) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(Usage, match="give --account"):
        import_file(actor_for("noc"), FORWARD, "iperf3", purpose="troubleshooting",
                    reference=TICKET)
    with pytest.raises(Usage, match="--account is for iperf3"):
        import_file(actor_for("noc"), SAMPLE_CSV, "csv", account="A1000001",
                    purpose="network_quality")
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_the_cli_imports_a_gzipped_csv_once_and_counts_overlaps_as_duplicates(
        subscriber: Subscriber, as_role: Callable[[str], None], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    as_role("noc")
    packed = tmp_path / "speedtests-20261129.csv.gz"
    packed.write_bytes(gzip.compress(SAMPLE_CSV.read_bytes()))
    assert main(["quality", "speedtest", "import", "--format", "csv", "--json",
                 str(packed)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["imported"], summary["duplicates"], summary["quarantined"]) == (3, 0, 4)
    assert summary["purpose"] == "network_quality"
    reasons = dict(SpeedTestQuarantine.objects.values_list("line", "reason"))
    assert sorted(reasons) == [5, 6, 7, 8]
    assert reasons[6] == "no subscriber with account 'A1000099'"
    assert last_entry().rule == "grant:noc-speedtest-feed"

    assert main(["quality", "speedtest", "import", "--format", "csv", str(packed)]) == 0
    assert "already imported as csv" in capsys.readouterr().out
    # Tomorrow's export repeats today's rows and adds one: only that one is new.
    grown = tmp_path / "speedtests-20261130.csv"
    grown.write_text(SAMPLE_CSV.read_text()
                     + "A1000001,2026-11-30T08:00:00Z,250,240,9,speedtest.example.net,ookla\n")
    assert main(["quality", "speedtest", "import", "--format", "csv", str(grown)]) == 0
    out = capsys.readouterr().out
    assert "1 imported for 1 subscriber(s), 3 duplicates, 4 quarantined" in out
    assert f"quarantined {grown.resolve()}:5: measured_at:" in out
    assert SpeedTest.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "purpose", "reference", "rule"), [
    ("support", "troubleshooting", TICKET, "deny:default"),
    ("billing", "billing", None, "deny:default"),
    ("support", "network_quality", None, "deny:default"),
    ("noc", "troubleshooting", None, "grant:noc-speedtest-ticket:reference-required"),
])
def test_support_and_billing_may_not_import_and_the_refusal_is_audited(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], role: str, purpose: str,
        reference: str | None, rule: str) -> None:
    with pytest.raises(AccessRefused) as refused:
        import_file(actor_for(role), FORWARD, "iperf3", account="A1000001", purpose=purpose,
                    reference=reference)
    assert refused.value.decision.rule == rule
    entry = last_entry()
    assert (entry.event, entry.outcome, entry.role, entry.rule, entry.subject) == (
        "quality:speedtests:import", "refused", role, rule, "account:A1000001")
    assert not SpeedTest.objects.exists()
    assert not SpeedTestFile.objects.exists()


@pytest.mark.django_db
def test_the_cli_refuses_support_with_exit_3_and_an_unknown_account_with_4(
        subscriber: Subscriber, as_role: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    as_role("support")
    assert main(["quality", "speedtest", "import", "--format", "iperf3", "--account",
                 "A1000001", "--reference", TICKET, str(FORWARD)]) == 3
    assert "refused:" in capsys.readouterr().err
    assert last_entry().outcome == "refused"
    StaffUser.objects.filter(os_username=OS_USER).update(role="noc")
    assert main(["quality", "speedtest", "import", "--format", "iperf3", "--account",
                 "A1009999", "--reference", TICKET, str(FORWARD)]) == 4
    assert last_entry().outcome == "not_found"
    assert not SpeedTest.objects.exists()
